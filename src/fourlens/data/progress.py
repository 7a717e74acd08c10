"""Progress for shard maps: shards done, documents and tokens per second (rich), off when not a TTY."""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class ShardProgress:
    def __init__(self, shards: Sequence[str], label: str, enabled: bool = True) -> None:
        self.total = len(shards)
        self.enabled = enabled
        self.documents = 0
        self.tokens = 0
        self._start = time.perf_counter()
        self._progress: Progress | None = None

    def __enter__(self) -> ShardProgress:
        if self.enabled:
            self._progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TextColumn("shards  {task.fields[rate]}"), TimeElapsedColumn(),
                                      transient=True)
            self._progress.start()
            self._task = self._progress.add_task("data", total=self.total, rate="")
        return self

    def advance(self, documents: int, tokens: int) -> None:
        self.documents += documents
        self.tokens += tokens
        if self._progress is not None:
            elapsed = max(time.perf_counter() - self._start, 1e-9)
            rate = f"{self.documents / elapsed:,.0f} docs/s  {self.tokens / elapsed:,.0f} tokens/s"
            self._progress.update(self._task, advance=1, rate=rate)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
