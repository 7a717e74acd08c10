"""Local processes and Ray give the same numbers as a single process."""

import time

import numpy as np
import pytest

from fourlens.data import profile
from fourlens.data.contamination import contamination
from fourlens.data.engines import EngineConfig, map_shards
from fourlens.errors import BadInputError
from tests.data.planted import planted_case


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    return planted_case(tmp_path_factory.mktemp("engines"))


@pytest.fixture(scope="module")
def reference(planted):
    train, evals, _ = planted
    return profile(train, near_duplicates=True, workers=1), contamination(train, evals, workers=1)


def _same_profile(a, b):
    assert a.to_dict() == b.to_dict() and a.token_counts == b.token_counts
    assert np.array_equal(a.doc_hashes, b.doc_hashes) and np.array_equal(a.minhash, b.minhash)


def test_local_processes_match_one_process(planted, reference):
    train, evals, _ = planted
    _same_profile(profile(train, near_duplicates=True, engine="local", workers=2), reference[0])
    report = contamination(train, evals, engine="local", workers=2)
    assert report.items.equals(reference[1].items) and report.boilerplate.equals(reference[1].boilerplate)


@pytest.fixture(scope="module")
def ray_cluster():
    import ray  # in the ray extra (and dev): a missing Ray fails here rather than skipping silently
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    started = time.perf_counter() - start
    yield started
    ray.shutdown()


def test_ray_matches_local(planted, reference, ray_cluster):
    train, evals, _ = planted
    _same_profile(profile(train, near_duplicates=True, engine="ray"), reference[0])
    report = contamination(train, evals, engine="ray")
    assert report.items.equals(reference[1].items) and report.boilerplate.equals(reference[1].boilerplate)


def test_partials_come_back_in_shard_order():
    seen = []
    assert map_shards(str.upper, ["a", "b", "c"], config=EngineConfig("local", 2),
                      on_done=lambda i, r: seen.append(i)) == ["A", "B", "C"]
    assert sorted(seen) == [0, 1, 2]


def test_bad_engine_config():
    with pytest.raises(BadInputError, match="unknown engine 'spark'"):
        EngineConfig("spark")
    with pytest.raises(BadInputError, match="at least 1"):
        EngineConfig("local", 0)
