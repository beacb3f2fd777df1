"""Slips of writing: a right number written wrong (truncated, digits swapped, point moved, minus lost, wrong row).

No changed step of the calculation gives these; they are read from the digits as
written, against the value the student should have written.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from symbackprop.student_sheet import Written
    from symbackprop.wording import Words

POINT_MOVES = (-2, -1, 1, 2)  # powers of ten a decimal point slips by


@dataclass(frozen=True)
class Slip:
    kind: str  # one of mistakes.KINDS
    explanation: str


def truncated(given: Written, value: float) -> bool:
    """`given` is `value` with the digits past its last written decimal cut off (0.5817 for 0.581759)."""
    if given.decimals < 1 or not math.isfinite(value):
        return False
    scale = 10.0**given.decimals
    if not abs(value) * scale < 2**53:  # past a double's whole numbers: no digits there to cut
        return False
    cut = math.trunc(value * scale + math.copysign(1e-6, value)) / scale  # the nudge keeps 0.33 as 0.3300
    return abs(given.value - cut) <= 1e-9 / scale


class Rows:
    """The values of one section of the sheet (exact and as written), to find the row a value was copied from."""

    def __init__(self, values: Mapping[str, float]) -> None:
        ordered = sorted((v, label) for label, v in values.items() if math.isfinite(v))
        self._values = [v for v, _ in ordered]
        self._labels = [label for _, label in ordered]

    def copied(self, value: float, half: float, *, besides: Collection[str]) -> str | None:
        """The label of a row other than `besides` whose value is `value` to within `half`."""
        start = bisect.bisect_left(self._values, value - half * (1 + 1e-9))
        for i in range(start, len(self._values)):
            if self._values[i] > value + half * (1 + 1e-9):
                return None
            if self._labels[i] not in besides:
                return self._labels[i]
        return None


def find(given: Written, value: float, *, say: Words, rows: Rows | None = None, besides: Collection[str] = ()) -> list[Slip]:
    """The slips that turn `value` (what should have been written) into `given`, explained in `say`'s language.

    Args:
        rows: the section's other values, for a value copied from the wrong row; `besides` are the labels of this one.
    """
    if not math.isfinite(value) or given.decimals < 0:
        return []
    half = 0.5 * 10.0**-given.decimals
    meant = f"{value:.{given.decimals}f}"
    if _same(given.value, value, half):
        return []
    found = []
    if truncated(given, value):
        found.append(Slip("truncated", say("truncated", decimals=given.decimals)))
    if abs(value) > 2 * half and _same(given.value, -value, half):
        found.append(Slip("minus_lost", say("minus_lost", given=given.text, meant=meant)))
    if _swapped(given, value):
        found.append(Slip("digits_swapped", say("digits_swapped", given=given.text, meant=meant)))
    if given.value != 0 and any(_same(given.value, value * 10.0**k, half) for k in POINT_MOVES):
        found.append(Slip("decimal_point_moved", say("decimal_point_moved", given=given.text, meant=meant)))
    copied = None if rows is None else rows.copied(given.value, half, besides=besides)
    if copied is not None:
        found.append(Slip("wrong_row", say("wrong_row", row=copied)))
    return found


def _same(given: float, value: float, half: float) -> bool:
    return math.isfinite(value) and abs(given - value) <= half * (1 + 1e-9)


def _swapped(given: Written, value: float) -> bool:
    """Two neighbouring, different digits exchanged, at the precision written: 0.95 for 0.59."""
    written = given.text.lstrip("+-").lower()
    if "e" in written or (given.value < 0) != (value < 0):
        return False
    meant = f"{abs(value):.{given.decimals}f}"
    if len(meant) != len(written):
        return False
    differ = [i for i, (a, b) in enumerate(zip(written, meant)) if a != b]
    return (len(differ) == 2 and differ[1] == differ[0] + 1 and "." not in (written[differ[0]], written[differ[1]])
            and written[differ[0]] == meant[differ[1]] and written[differ[1]] == meant[differ[0]])  # fmt: skip
