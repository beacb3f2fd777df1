"""Errors raised for a user's mistakes.

Policy: every problem with user input (a spec, an answers file, a CSV, a
command-line option) raises a `SymbackpropError` whose message is one line
that says where the problem is and what would be valid. The CLI prints that
line and exits with status 2; nothing else in the package prints or exits.
Programming errors are not wrapped: they surface as ordinary exceptions.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

LISTED = 10  # names shown in a message before "… (N in all)"
SHOWN = 60  # characters of one user-given name or value shown in a message
# C0 and C1 controls, DEL, and the bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069)
_LONG_WORD = re.compile(r"[^\s,;:'()\[\]]{120,}")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class SymbackpropError(Exception):
    """Base class for every error caused by user input."""


def _brief(text: str) -> str:
    """`text` with every very long word (a user's key, name or value of 120+ characters) shortened.

    The key path is kept whole in `where` (it finds the line); only the message is brief.
    """
    return _LONG_WORD.sub(lambda match: shorten(match.group()), text)


class SpecError(SymbackpropError):
    """A network spec is malformed; `where` is its key path, e.g. ``layers[2]``."""

    def __init__(self, where: str, what: str) -> None:
        self.where = where
        self.what = what
        super().__init__(_brief(f"{where}: {what}" if where else what))


class InputFileError(SymbackpropError):
    """A file cannot be read or parsed at all."""


class AnswersError(SymbackpropError):
    """A student's answers file is malformed; `where` is its key path, e.g. ``forward.z9``."""

    def __init__(self, where: str, what: str) -> None:
        self.where = where
        self.what = what
        super().__init__(_brief(f"{where}: {what}" if where else what))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for a close match, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{shorten(close[0])}'?)" if close else ""


def listing(names: Iterable[object], *, limit: int = LISTED) -> str:
    """``"a, b, c"``, or the first `limit` names and a count: ``"a, b, …, j, … (12,345 in all)"``.

    Every list of user-sized length in a message goes through this, so that a network
    of 100,000 parameters still gets a one-line error.
    """
    items = names if isinstance(names, Sequence) else list(names)
    shown = ", ".join(shorten(str(name)) for name in items[:limit])
    return shown if len(items) <= limit else f"{shown}, … ({len(items):,} in all)"


def shorten(text: str, *, limit: int = SHOWN) -> str:
    """`text`, or its first `limit` characters and an ellipsis."""
    return text if len(text) <= limit else text[:limit] + "…"


def printable(text: str, *, keep: str = "", json: bool = False) -> str:
    """`text` with control characters (C0, DEL, C1, bidi overrides) spelled out, e.g. ``\\x1b``.

    A title or name that reaches the terminal raw could recolour it, move the cursor
    or reorder what the reader sees; spelled out, the user sees what was there.

    Args:
        keep: control characters to leave as they are, e.g. ``"\\n\\t"`` for a multi-line report.
        json: spell them as JSON escapes (``\\u001b``), for text that is inside JSON strings.
    """

    def spelled(match: re.Match[str]) -> str:
        char = match.group()
        if char in keep:
            return char
        code = ord(char)
        return f"\\u{code:04x}" if json or code > 0xFF else f"\\x{code:02x}"

    return _CONTROL.sub(spelled, text)


def check_choices(option: str, asked: Sequence[str], valid: Sequence[str], *, what: str) -> None:
    """Refuse a name that is not one of `valid`, or no name at all: one line naming the option and the valid names."""
    for name in asked:
        if name not in valid:
            raise SymbackpropError(f"{option}: unknown {what} '{shorten(name)}'{did_you_mean(name, valid)}; "
                                   f"valid: {', '.join(valid)}")  # fmt: skip
    if not asked:
        raise SymbackpropError(f"{option}: none given; valid: {', '.join(valid)}")
