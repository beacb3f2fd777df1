"""One rule for every number a user gives (spec, answers, CSV cell, command-line option).

A number is an int or float (never a bool) or, for text sources, the text of one,
and it must be finite in double precision: 1e400, 10**400, NaN and ±Infinity are
refused with the place they came from, never turned into an OverflowError or a
silent infinity deep in the computation.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable

from symbackprop.errors import SpecError, shorten

LARGEST = sys.float_info.max
ErrorFactory = Callable[[str, str], Exception]  # (where, what) -> the caller's error type


def finite(value: object, where: str, *, error: ErrorFactory = SpecError, minimum: float | None = None,
           exclusive: bool = False) -> float:  # fmt: skip
    """`value` as a finite float, or raise `error(where, what)`.

    `minimum` (with `exclusive` for a strict bound) refuses smaller values, e.g. a
    learning rate must be > 0.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise error(where, f"must be a number, got {kind(value)}")
    if isinstance(value, int) and abs(value) > LARGEST:
        raise error(where, f"is too large ({_digits(value)} digits); numbers must be below {LARGEST:.3g} in size")
    if math.isnan(value):
        raise error(where, "must be a finite number, got nan")
    if math.isinf(value):  # 1e400 in a file arrives here as inf: say why it is refused
        raise error(where, f"must be a finite number (at most {LARGEST:.3g} in size), got {value}")
    number = float(value)
    if minimum is not None and (number <= minimum if exclusive else number < minimum):
        bound = ("positive" if minimum == 0 else f"greater than {minimum:g}") if exclusive else f"at least {minimum:g}"
        raise error(where, f"must be {bound}, got {number:g}")
    return number


def from_text(text: str, where: str, *, error: ErrorFactory = SpecError, minimum: float | None = None,
              exclusive: bool = False) -> float:  # fmt: skip
    """The finite float a text (a CSV cell, an option's value) spells, or raise `error(where, what)`."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise error(where, f"'{shorten(text.strip())}' is not a number") from None
    if math.isnan(value):
        raise error(where, f"must be a finite number, got {shorten(text.strip())}")
    if math.isinf(value):  # "1e400" as well as "inf": say how large a number may be
        raise error(where, f"must be a finite number (at most {LARGEST:.3g} in size), got {shorten(text.strip())}")
    return finite(value, where, error=error, minimum=minimum, exclusive=exclusive)


def or_null(value: float | None) -> float | None:
    """A diagnostic value for JSON output: the number, or None (null) where none could be computed.

    JSON (RFC 8259) has no Infinity or NaN; results proper never get here non-finite
    (numeric.NumericError stops them), only estimates such as a finite difference.
    """
    return None if value is None or not math.isfinite(value) else float(value)


def kind(value: object) -> str:
    """A user-facing name of a value's type: 'a number', 'a list', …"""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if value is None:
        return "nothing (null)"
    return type(value).__name__


def _digits(value: int) -> int:
    # len(str(n)) is refused for ints past 4300 digits; the bit length bounds the digits closely
    return int(abs(value).bit_length() * math.log10(2)) + 1
