"""Every command's --help reads plainly: no Typer placeholders, and every option says what it does."""

from __future__ import annotations

import re

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from fourlens.cli import app

# Typer's default renderings a user cannot act on: {baseline}, <bool>, <path>, <list[Path]>, <int range>
PLACEHOLDER = re.compile(r"\{[a-z_]+\}|<(?:bool|path|file|directory|int|float|str|text|datetime|[a-z]+ range"
                         r"|list\[[^\]]*\]|tuple\[[^\]]*\])>", re.IGNORECASE)


def _commands(command, path=()):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _commands(sub, (*path, name))


COMMANDS = list(_commands(get_command(app)))


def test_every_command_is_walked():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"triage", "demo", "serve", "evals compare", "data contamination", "training check"} <= names
    assert len(names) > 30


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=lambda p: " ".join(p) or "fourlens")
def test_help_has_no_placeholders_and_every_option_has_help(path):
    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=120)
    assert result.exit_code == 0, result.output
    assert not PLACEHOLDER.findall(result.output), PLACEHOLDER.findall(result.output)
    command = dict(COMMANDS)[path]
    silent = [param.opts[0] for param in command.params
              if param.param_type_name == "option" and not param.hidden and not (param.help or "").strip()]
    assert not silent, f"options without help: {silent}"
