"""The root of every solarb error, and the three classes that tell the caller what to do.

    SolarbError
     ├── Retryable   try again later (after ``retry_after`` seconds when known)
     ├── Rejected    skip this input (opportunity, pool, case), journal why, carry on
     └── Fatal       stop the engine cleanly and tell a person

Each package defines its own leaves, combining ``SolarbError`` subclasses with one of the
classification mix-ins, e.g. ``class DecodeError(DexError, Rejected)``. Foreign exceptions
(httpx, websockets, solders) are translated at the boundary module with ``raise ... from``.
"""

from __future__ import annotations


class SolarbError(Exception):
    """Root of all solarb errors. ``exit_code`` is what the CLI exits with when it reaches a person."""

    exit_code: int = 1


class Retryable(SolarbError):
    """A transient failure: the same call may succeed later."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Rejected(SolarbError):
    """This input cannot be used; skip it, record why, and carry on."""


class Fatal(SolarbError):
    """The engine cannot go on safely: stop, keep the journal, alert."""


class ConfigError(Fatal):
    """The configuration (file, environment or CLI arguments) is invalid."""

    exit_code = 2


class UsageError(Fatal):
    """A command was called with arguments that cannot work (missing file, bad value)."""

    exit_code = 2
