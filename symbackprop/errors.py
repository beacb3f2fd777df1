"""Errors raised for a user's mistakes.

Policy: every problem with user input (a spec, an answers file, a CSV, a
command-line option) raises a `SymbackpropError` whose message is one line
that says where the problem is and what would be valid. The CLI prints that
line and exits with status 2; nothing else in the package prints or exits.
Programming errors are not wrapped: they surface as ordinary exceptions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SymbackpropError(Exception):
    """Base class for every error caused by user input."""


class SpecError(SymbackpropError):
    """A network spec is malformed; `where` is its key path, e.g. ``layers[2]``."""

    def __init__(self, where: str, what: str) -> None:
        self.where = where
        self.what = what
        super().__init__(f"{where}: {what}" if where else what)


class InputFileError(SymbackpropError):
    """A file cannot be read or parsed at all."""


class AnswersError(SymbackpropError):
    """A student's answers file is malformed; `where` is its key path, e.g. ``forward.z9``."""

    def __init__(self, where: str, what: str) -> None:
        self.where = where
        self.what = what
        super().__init__(f"{where}: {what}" if where else what)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for a close match, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
