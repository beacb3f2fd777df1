"""The handout's training section: a run of `train.train`, its loss curve on round ticks, parameters before and after."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from symbackprop import chain, handout_tables, printing, train
from symbackprop.handout_tables import Phrase, Row, Table
from symbackprop.printing import Latex
from symbackprop.spec import Example, Spec

CURVE_POINTS = 200  # the loss curve keeps at most this many epochs; more only thicken the line
CURVE_WIDTH, CURVE_HEIGHT = 12.0, 6.0  # cm


@dataclass(frozen=True)
class TrainingRun:
    """A run of `train.train` and what it was given, for the handout's training section."""

    result: train.TrainResult
    examples: int
    batch_size: int
    seed: int
    learning_rate: float
    start: Mapping[str, float]  # the parameters the run began from
    first: Example  # the data's first example: the worked example when the spec has none
    source: str | None = None  # user text: the data file's name; None for the spec's own data


@dataclass(frozen=True)
class LossCurve:
    """Mean loss per epoch in TikZ coordinates (cm), with round tick values along both axes."""

    width: float
    height: float
    points: tuple[tuple[float, float], ...]
    x_ticks: tuple[tuple[float, Latex], ...]  # (position, label)
    y_ticks: tuple[tuple[float, Latex], ...]


@dataclass(frozen=True)
class Training:
    """The training section: settings, the loss curve, first and final loss, parameters before and after."""

    epochs: int
    batch_size: int
    examples: int
    seed: int
    source: str | None  # user text: the data file's name; None for the spec's own data
    learning_rate: Latex
    curve: LossCurve
    first_loss: Latex
    final_loss: Latex
    parameters: Table




def trained(spec: Spec, data: train.Data, *, epochs: int, batch_size: int, seed: int = 0,
            source: str | None = None) -> TrainingRun:  # fmt: skip
    """Train on `data` (see `train.train`) and keep what the handout's training section says about the run.

    Raises:
        SymbackpropError: epochs or batch size below 1.
    """
    result = train.train(spec, data, epochs=epochs, batch_size=batch_size, seed=seed)
    count = int(data.inputs.shape[0])
    first = Example(tuple(map(float, data.inputs[0])), tuple(map(float, data.targets[0])))
    return TrainingRun(result, count, min(batch_size, count), seed, spec.learning_rate, dict(spec.parameters), first, source)


def section(derivation: chain.Derivation, run: TrainingRun, decimals: int) -> Training:
    network = derivation.network
    number = lambda v: Latex(printing.number(v, decimals=decimals))  # noqa: E731
    history = run.result.loss_history
    by_name = {p.name: p for p in network.parameters}
    rows = tuple(
        Row((Latex(network.latex(by_name[name])), number(run.start[name]), number(run.result.parameters[name])),
            handout_tables.FROZEN if name in network.spec.frozen else None)
        for name in handout_tables.backward_order(derivation)
    )  # fmt: skip
    header = (Phrase("parameter"), Phrase("start"), Phrase("after_epoch", (len(history),)))
    return Training(
        epochs=len(history), batch_size=run.batch_size, examples=run.examples, seed=run.seed, source=run.source,
        learning_rate=number(run.learning_rate), curve=loss_curve(history), first_loss=number(history[0]),
        final_loss=number(history[-1]), parameters=Table(Phrase("before_and_after"), header, rows),
    )  # fmt: skip


def loss_curve(history: Sequence[float], *, width: float = CURVE_WIDTH, height: float = CURVE_HEIGHT,
               points: int = CURVE_POINTS) -> LossCurve:  # fmt: skip
    """Mean loss per epoch (epoch 1 first) placed on axes with round ticks, thinned to at most `points` epochs."""
    epochs = len(history)
    keep = sorted(set(np.linspace(0, epochs - 1, min(points, epochs)).round().astype(int).tolist()))
    x_ticks, x_low, x_high = nice_ticks(0, epochs, whole=True)
    y_ticks, y_low, y_high = nice_ticks(min(history), max(history))
    x = lambda epoch: (epoch - x_low) / (x_high - x_low) * width  # noqa: E731
    y = lambda loss: (loss - y_low) / (y_high - y_low) * height  # noqa: E731
    return LossCurve(
        width, height, tuple((x(i + 1), y(history[i])) for i in keep),
        tuple((x(v), Latex(label)) for v, label in x_ticks), tuple((y(v), Latex(label)) for v, label in y_ticks),
    )  # fmt: skip


def nice_ticks(low: float, high: float, *, count: int = 5,
               whole: bool = False) -> tuple[tuple[tuple[float, str], ...], float, float]:  # fmt: skip
    """About `count` ticks at round values (1, 2 or 5 times a power of ten) that cover [low, high].

    With `whole`, ticks are whole numbers (epochs).

    Returns:
        (value, label) per tick, and the first and last tick value (the axis range).
    """
    if not high > low:  # one epoch, or a loss that does not move: a range around the value
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    rough = (high - low) / (count - 1)
    power = 10.0 ** math.floor(math.log10(rough))
    step = power * next(m for m, below in ((1, 1.5), (2, 3), (5, 7), (10, math.inf)) if rough / power < below)
    step = max(step, 1.0) if whole else step
    places = max(0, -math.floor(math.log10(step) + 1e-9))
    first, last = math.floor(low / step + 1e-9), math.ceil(high / step - 1e-9)
    values = [round(k * step, places + 2) for k in range(first, last + 1)]
    ticks = tuple((v, printing.number(v, decimals=places)) for v in values)
    return ticks, values[0], values[-1]
