"""Every `fourlens` command in the README and docs/*.md names a real command with real options.

The fenced shell blocks are extracted and each `fourlens ...` line is parsed against the CLI itself
(the same Typer tree the `fourlens` command builds): the subcommand must exist, every option it uses
must be one of that command's options, an option that takes a value must be given one, and the
positional arguments must fit. So a renamed option or command fails here instead of in a user's
shell. This test checks what the docs promise the CLI accepts, for every block, without skipping any;
tests/test_docs_run.py also runs the README's examples and checks the output they show."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.main import get_command

from fourlens.cli import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
SHELL = {"", "bash", "sh", "shell", "console"}
INLINE = re.compile(r"`(fourlens [a-z][^`]*)`")   # a command quoted in the prose


def _commands() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for match in FENCE.finditer(text):
            if match.group(1) not in SHELL:
                continue
            line_no = text.count("\n", 0, match.start()) + 1
            body = match.group(2).replace("\\\n", " ")
            for line in body.splitlines():
                line = line.strip()
                if not match.group(1) and not line.startswith("$ "):
                    continue   # an untyped block is printed output; a command in it carries a "$ " prompt
                line = line.removeprefix("$ ")
                if line.startswith("fourlens "):
                    found.append((f"{doc.relative_to(ROOT)}:{line_no}", line.split(" #")[0].strip()))
        prose = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), text)   # same line numbers, no blocks
        for match in INLINE.finditer(prose):
            line_no = prose.count("\n", 0, match.start()) + 1
            found.append((f"{doc.relative_to(ROOT)}:{line_no} (prose)", match.group(1)))
    return found


COMMANDS = _commands()


def test_the_docs_have_commands_to_check():
    assert len(COMMANDS) > 40
    assert {where.split(":")[0] for where, _ in COMMANDS} >= {"README.md", "docs/training.md", "docs/data.md"}


def _resolve(words: list[str]):
    command = get_command(app)
    words = [w for w in words if w != "--debug"]
    while words and hasattr(command, "commands") and words[0] in command.commands:
        command = command.commands[words.pop(0)]
    return command, words


@pytest.mark.parametrize(("where", "line"), COMMANDS, ids=[w for w, _ in COMMANDS])
def test_documented_command_parses(where, line):
    words = shlex.split(line.split(" > ")[0].split(" && ")[0])[1:]
    # synopsis lines ("[--run ID|NAME]", "--channel C [--channel C ...]"): optional parts are still checked
    words = [w.strip("[]") for w in words]
    words = [w for w in words if w]
    command, rest = _resolve(words)
    # a command named in the prose ("`fourlens triage` runs ...") may leave out its arguments, or name
    # a group; its options and their values are still checked
    mention = where.endswith("(prose)")
    if hasattr(command, "commands"):
        assert mention, f"{where}: `{line}` names no command (a group: {command.name})"
        return
    options = {opt: param for param in command.params if param.param_type_name == "option"
               for opt in (*param.opts, *param.secondary_opts)}
    arguments = [param for param in command.params if param.param_type_name == "argument"]
    positional = []
    i = 0
    while i < len(rest):
        word = rest[i]
        if word in ("...", "|"):   # "repeat" and "or" in a synopsis
            pass
        elif word.startswith("-") and word != "-":
            name, _, inline = word.partition("=")
            assert name in options or name == "--help", f"{where}: `{line}` uses {name}, not an option of it"
            param = options.get(name)
            if param is not None and not param.is_flag and not inline:
                assert i + param.nargs < len(rest), f"{where}: `{line}`: {name} needs {param.nargs} value(s)"
                i += max(param.nargs, 1)
        else:
            positional.append(word)
        i += 1
    variadic = any(param.nargs == -1 for param in arguments)
    required = sum(1 for param in arguments if param.required)
    assert mention or len(positional) >= required or "--help" in rest, f"{where}: `{line}` lacks arguments"
    assert variadic or len(positional) <= len(arguments) or mention, \
        f"{where}: `{line}` has extra arguments {positional}"
    assert "../shared" not in line, f"{where}: `{line}` reads ../shared, which a clone does not have"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_docs_use_no_files_a_clone_lacks(doc):
    text = doc.read_text(encoding="utf-8")
    assert "../shared" not in text, f"{doc.name} points at ../shared, which is not part of the repository"
