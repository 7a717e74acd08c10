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


def load_torch_file(path, trust_pickle: bool = False, mmap: bool = False) -> object:
    """`torch.load` a checkpoint on the CPU without unpickling arbitrary objects unless `trust_pickle`.

    `weights_only=True` rebuilds only tensors, containers and primitive types, so an untrusted file
    cannot run code. A file that needs more is refused with fourlens's own advice (`OptionAdviceError`
    naming `--trust-pickle`), never torch's text that suggests turning the protection off; torch's
    UserWarnings (deprecated storages, mmap notes) are kept out of the user's terminal. A damaged file
    is a `BadInputError` naming the file."""
    import pickle
    import warnings

    import torch

    from fourlens.errors import BadInputError, OptionAdviceError

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning)
            warnings.filterwarnings("ignore", category=FutureWarning)
            return torch.load(path, map_location="cpu", weights_only=not trust_pickle, mmap=mmap)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if trust_pickle or ("weights_only" not in text.lower() and "unsupported global" not in text.lower()):
            raise BadInputError(f"{path}: not a readable PyTorch checkpoint ({_first_line(exc)}); the file is "
                                "corrupt, truncated or not a torch.save file") from None
        raise OptionAdviceError(
            f"{path}: the checkpoint stores Python objects besides tensors ({_refused_global(text)}), which "
            "fourlens does not unpickle by default because unpickling can run code",
            option="trust_pickle", flag="--trust-pickle", purpose="if you trust the file",
            alternative="re-save only its state_dict as safetensors") from None
    except (AttributeError, ModuleNotFoundError, ImportError) as exc:  # trusted, but its classes are not importable
        raise BadInputError(f"{path}: the checkpoint refers to Python code that is not importable here "
                            f"({_first_line(exc)}); run fourlens where that code is installed, or re-save "
                            "only its state_dict as safetensors") from None
    except Exception as exc:  # noqa: BLE001 - a damaged file makes torch.load raise almost any type
        raise BadInputError(f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: "
                            f"{_first_line(exc)}); the file is corrupt, truncated or not a torch.save file; "
                            "re-save or re-download it") from None


def _refused_global(text: str) -> str:
    """What torch's weights-only unpickler refused, from its message, in a few words."""
    import re

    found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
    if found:
        return f"it refers to {found.group(1)}"
    found = re.search(r"WeightsUnpickler error: ([^.\n]+)", text)
    return found.group(1).strip() if found else "objects torch's safe loader does not rebuild"


def _first_line(exc: BaseException) -> str:
    import re

    lines = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
