"""The project's exception hierarchy.

Every error the product raises on purpose derives from :class:`IvrError`, so
callers (the CLI, the web layer) can tell an expected, explained failure from
a bug and show its message as it is.
"""

from __future__ import annotations


class IvrError(Exception):
    """Root of every error this project raises on purpose."""


class ConfigError(IvrError):
    """Raised at start-up when the configuration cannot work; says how to fix it."""


class FlowError(IvrError):
    """Raised when a flow file cannot be loaded; carries every problem found.

    Attributes:
        problems: the individual findings, each with file, line, column.
    """

    def __init__(self, problems: list["Problem"]):
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems))


class Problem:
    """One finding in a flow file, printed as ``file:line:col: message``."""

    __slots__ = ("file", "line", "col", "message", "severity", "code")

    def __init__(self, file: str, line: int, col: int, message: str,
                 severity: str = "error", code: str = "") -> None:
        self.file = file
        self.line = line
        self.col = col
        self.message = message
        self.severity = severity
        self.code = code

    def format(self) -> str:
        sev = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.file}:{self.line}:{self.col}: {sev}{self.message}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "col": self.col,
                "message": self.message, "severity": self.severity, "code": self.code}

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"Problem({self.format()!r})"


class HookError(IvrError):
    """Raised by a hook runner when a named hook fails or is not registered."""


class StoreError(IvrError):
    """Raised when the session or record store cannot be reached or written."""


class StoreUnavailable(StoreError):
    """Raised when the store did not answer within its deadline (``IVR_STORE_TIMEOUT``) or is gone.

    Covers a locked SQLite file, a deleted SQLite database, a PostgreSQL or Redis
    server that refuses, drops or never answers, and calls made while the store's
    circuit breaker is open after such a failure (they fail at once, so that the
    caller's apology and transfer are not delayed by a second full timeout).
    The message says what to check.
    """


class StoreConflict(StoreError):
    """Raised by ``Store.save(..., expected_version=N)`` when the stored version is not N.

    Another turn of the same call (a concurrent request or an earlier attempt
    of a retried webhook) saved first; nothing of this save was written, so the
    caller reloads the state and answers from it instead of applying its input
    a second time.
    """


class SpeechError(IvrError):
    """Raised when a recogniser cannot be loaded or fed (missing model, bad audio)."""


class PromptError(IvrError):
    """Raised when prompt audio cannot be rendered or converted."""
