"""A progress bar for long loops (attribution methods, feature visualization, dataset search) that
appears only when it is worth looking at.

The bar is drawn (rich, on stderr) only when `progress` is true and the loop has already run for
`delay` seconds, so short runs print nothing. When stderr is not a terminal (a CI log, a pipe), a long
loop writes a plain line instead, at most every `LINE_EVERY_S` seconds ("training: 120/400 (30%),
41 s"): a log shows that work goes on without filling up with redraws. With `progress=False` nothing
is imported or timed: the loop runs untouched.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
DELAY_S = 3.0
LINE_EVERY_S = 15.0


class Bar:
    """`advance(k)` after each unit of work; drawn lazily (see module docs); a context manager."""

    def __init__(self, total: int | None, description: str, progress: bool = True, delay: float = DELAY_S) -> None:
        self.on = bool(progress)
        self.terminal = self.on and _is_tty()
        self.total, self.description, self.delay = total, description, delay
        self.done = 0
        self._bar = self._task = None
        self._start = time.perf_counter() if self.on else 0.0
        self._last_line = self._start

    def advance(self, k: int = 1) -> None:
        if not self.on:
            return
        self.done += k
        if not self.terminal:
            self._plain_line()
            return
        if self._bar is None:
            if time.perf_counter() - self._start < self.delay or (self.total is not None and self.done >= self.total):
                return
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(stderr=True), transient=True)
            self._task = self._bar.add_task(self.description, total=self.total)
            self._bar.start()
        self._bar.update(self._task, completed=self.done)

    def _plain_line(self) -> None:
        now = time.perf_counter()
        if now - self._start < self.delay or now - self._last_line < LINE_EVERY_S:
            return
        self._last_line = now
        share = f"/{self.total} ({100 * self.done / self.total:.0f}%)" if self.total else ""
        print(f"{self.description}: {self.done}{share}, {now - self._start:.0f} s", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def shown(items: Iterable[T], total: int | None, description: str, progress: bool = True,
          delay: float = DELAY_S) -> Iterator[T]:
    """Yield `items`, drawing a transient bar once `delay` seconds have passed (see module docs)."""
    if not progress:
        yield from items
        return
    with Bar(total, description, progress, delay) as bar:
        for item in items:
            yield item
            bar.advance()


def _is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return False


@contextmanager
def steps_bar(total: int, description: str, progress: bool = True) -> Iterator[Callable[..., None]]:
    """`with steps_bar(n, "visualizing", progress) as advance:` for loops that are not iterables
    (optimization steps); the same drawing rules as `Bar`."""
    with Bar(total, description, progress) as bar:
        yield bar.advance
