"""A browser context that lets a page reach only the addresses a test allows, and keeps what else the
page tried to fetch and the script errors it raised, for the test to assert on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Guarded:
    context: Any
    page: Any
    refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def guarded_page(browser: Any, allowed: Sequence[str], width: int = 1280, height: int = 900) -> Guarded:
    """A new page whose requests go through only when their URL starts with one of `allowed`."""
    context = browser.new_context(viewport={"width": width, "height": height})
    guarded = Guarded(context=context, page=None)

    def guard(route: Any) -> None:
        if route.request.url.startswith(tuple(allowed)):
            route.continue_()
        else:
            guarded.refused.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    guarded.page = context.new_page()
    guarded.page.on("pageerror", lambda exc: guarded.errors.append(str(exc)))
    return guarded
