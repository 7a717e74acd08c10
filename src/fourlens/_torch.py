"""Small torch helpers shared across lenses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run the block with `count` intra-op threads, then restore the process-wide setting.

    Tiny models train faster on one thread than on several that mostly wait on each other (most of
    all on a busy machine, where a second thread waits for a core)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
