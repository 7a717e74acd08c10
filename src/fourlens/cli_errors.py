"""How every CLI command reports user errors: one message, exit code 2; --debug adds the traceback.

Lens command groups decorate their commands with `user_errors` too, so all of `fourlens` behaves alike.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from fourlens.errors import FourlensError

DEBUG = {"enabled": False}  # set by the top-level --debug option
err_console = Console(stderr=True)


def user_errors(command: Callable[..., None]) -> Callable[..., None]:
    """Decorator for Typer commands: a FourlensError prints `error: <message>` and exits 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            command(*args, **kwargs)
        except FourlensError as exc:
            _fail(str(exc))
        except OSError as exc:
            # Writing an output can still fail after the up-front checks (a full disk, a folder whose
            # permissions changed mid-run): one line naming the file, not a traceback.
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(f"{where}{exc.strerror or exc}; check the path and its folder's permissions and free space")

    return wrapper


def _fail(message: str) -> None:
    if DEBUG["enabled"]:  # the traceback too, but the same exit code: --debug must not change what CI sees
        err_console.print_exception()
    # soft_wrap: keep long paths on one line so they can be copied and grepped
    err_console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    raise typer.Exit(code=2) from None
