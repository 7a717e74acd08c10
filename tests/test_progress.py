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

    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal: nothing, whatever `progress` says
    assert list(shown(range(5), 5, "work", progress=True, delay=0.0)) == list(range(5))
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
