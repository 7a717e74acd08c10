"""Long work in the background, one job at a time, with progress the pages poll (`/api/jobs/<id>`).

Two worker threads: one long job (fitting a scaling law, a first triage) does not hold up every other
page, and more would only make the analyses, which use the machine's cores already, slow each other
down. A job asked for again while it is queued or running is the same job (keyed by
what it computes). A job that fails keeps its one-line message for the page; the traceback goes to
the server's log only with --debug.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from fourlens.errors import FourlensError

MAX_KEPT = 200
WORKERS = 2


@dataclass
class Job:
    """What the pages show: state queued/running/done/failed, `done` of `total` steps, the current step."""

    id: str
    key: str
    description: str
    state: str = "queued"
    done: int = 0
    total: int | None = None
    message: str = ""
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None

    def to_dict(self) -> dict:
        share = None if not self.total else min(1.0, self.done / self.total)
        return {"id": self.id, "description": self.description, "state": self.state, "done": self.done,
                "total": self.total, "fraction": share, "message": self.message, "error": self.error,
                "elapsed_s": round((self.finished or time.time()) - self.created, 2)}


class Progress:
    """Handed to a job's function: `plan(total)`, then `step(message)` after each unit of work."""

    def __init__(self, job: Job) -> None:
        self._job = job

    def plan(self, total: int) -> None:
        self._job.total = max(int(total), 0)
        self._job.done = 0

    def add(self, extra: int) -> None:
        """More units than planned (found while working, e.g. the probes of a bisection)."""
        self._job.total = (self._job.total or 0) + max(int(extra), 0)

    def say(self, message: str) -> None:
        self._job.message = message

    def step(self, message: str = "") -> None:
        self._job.done += 1
        if message:
            self._job.message = message


class Jobs:
    """A queue of background jobs; `inline=True` runs each job at submission (tests, benchmarks)."""

    def __init__(self, inline: bool = False, debug: bool = False) -> None:
        self.inline = inline
        self.debug = debug
        self._jobs: dict[str, Job] = {}
        self._by_key: dict[str, Job] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pool = None if inline else ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="fourlens-job")

    def submit(self, key: str, description: str, work: Callable[[Progress], Any]) -> Job:
        """The job computing `key`: a queued or running one if there is, else a new one."""
        with self._lock:
            current = self._by_key.get(key)
            if current is not None and current.state in ("queued", "running"):
                return current
            job = Job(id=f"j{next(self._ids)}", key=key, description=description)
            self._jobs[job.id] = job
            self._by_key[key] = job
            self._forget_old()
        if self._pool is None:
            self._run(job, work)
        else:
            self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    def failure(self, key: str) -> Job | None:
        """The last job for `key` if it failed (shown instead of starting the same failure again)."""
        job = self._by_key.get(key)
        return job if job is not None and job.state == "failed" else None

    def retry(self, key: str) -> None:
        with self._lock:
            job = self._by_key.get(key)
            if job is not None and job.state == "failed":
                del self._by_key[key]

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: Job, work: Callable[[Progress], Any]) -> None:
        job.state = "running"
        try:
            work(Progress(job))
        except FourlensError as exc:
            job.error = str(exc)
            job.state = "failed"
        except Exception as exc:  # a job must never take the server down; the page shows one line
            job.error = f"{type(exc).__name__}: {exc}"
            job.state = "failed"
            if self.debug:
                traceback.print_exc(file=sys.stderr)
        else:
            job.state = "done"
            if job.total:
                job.done = job.total
        finally:
            job.finished = time.time()

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state in ("done", "failed")]
        for job in sorted(finished, key=lambda j: j.created)[:max(0, len(self._jobs) - MAX_KEPT)]:
            self._jobs.pop(job.id, None)
            if self._by_key.get(job.key) is job:
                del self._by_key[job.key]
