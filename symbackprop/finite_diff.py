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
    near_kink: bool = False  # the stencil crosses a ReLU corner, so the difference is not a derivative


@dataclass(frozen=True)
class GradCheck:
    rows: tuple[Row, ...]

    @property
    def max_relative_error(self) -> float:
        """The largest error among rows whose stencil stays off every kink."""
        return max((r.relative_error for r in self.rows if not r.near_kink), default=0.0)

    @property
    def near_kink(self) -> list[str]:
        return [r.name for r in self.rows if r.near_kink]

    @property
    def ok(self) -> bool:
        return self.max_relative_error < TOLERANCE


def relative_error(a: float, b: float) -> float:
    """|a − b| / max(|a|, |b|), with gradients below ABSOLUTE_FLOOR treated as zero-sized."""
    return abs(a - b) / max(abs(a), abs(b), ABSOLUTE_FLOOR)


def finite_difference(evaluator: Evaluator, examples: Sequence[Example], parameters: Mapping[str, float],
                      name: str) -> tuple[float, bool]:  # fmt: skip
    """∂(mean loss)/∂name by the central 4-point stencil, and whether the stencil crosses a kink."""
    h = STEP * max(1.0, abs(parameters[name]))
    losses, signs = [], []
    for offset in (2 * h, h, -h, -2 * h, 0.0):
        loss, kinked = evaluator.losses_and_kinks(examples, {**parameters, name: parameters[name] + offset})
        losses.append(float(np.mean(loss)))
        signs.append(np.sign(kinked))
    crosses = any(np.any(s != signs[-1]) for s in signs[:-1])
    up2, up1, down1, down2, _ = losses
    return (8 * (up1 - down1) - (up2 - down2)) / (12 * h), crosses


def gradcheck(evaluator: Evaluator, examples: Sequence[Example], parameters: Mapping[str, float],
              gradients: Mapping[str, float], *, names: Sequence[str] | None = None) -> GradCheck:  # fmt: skip
    """Compare each gradient (or those in `names`) with its finite-difference estimate."""
    rows = []
    for name in names if names is not None else gradients:
        numeric, crosses = finite_difference(evaluator, examples, parameters, name)
        rows.append(Row(name, gradients[name], numeric, relative_error(gradients[name], numeric), crosses))
    return GradCheck(tuple(rows))
