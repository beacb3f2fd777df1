"""Central finite differences of the compiled loss, compared with the chain-rule gradients."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from symbackprop.numeric import Evaluator
from symbackprop.spec import Example

TOLERANCE = 1e-6
STEP = 1e-4  # relative step; the 4-point stencil's error is O(step⁴)
ABSOLUTE_FLOOR = 1e-8  # below this size a gradient counts as zero for the relative error


@dataclass(frozen=True)
class Row:
    """One parameter's chain-rule value, finite-difference value and their relative error."""

    name: str
    chain_rule: float
    finite_difference: float
    relative_error: float


@dataclass(frozen=True)
class GradCheck:
    rows: tuple[Row, ...]

    @property
    def max_relative_error(self) -> float:
        return max((r.relative_error for r in self.rows), default=0.0)

    @property
    def ok(self) -> bool:
        return self.max_relative_error < TOLERANCE


def relative_error(a: float, b: float) -> float:
    """|a − b| / max(|a|, |b|), with gradients below ABSOLUTE_FLOOR treated as zero-sized."""
    return abs(a - b) / max(abs(a), abs(b), ABSOLUTE_FLOOR)


def finite_difference(evaluator: Evaluator, examples: Sequence[Example], parameters: Mapping[str, float],
                      name: str) -> float:  # fmt: skip
    """∂(mean loss)/∂name by the central 4-point stencil."""
    h = STEP * max(1.0, abs(parameters[name]))

    def loss_at(offset: float) -> float:
        shifted = {**parameters, name: parameters[name] + offset}
        return float(np.mean(evaluator.losses(examples, shifted)))

    return (8 * (loss_at(h) - loss_at(-h)) - (loss_at(2 * h) - loss_at(-2 * h))) / (12 * h)


def gradcheck(evaluator: Evaluator, examples: Sequence[Example], parameters: Mapping[str, float],
              gradients: Mapping[str, float], *, names: Sequence[str] | None = None) -> GradCheck:  # fmt: skip
    """Compare each gradient (or those in `names`) with its finite-difference estimate."""
    rows = []
    for name in names if names is not None else gradients:
        numeric = finite_difference(evaluator, examples, parameters, name)
        rows.append(Row(name, gradients[name], numeric, relative_error(gradients[name], numeric)))
    return GradCheck(tuple(rows))
