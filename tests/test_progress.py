"""The shared progress bar (`fourlens._progress`): drawn only on a terminal, only when asked, only for
runs that last."""

from __future__ import annotations

import io
import sys

from fourlens._progress import Bar, shown, steps_bar


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_and_only_when_asked(monkeypatch):
    monkeypatch.setattr(sys, "stderr", FakeTerminal())
    assert list(shown(range(5), 5, "work", progress=True, delay=0.0)) == list(range(5))
    assert "work" in sys.stderr.getvalue()  # drawn: a terminal, and past the (zero) delay

    monkeypatch.setattr(sys, "stderr", FakeTerminal())
    assert list(shown(range(5), 5, "work", progress=False, delay=0.0)) == list(range(5))
    with Bar(5, "work", progress=False, delay=0.0) as bar:
        bar.advance(5)
    assert sys.stderr.getvalue() == "" and not bar.on

    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal and a short run: nothing
    assert list(shown(range(5), 5, "work", progress=True)) == list(range(5))
    assert sys.stderr.getvalue() == ""

    monkeypatch.setattr(sys, "stderr", FakeTerminal())  # a short run stays silent (default delay)
    assert list(shown(range(5), 5, "work")) == list(range(5))
    assert sys.stderr.getvalue() == ""


def test_steps_bar_advances_like_the_iterable_form(monkeypatch):
    monkeypatch.setattr(sys, "stderr", FakeTerminal())
    with steps_bar(3, "steps", progress=True) as advance:
        for _ in range(3):
            advance()
    assert sys.stderr.getvalue() == ""   # three quick steps: under the delay, nothing drawn


def test_a_long_loop_writes_plain_lines_when_stderr_is_not_a_terminal(monkeypatch):
    import fourlens._progress as progress_module

    clock = iter(float(t) for t in range(0, 1000, 10))    # each call 10 s later
    monkeypatch.setattr(progress_module.time, "perf_counter", lambda: next(clock))
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with Bar(8, "training", progress=True) as bar:
        for _ in range(8):
            bar.advance()
    lines = sys.stderr.getvalue().splitlines()
    assert lines and all(line.startswith("training: ") and "/8 (" in line for line in lines)
    assert "\x1b" not in sys.stderr.getvalue()         # plain text, no terminal redraws
    assert len(lines) < 8                             # at most one line per LINE_EVERY_S, not one per step
