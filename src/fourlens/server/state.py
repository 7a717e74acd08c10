"""The dashboard's state: the runs directory, the cache and the background jobs, and the cached pieces
every page is built from (a checkpoint's metrics, the report of two checkpoints, their eval items).

Each piece is computed by a fourlens public function and cached under the fingerprints of the bundles
it read; a page asks for a `view`, which is either ready (cached) or a job to wait for.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from fourlens.errors import BadInputError
from fourlens.report import Report
from fourlens.runs import Checkpoint, RunsDirectory, checkpoint_metrics
from fourlens.server.jobs import Job, Jobs, Progress
from fourlens.server.store import Store, cache_key


class NotFoundError(BadInputError):
    """A checkpoint id (or another name in a URL) that the dashboard does not serve: HTTP 404."""


class ConflictError(BadInputError):
    """A request that cannot be answered in the runs directory's current state (e.g. one checkpoint): 409."""


@dataclass(frozen=True)
class Outcome:
    """A view's state: "ready" with its value, "pending" with the job computing it, or "failed"."""

    status: str
    value: Any = None
    job: Job | None = None

    @property
    def error(self) -> str | None:
        return self.job.error if self.job is not None and self.status == "failed" else None


class Dashboard:
    """Everything the routes need; no route touches the filesystem except through this object."""

    def __init__(self, runs: RunsDirectory, store: Store | None = None, jobs: Jobs | None = None,
                 pinned: str | None = None) -> None:
        self.runs = runs
        self.store = store or Store.default()
        self.jobs = jobs or Jobs()
        self.pinned = pinned
        self._flights: dict[str, threading.Lock] = {}
        self._flights_lock = threading.Lock()

    @contextlib.contextmanager
    def _once(self, key: str) -> Iterator[None]:
        """One computation per key at a time: a second job wanting the same piece (two pages needing the
        same report) waits for the first and then reads its result from the cache."""
        with self._flights_lock:
            lock = self._flights.setdefault(key, threading.Lock())
        with lock:
            yield

    # --- which checkpoints -------------------------------------------------------------------------
    def checkpoints(self) -> tuple[Checkpoint, ...]:
        return self.runs.checkpoints()

    def loaded(self) -> tuple[Checkpoint, ...]:
        return self.runs.loaded()

    def checkpoint(self, checkpoint_id: str) -> Checkpoint:
        """The loaded checkpoint with this id, or a NotFoundError naming the ids there are."""
        found = self.runs.get(checkpoint_id)
        if found is None:
            known = ", ".join(c.id for c in self.checkpoints()[-8:]) or "none yet"
            raise NotFoundError(f"no checkpoint {checkpoint_id!r} in this runs directory (latest: {known})")
        if not found.ok:
            raise ConflictError(f"checkpoint {checkpoint_id!r} could not be loaded: {found.error}")
        return found

    def pair(self, baseline: str | None, candidate: str | None) -> tuple[Checkpoint, Checkpoint]:
        """(baseline, candidate): the candidate defaults to the latest checkpoint; the baseline to the
        pinned one, else the checkpoint before the candidate."""
        loaded = self.loaded()
        if len(loaded) < 2:
            problem = self.runs.problem()
            raise ConflictError(problem or f"only one checkpoint ({loaded[0].id}) so far; comparisons need two")
        cand = self.checkpoint(candidate) if candidate else loaded[-1]
        if baseline:
            base = self.checkpoint(baseline)
        elif self.pinned and getattr(self.runs.get(self.pinned), "ok", False) and self.pinned != cand.id:
            base = self.checkpoint(self.pinned)   # a pinned checkpoint that stopped loading is passed over
        else:
            position = loaded.index(cand)
            base = loaded[position - 1] if position > 0 else loaded[1]
        if base.id == cand.id:
            raise BadInputError(f"baseline and candidate are both {cand.id!r}; pick two different checkpoints")
        return base, cand

    def index(self, checkpoint: Checkpoint) -> int:
        """The checkpoint's position among the loaded ones (it may have gone since the request began)."""
        for i, found in enumerate(self.loaded()):
            if found.id == checkpoint.id:
                return i
        raise ConflictError(f"checkpoint {checkpoint.id!r} is no longer in the runs directory; reload the page")

    # --- views ---------------------------------------------------------------------------------------
    def view(self, name: str, parts: tuple, build: Callable[[Progress], Any], description: str = "") -> Outcome:
        """The cached value of `name` for `parts`, else the job computing it (`build(progress)`)."""
        key = cache_key("view", name, *parts)
        value = self.store.get(key)
        if value is not None:
            return Outcome("ready", value)
        failed = self.jobs.failure(key)
        if failed is not None:
            return Outcome("failed", job=failed)
        job = self.jobs.submit(key, description or name, lambda progress: self.store.put(key, build(progress)))
        value = self.store.get(key)
        if value is not None:   # computed inline (tests, benchmarks) or finished already
            return Outcome("ready", value)
        return Outcome("failed", job=job) if job.state == "failed" else Outcome("pending", job=job)

    def retry(self, name: str, parts: tuple) -> None:
        self.jobs.retry(cache_key("view", name, *parts))

    # --- cached pieces (called inside jobs) ------------------------------------------------------------
    def metrics(self, checkpoint: Checkpoint) -> dict:
        """`fourlens.runs.checkpoint_metrics` of one checkpoint, cached per bundle content."""
        key = cache_key("metrics", checkpoint.fingerprint, checkpoint.step)
        with self._once(key):
            cached = self.store.get(key)
            if cached is not None:
                return cached
            return self.store.put(key, checkpoint_metrics(checkpoint.bundle, float(checkpoint.step or 0)))

    def has_metrics(self, checkpoint: Checkpoint) -> bool:
        return self.store.get(cache_key("metrics", checkpoint.fingerprint, checkpoint.step)) is not None

    def report(self, base: Checkpoint, cand: Checkpoint, progress: Progress | None = None,
               lens: str | None = None) -> Report:
        """`fourlens.triage.triage` of two checkpoints (every lens, or those of one DESIGN.md lens)."""
        key = cache_key("report", base.fingerprint, cand.fingerprint, lens)
        with self._once(key):
            cached = self.store.get(key)
            if cached is not None:
                return Report.from_dict(cached)
            from fourlens.triage import available_lenses, triage

            specs = [spec for spec in available_lenses() if lens is None or spec.lens == lens]
            report = triage(base.bundle, cand.bundle, lenses=_tracked(specs, base, cand, progress))
            self.store.put(key, report.to_dict())
            return report

    def has_report(self, base: Checkpoint, cand: Checkpoint, lens: str | None = None) -> bool:
        return self.store.get(cache_key("report", base.fingerprint, cand.fingerprint, lens)) is not None

    def evals(self, checkpoint: Checkpoint) -> Any:
        """The checkpoint's `EvalResults` (memory cache), or None when it has no eval results."""
        if not checkpoint.bundle.has("evals"):
            return None
        from fourlens.behavior import load_evals

        paths = checkpoint.bundle.paths("evals")
        return self.cached_object(("evals", checkpoint.fingerprint), lambda: load_evals(paths))

    def comparison(self, base: Checkpoint, cand: Checkpoint) -> Any:
        """`fourlens.behavior.compare` of the two checkpoints' eval items, with the candidate's
        [options.behavior] (as triage uses them); None without eval results on both sides."""
        evals_a, evals_b = self.evals(base), self.evals(cand)
        if evals_a is None or evals_b is None:
            return None
        from fourlens.behavior import compare

        options = cand.bundle.lens_options("behavior")
        return self.cached_object(("comparison", base.fingerprint, cand.fingerprint), lambda: compare(
            evals_a, evals_b, alpha=float(options.get("alpha", 0.05)),
            common_items=bool(options.get("common_items", False)), test=str(options.get("test", "permutation"))))

    def cached_object(self, parts: tuple, build: Callable[[], Any]) -> Any:
        """Any in-memory object (a loaded model, a trace table) keyed by `parts`."""
        key = cache_key("object", *parts)
        with self._once(key):
            found = self.store.get_object(key)
            return found if found is not None else self.store.put_object(key, build())


def _tracked(specs: list, base: Checkpoint, cand: Checkpoint, progress: Progress | None) -> list:
    """The lens specs, each reporting to `progress` when it starts and ends (the runner calls only the
    lenses with evidence in both bundles, so only those are planned)."""
    if progress is None:
        return specs
    runnable = [s for s in specs if any(base.bundle.has(k) and cand.bundle.has(k) for k in s.evidence)]
    progress.add(len(runnable))

    def wrap(spec: Any) -> Any:
        def diagnose(baseline: Any, candidate: Any) -> Any:
            progress.say(f"{cand.id} vs {base.id}: {spec.name} lens")
            try:
                return spec.resolve()(baseline, candidate)
            finally:
                progress.step()
        return dataclasses.replace(spec, diagnose=diagnose)

    return [wrap(spec) for spec in specs]
