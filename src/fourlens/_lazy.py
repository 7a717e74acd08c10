"""Lazy re-exports for the lens packages (PEP 562), so `fourlens --help` does not import torch,
pandas and scipy for every lens it lists: a name is imported from its module on first use."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping, Sequence


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]]
                 ) -> tuple[list[str], Callable[[str], object], Callable[[], list[str]]]:
    """`__all__`, `__getattr__` and `__dir__` for `package`, whose public names live in its submodules.

    `exports` maps a submodule (relative, e.g. ".compare") to the names it provides."""
    where = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    sys.modules[package].__class__ = _package_class(package, where)
    return sorted(where), __getattr__, __dir__


def _package_class(package: str, where: Mapping[str, str]) -> type[types.ModuleType]:
    """Importing a submodule binds it on its package (`fourlens.weights.compare` = the module). Where a
    submodule shares its name with an exported function (`compare`), the eager `from .x import name`
    re-exports rebound the name to the function; keep that meaning by not letting such a submodule
    bind."""

    def __setattr__(self: types.ModuleType, name: str, value: object) -> None:
        if isinstance(value, types.ModuleType) and value.__name__ == f"{package}.{name}" and name in where:
            return
        types.ModuleType.__setattr__(self, name, value)

    return type("LazyPackage", (types.ModuleType,), {"__setattr__": __setattr__})
