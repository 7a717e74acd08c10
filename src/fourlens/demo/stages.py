"""Progress for the demo's stages: a bar for the stage in progress, and one line per finished stage with
its duration (the bar is drawn only on a terminal; the lines are always printed)."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console


class StageLog:
    """`log(description, total)` starts a stage (ending the previous one) and returns `advance(k)`;
    `log.close()` ends the last one. `durations` keeps (description, seconds) of finished stages."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.durations: list[tuple[str, float]] = []
        self._current: tuple[str, float] | None = None
        self._bar = None
        self._task = None

    def __call__(self, description: str, total: int) -> Callable[[int], None]:
        self.close()
        self._current = (description, time.perf_counter())
        if self.console.is_terminal:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=self.console, transient=True)
            self._task = self._bar.add_task(description, total=total)
            self._bar.start()

        def advance(k: int = 1) -> None:
            if self._bar is not None:
                self._bar.advance(self._task, k)

        return advance

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
        if self._current is not None:
            description, started = self._current
            seconds = time.perf_counter() - started
            self.durations.append((description, seconds))
            self.console.print(f"[green]done[/green] {description} ({seconds:.0f} s)", highlight=False)
            self._current = None
