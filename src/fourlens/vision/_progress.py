"""A rich progress bar over optimization steps, or nothing: `with steps_bar(total, text, on) as advance`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def steps_bar(total: int, description: str, enabled: bool) -> Iterator[Callable[[], None]]:
    """Yields `advance()`; with `enabled` it moves a bar on stderr (the CLI turns it on for a TTY only)."""
    if not enabled:
        yield lambda: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda: bar.advance(task)
