"""Engines: run a function over shards and return the partials in shard order.

Every data statistic is `map(shard -> small partial)` followed by an ordered merge, so the engine only
decides where the map runs: `local` (a pool of processes on this machine; one process runs inline) or
`ray` (tasks on a Ray cluster: `address=None` starts a local instance, or pass "auto"/"ray://...").
Partials come back in shard order whatever the engine, so merges, and therefore results, are identical.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from fourlens._io import input_warnings
from fourlens.errors import BadInputError, InputWarning, require

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class EngineConfig:
    """`engine`: local or ray; `workers`: processes / Ray CPUs to use (None: all cores, capped by shards);
    `address`: the Ray cluster to join (None starts a local Ray instance)."""

    engine: str = "local"
    workers: int | None = None
    address: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise BadInputError(f"unknown engine {self.engine!r}; use one of {', '.join(ENGINES)}")
        if self.workers is not None and self.workers < 1:
            raise BadInputError(f"workers must be at least 1; got {self.workers}")


def map_shards(fn: Callable[..., Any], shards: Sequence[str], args: tuple = (), config: EngineConfig | None = None,
               on_done: Callable[[int, Any], None] | None = None) -> list[Any]:
    """`[fn(shard, *args) for shard in shards]`, run by the configured engine; `on_done(i, partial)` is
    called as each shard finishes (progress bars)."""
    config = config or EngineConfig()
    if config.engine == "ray":
        return _map_ray(fn, shards, args, config, on_done)
    workers = min(config.workers or os.cpu_count() or 1, len(shards))
    results: list[Any] = [None] * len(shards)
    if workers <= 1:
        for i, shard in enumerate(shards):
            results[i] = fn(shard, *args)
            if on_done:
                on_done(i, results[i])
        return results
    # The shared arguments (an eval index can be tens of MB) go to each worker once, not with every shard.
    with ProcessPoolExecutor(max_workers=workers, initializer=_set_shared, initargs=(fn, args)) as pool:
        futures = {pool.submit(_call_shared, shard): i for i, shard in enumerate(shards)}
        from concurrent.futures import as_completed

        for future in as_completed(futures):
            i = futures[future]
            results[i], messages = future.result()
            for message in messages:   # damage a worker read around is reported here, where the caller listens
                warnings.warn(InputWarning(message), stacklevel=1)
            if on_done:
                on_done(i, results[i])
    return results


_SHARED: dict[str, Any] = {}


def _set_shared(fn: Callable[..., Any], args: tuple) -> None:
    _SHARED["fn"], _SHARED["args"] = fn, args


def _call_shared(shard: str) -> tuple[Any, list[str]]:
    with input_warnings() as messages:
        result = _SHARED["fn"](shard, *_SHARED["args"])
    return result, messages


def _map_ray(fn: Callable[..., Any], shards: Sequence[str], args: tuple, config: EngineConfig,
             on_done: Callable[[int, Any], None] | None) -> list[Any]:
    ray = require("ray", "ray", "the Ray engine (--engine ray)")
    started_here = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if config.address:
            kwargs["address"] = config.address
        elif config.workers:
            kwargs["num_cpus"] = config.workers
        ray.init(**kwargs)
        started_here = True
    try:
        remote = ray.remote(num_cpus=1)(fn)
        shared = [ray.put(a) for a in args]  # big arguments (an eval index) are shipped once, not per task
        refs = [remote.remote(shard, *shared) for shard in shards]
        index = {ref: i for i, ref in enumerate(refs)}
        results: list[Any] = [None] * len(shards)
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                i = index[ref]
                results[i] = ray.get(ref)
                if on_done:
                    on_done(i, results[i])
        return results
    finally:
        if started_here:
            ray.shutdown()
