"""Plain `--help`: metavars a user can read (`PATH`, `INTEGER`, `[a|b]`, `BASELINE`) instead of the
placeholders Typer renders by default (`<path>`, `<list[str]>`, `{baseline}`, `<bool>` beside flags).

The root command group (`PlainGroup`) rewrites every parameter of the whole command tree once, when
Typer builds it, so each lens's commands get the same help without changing how they declare options."""

from __future__ import annotations

import inspect
import re
from typing import Any, get_args, get_origin

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

NAMES = {int: "INTEGER", float: "FLOAT", str: "TEXT", bool: "BOOLEAN"}


def plain_type(param: Any) -> str:
    """The metavar click would show: INTEGER, FLOAT, TEXT, PATH, or the choices as [a|b] (a range, e.g.
    [x>=1], is shown apart by Typer; a repeatable option's help says it repeats)."""
    desc = param.type_descriptor
    if desc.is_choice:
        return "[" + "|".join(str(getattr(choice, "value", choice)) for choice in desc.choices or ()) + "]"
    if desc.is_path:
        return "PATH"
    annotation = desc.annotation
    if get_origin(annotation) in (list, tuple):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        annotation = args[0] if args else str
    return NAMES.get(annotation, getattr(annotation, "__name__", "VALUE").upper())


class PlainArgument(TyperArgument):
    def display_type(self, ctx: Any) -> str:
        return plain_type(self)

    def _usage_display_name(self) -> str:
        name = (self.metavar or self.name or "").upper()
        name = name if self.required else f"[{name}]"
        return name + ("..." if self.nargs != 1 else "")


class PlainOption(TyperOption):
    def display_type(self, ctx: Any) -> str:
        return plain_type(self)

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None   # a flag takes no value: show none
        return self.metavar if self.metavar is not None else plain_type(self)


def _plain(param: Any) -> Any:
    if type(param) is TyperArgument:
        param.__class__ = PlainArgument
    elif type(param) is TyperOption:
        param.__class__ = PlainOption
    return param


class PlainCommand(TyperCommand):
    def get_help_option(self, ctx: Any) -> Any:
        return _plain(super().get_help_option(ctx))


class PlainSubgroup(TyperGroup):
    def get_help_option(self, ctx: Any) -> Any:
        return _plain(super().get_help_option(ctx))


def unwrap(text: str) -> str:
    """A docstring's paragraphs as single lines (the terminal wraps them); lists and indented lines stay."""
    lines = inspect.cleandoc(text).split("\n")
    out: list[str] = []
    for line in lines:
        keeps_break = not line.strip() or line[:1].isspace() or re.match(r"\s*([-*]|\d+[.)])\s", line)
        if out and out[-1].strip() and not keeps_break:
            out[-1] = f"{out[-1]} {line.strip()}"
        else:
            out.append(line)
    return "\n".join(out)


def plain_help(command: Any) -> None:
    """Give `command`, its parameters (`--help` included) and its subcommands the plain help rendering."""
    if command.help:
        command.help = unwrap(command.help)
    for param in command.params:
        _plain(param)
    if type(command) is TyperCommand:
        command.__class__ = PlainCommand
    elif type(command) is TyperGroup:
        command.__class__ = PlainSubgroup
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)


class PlainGroup(TyperGroup):
    """The root group: its whole command tree renders plain help (see the module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        plain_help(self)

    def get_help_option(self, ctx: Any) -> Any:
        return _plain(super().get_help_option(ctx))
