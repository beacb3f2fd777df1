"""Finite differences of the compiled loss, compared with the chain-rule gradients.

Each parameter's derivative is estimated by Ridders' method: central differences
with a step that starts at FIRST_STEP × max(|p|, 1) and halves level by level,
extrapolated by Richardson's rule (the error of a central difference is a series
in h²). The tableau also estimates its own error, from how much neighbouring
extrapolations disagree; that estimate, or the rounding error of differencing the
loss (about ε·|L|/h) when larger, is the uncertainty of the estimate. A gradient
agrees when it is within TOLERANCE of the estimate, relative to the larger of the
two values and of the uncertainty scaled by SAFETY / TOLERANCE: so a gradient far
below the loss's rounding level is not failed for noise, and any gradient above
it is still compared to a relative 1e-6.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from symbackprop.spec import Example

TOLERANCE = 1e-6  # relative error allowed beyond the estimate's own uncertainty
FIRST_STEP = 1e-2  # the first step, relative to max(|parameter|, 1)
LEVELS = 16  # steps at most, each half the last: down to FIRST_STEP / 32768
ORDERS = 4  # extrapolate up to the h⁸ term, from the last four steps only: big first steps drop out
CONVERGED = 1e-4  # an estimate this close is not given up for a first sign of rounding
RESOLVED = 1e-11  # stop halving once the uncertainty is this small relative to the estimate
SAFETY = 10.0  # the uncertainty is itself an estimate
ROUNDING = 4.0  # rounding error of one loss evaluation, in units of ε·|L|
MAX_CHECKED = 64  # parameters compared by default; a wider network has a sample of this many checked
ABSOLUTE_FLOOR = 1e-8  # default floor of `relative_error`: below it a value counts as zero-sized


class Evaluator(Protocol):
    """What finite differences need of an evaluator (numeric.Evaluator, vector.VectorEvaluator)."""

    def loss_along(self, examples: Sequence[Example], parameters: Mapping[str, float],
                   name: str) -> Callable[[float], tuple[np.ndarray, np.ndarray]]:  # fmt: skip
        """Loss per example and the z of each ReLU-like neuron, as functions of parameter `name`'s value."""


@dataclass(frozen=True)
class Row:
    """One parameter's chain-rule value, finite-difference value and their relative error."""

    name: str
    chain_rule: float
    finite_difference: float
    relative_error: float
    near_kink: bool = False  # the stencil crosses a ReLU corner, so the difference is not a derivative
    uncertainty: float = 0.0  # estimated error of `finite_difference`


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


@dataclass(frozen=True)
class Estimate:
    """A finite-difference derivative, its estimated error, and whether every step crossed a kink."""

    value: float
    uncertainty: float
    near_kink: bool


def relative_error(a: float, b: float, *, floor: float = ABSOLUTE_FLOOR) -> float:
    """|a − b| / max(|a|, |b|, floor): values below `floor` count as `floor`-sized."""
    scale = max(abs(a), abs(b), floor)
    return abs(a - b) / scale if scale > 0 else 0.0


def finite_difference(evaluator: Evaluator, examples: Sequence[Example], parameters: Mapping[str, float],
                      name: str) -> Estimate:  # fmt: skip
    """∂(mean loss)/∂name by Ridders' extrapolation of central differences.

    A step whose points fall on another side of a kink (a ReLU's z = 0) than the
    parameter's own value, or where the loss is not finite, starts the tableau
    afresh at the next smaller step; `near_kink` is set when no two steps in a row
    stay on the parameter's side.
    """
    value = float(parameters[name])
    along = evaluator.loss_along(examples, parameters, name)  # the other parameters stay put: set up once

    def loss(offset: float) -> tuple[float, np.ndarray]:
        with np.errstate(all="ignore"):
            losses, kinks = along(value + offset)
        return float(np.mean(losses)), np.sign(kinks)

    centre, side = loss(0.0)
    noise = ROUNDING * float(np.finfo(float).eps) * abs(centre)
    h = FIRST_STEP * max(abs(value), 1.0)
    best = Estimate(math.nan, math.inf, near_kink=False)
    tableau: list[float] = []  # the last row of the Richardson tableau
    crossed = False
    for _ in range(LEVELS):
        (up, up_side), (down, down_side) = loss(h), loss(-h)
        difference = (up - down) / (2 * h)
        kinked = bool(np.any(up_side != side) or np.any(down_side != side))
        if kinked or not math.isfinite(difference):
            crossed = crossed or kinked
            tableau = []
            if best.uncertainty == math.inf and not math.isnan(difference):  # the plain difference, for the record
                best = Estimate(difference, math.inf, near_kink=crossed)
            h /= 2
            continue
        row = [difference]
        for j, previous in enumerate(tableau[: ORDERS - 1], start=1):
            row.append(row[-1] + (row[-1] - previous) / (4**j - 1))
        rounding = 2 * noise / h  # the extrapolation amplifies the rounding of a difference at most twofold
        for j in range(1, len(row)):
            error = max(abs(row[j] - row[j - 1]), abs(row[j] - tableau[j - 1]), rounding)
            if error <= best.uncertainty:
                best = Estimate(row[j], error, near_kink=False)
        if best.uncertainty <= max(rounding, RESOLVED * abs(best.value)):
            break  # smaller steps only add rounding error
        converged = best.uncertainty <= CONVERGED * abs(best.value)
        if converged and len(row) > 2 and abs(row[-1] - tableau[-1]) >= 2 * best.uncertainty:
            break  # the extrapolations start to part: rounding has taken over
        tableau = row
        h /= 2
    if best.uncertainty == math.inf:
        return Estimate(best.value, math.inf, near_kink=crossed)
    return best


def sample(names: Sequence[str], *, limit: int = MAX_CHECKED) -> list[str]:
    """All of `names`, or `limit` of them spread evenly over the network, first and last included.

    Each estimate evaluates the whole network several times, so checking every
    parameter of a wide network would cost time in the square of its size.
    """
    if len(names) <= limit:
        return list(names)
    picks = np.unique(np.linspace(0, len(names) - 1, limit).round().astype(int))
    return [names[i] for i in picks]


def gradcheck(evaluator: Evaluator, examples: Sequence[Example], parameters: Mapping[str, float],
              gradients: Mapping[str, float], *, names: Sequence[str] | None = None) -> GradCheck:  # fmt: skip
    """Compare each gradient with its finite-difference estimate: those in `names`, by default `sample(gradients)`."""
    rows = []
    for name in names if names is not None else sample(list(gradients)):
        estimate = finite_difference(evaluator, examples, parameters, name)
        rows.append(compare(name, gradients[name], estimate))
    return GradCheck(tuple(rows))


def compare(name: str, gradient: float, estimate: Estimate) -> Row:
    """The row of one parameter: its relative error, relative to the estimate's uncertainty when larger."""
    if estimate.uncertainty == math.inf:  # no usable step: a kink at every step, or no finite loss
        error = 0.0 if estimate.near_kink else math.inf
    else:
        error = relative_error(gradient, estimate.value, floor=SAFETY * estimate.uncertainty / TOLERANCE)
    return Row(name, float(gradient), float(estimate.value), float(error), estimate.near_kink, float(estimate.uncertainty))
