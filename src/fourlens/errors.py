"""The errors fourlens raises on purpose.

Every error a user can cause (a missing file, a corrupt log, a wrong shape) is a `FourlensError`
whose message says what was expected, what came, and how to fix it. The CLI prints that message
without a traceback and exits with code 2 (`--debug` shows the traceback).
"""

from __future__ import annotations


class FourlensError(Exception):
    """Base class of every error fourlens raises deliberately."""


class BadInputError(FourlensError, ValueError):
    """An input (file, directory, argument, tensor) is missing, malformed or inconsistent."""


class InputWarning(UserWarning):
    """Damage in an input that fourlens read around (a truncated last line, a skipped record); the
    message names the file and what was dropped. The CLI prints it as one `warning:` line."""


class MissingDependencyError(FourlensError, ImportError):
    """An optional dependency is not installed; the message names the extra that provides it."""

    def __init__(self, package: str, extra: str, feature: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{feature} needs the optional package '{package}', which is not installed. "
            f"Install it with: pip install 'fourlens[{extra}]'"
        )


def require(module: str, extra: str, feature: str):  # -> ModuleType
    """Import an optional module or raise `MissingDependencyError` naming the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module.split(".")[0], extra, feature) from exc


class OptionAdviceError(BadInputError):
    """A refusal that one option would lift (unpickling a checkpoint, pairing only the common items, ...).

    The same option is spelled three ways: a keyword argument in Python (`option`), a flag of the lens's
    own command (`flag`, e.g. "--trust-pickle" or "--text-field FIELD"), and a key of the lens's table in
    a bundle's fourlens.toml (`option` = `value`, a TOML literal). The message names the flag;
    `in_manifest(section)` gives the same message for `triage`, whose options live in fourlens.toml."""

    def __init__(self, problem: str, *, option: str, flag: str, purpose: str, value: str = "true",
                 alternative: str = "") -> None:
        self.problem, self.option, self.flag, self.purpose = problem, option, flag, purpose
        self.value, self.alternative = value, alternative
        super().__init__(f"{problem}; {purpose}, pass {flag} (`{option}` in Python){self._or()}")

    def in_manifest(self, section: str) -> str:
        """The message with the fix spelled as the fourlens.toml option of `[options.<section>]`."""
        return (f"{self.problem}; {self.purpose}, set {self.option} = {self.value} under [options.{section}] "
                f"in the candidate bundle's fourlens.toml{self._or()}")

    def _or(self) -> str:
        return f", or {self.alternative}" if self.alternative else ""


def message_for_manifest(exc: BaseException, section: str) -> str:
    """`str(exc)`, with an `OptionAdviceError`'s fix spelled as the fourlens.toml option (for triage)."""
    return exc.in_manifest(section) if isinstance(exc, OptionAdviceError) else str(exc)
