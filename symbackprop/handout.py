"""The content of a derivation handout: every equation and table, built from the derivation and its numbers.

A `Document` holds LaTeX fragments from the printer (`printing.Latex`) and plain
user text (titles), arranged as the templates lay them out; `render` turns it
into a .tex file or a PDF. Values are computed in full precision by `numeric`
and only rounded here, for display.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from symbackprop import chain, finite_diff, graph, handout_batch, handout_output, numeric, ops, printing, train
from symbackprop.errors import SymbackpropError, did_you_mean
from symbackprop.printing import Latex
from symbackprop.spec import Example, Spec

MODES = ("worked", "exercise", "solutions")
PAPERS = ("a4", "letter")
FONT_SIZES = (10, 11, 12)
MAX_PARAMETERS = 2_000  # a handout's tables grow faster than its network: 2,000 parameters take seconds, 10,000 minutes
FULL_LIMIT = 12  # networks with more parameters write one weight per layer in full, unless --param says
WORKED_EXAMPLES = 3  # a batch shows the substituted numbers of its first examples, the rest in tables
TABLE_COLUMNS = 6  # examples per table
FIGURE_MAX_NEURONS = 24
EDGE_LABEL_MAX = 24  # above this many weights the figure names no edges
INLINE_FAN_IN = 5  # wider sums are shown symbolically only, their numbers in the tables
LISTED_PATHS, LISTED_FACTORS = 8, 7  # longer chain-rule sums do not fit a line; the δ form stands for them
WIDE_LAYER = 4  # a layer with more neurons shows its first neuron in full, the rest in a table
CURVE_POINTS = 200  # the loss curve keeps at most this many epochs; more only thicken the line
CURVE_WIDTH, CURVE_HEIGHT = 12.0, 6.0  # cm


@dataclass(frozen=True)
class Step:
    """One quantity as a hand calculation writes it: symbols, numbers substituted, value."""

    number: int
    lhs: Latex
    symbolic: Latex
    substituted: Latex | None
    value: Latex


@dataclass(frozen=True)
class Node:
    id: str
    x: float
    y: float
    label: Latex
    note: Latex | None  # the bias under a neuron
    highlighted: bool = False


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: Latex | None
    highlighted: bool = False


@dataclass(frozen=True)
class Figure:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    outputs: tuple[str, ...]  # ids of the output neurons, which feed the loss
    loss_x: float
    loss_y: float
    loss_highlighted: bool = False


@dataclass(frozen=True)
class Derivative:
    """∂L/∂(something) written out: Leibniz paths, local factors, δ form, numbers, value.

    A single example gives one chain of numbers (`substituted`, `values`, `value`).
    A batch gives a δ one numbered line per example (`examples`) and a gradient the
    mean over the examples (`mean`); `number` is then None, the lines carry the numbers.
    """

    number: int | None
    name: str
    lhs: Latex
    paths: tuple[Latex, ...] | None  # one line per chain-rule path; None when too many
    path_count: int
    path_expressions: tuple[Latex, ...] | None
    path_values: tuple[Latex, ...] | None  # each local factor's value (single example only)
    delta_form: Latex | None
    substituted: tuple[Latex, ...]  # per worked example
    values: tuple[Latex, ...]  # per worked example
    mean: handout_batch.Mean | None  # a batch gradient: the mean written out
    value: Latex
    frozen: bool
    figure: Figure | None
    examples: tuple[handout_batch.ExampleLine, ...] = ()  # a batch δ: one line per worked example
    simplified: Latex | None = None  # an output δ that simplifies to ŷ − t
    why: str | None = None  # which cancellation simplifies it (handout_output.CANCELLING); the template says why


@dataclass(frozen=True)
class Row:
    cells: tuple[Latex, ...]
    note: str = ""


@dataclass(frozen=True)
class Table:
    caption: str
    header: tuple[Latex, ...]
    rows: tuple[Row, ...]


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
    source: str = "the spec's data"  # user text: where the examples came from


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
    source: str
    learning_rate: Latex
    curve: LossCurve
    first_loss: Latex
    final_loss: Latex
    parameters: Table


@dataclass(frozen=True)
class GradientCheck:
    """The gradient check section: the table and its verdict."""

    table: Table
    ok: bool
    max_relative_error: Latex


@dataclass(frozen=True)
class Document:
    """Everything a handout template needs; `title` is user text, the rest is LaTeX."""

    title: str
    mode: str
    architecture: str
    notation: tuple[tuple[str, Latex], ...]
    figure: Figure | None
    batch_size: int
    data: tuple[Latex, ...]  # inputs and targets, one line per example
    worked: int  # examples shown with numbers substituted
    forward: tuple[tuple[int, tuple[Step, ...]], ...]  # (example number, steps) for worked examples
    forward_table: Table | None
    losses: tuple[Step, ...]
    mean_loss: Step | None
    deltas: tuple[Derivative, ...]
    gradients: tuple[Derivative, ...]
    gradient_tables: tuple[Table, ...]  # the parameters not written in full, grouped by layer
    learning_rate: Latex
    updates: Table
    check: GradientCheck | None  # None with --no-check
    training: Training | None = None
    paper: str = "a4"
    font_size: int = 11


def build(derivation: chain.Derivation, *, mode: str = "worked", decimals: int = 6,
          params: Sequence[str] | None = None, examples: Sequence[Example] | None = None,
          parameters: Mapping[str, float] | None = None, title: str | None = None,
          training: TrainingRun | None = None, gradient_check: bool = True, paper: str = "a4",
          font_size: int = 11) -> Document:  # fmt: skip
    """Compute the numbers and lay out every equation of the handout.

    Args:
        mode: worked (everything), exercise (questions, blanks) or solutions (the key).
        decimals: digits after the point in displayed numbers.
        params: the parameters to write out in full (default: all of a small network).
        examples, parameters, title: override the spec's (variants use this).
        training: a training run (see `trained`) to add a section with its loss curve.
        gradient_check: end with the gradient check against finite differences (--no-check leaves it out).
        paper, font_size: a4 or letter, 10, 11 or 12 (points).

    Raises:
        SymbackpropError: unknown mode or parameter, or a spec without numbers.
    """
    network = derivation.network
    spec = network.spec
    if mode not in MODES:
        raise SymbackpropError(f"--mode: unknown mode '{mode}'{did_you_mean(mode, MODES)}; valid: {', '.join(MODES)}")
    if not 0 <= decimals <= 12:
        raise SymbackpropError(f"--decimals: must be a whole number from 0 to 12, got {decimals}")
    if paper not in PAPERS:
        raise SymbackpropError(f"--paper: unknown size '{paper}'{did_you_mean(paper, PAPERS)}; valid: {', '.join(PAPERS)}")
    if font_size not in FONT_SIZES:
        raise SymbackpropError(f"--font-size: must be one of 10, 11, 12, got {font_size}")
    if len(derivation.gradients) > MAX_PARAMETERS:
        raise SymbackpropError(f"handout: {len(derivation.gradients):,} parameters is more than the {MAX_PARAMETERS:,} "
                               "a handout writes out (--max-parameters N raises it; derive --form vector shows whole layers)")  # fmt: skip
    examples = tuple(spec.examples if examples is None else examples)
    if not examples and training is not None:
        examples = (training.first,)  # a spec without examples works through the training data's first one
    parameters = dict(spec.parameters if parameters is None else parameters)
    if not examples:
        raise SymbackpropError("inputs: missing; a handout needs inputs and targets (or data) to compute numbers")
    full = _full_parameters(derivation, params)

    evaluator = numeric.Evaluator(derivation)
    solution = evaluator.solve(examples, parameters, learning_rate=spec.learning_rate, frozen=spec.frozen)
    check = finite_diff.gradcheck(evaluator, examples, parameters, solution.gradients) if gradient_check else None
    values = _values(derivation, examples, parameters, solution)
    worked = min(len(examples), WORKED_EXAMPLES)
    layout = _Layout(derivation, decimals, values[:worked], batch=len(examples) > 1)
    order = backward_order(derivation)

    # built in page order, so that question numbers increase down the pages
    forward = tuple((i + 1, layout.forward_steps(i)) for i in range(worked))
    losses = tuple(layout.loss_step(i, solution.losses[i]) for i in range(worked))
    mean_loss = layout.mean_loss(solution) if len(examples) > 1 else None
    deltas = tuple(layout.delta(symbol, handout_output.simplified(derivation, delta, examples))
                   for symbol, delta in derivation.deltas.items()
                   if len(network.layers[delta.neuron.layer - 1]) <= WIDE_LAYER or delta.neuron.index == 0)  # fmt: skip
    wide = max(spec.layers[1:]) > WIDE_LAYER
    gradients = tuple(layout.gradient(name, solution) for name in order if name in full)
    number = lambda v: Latex(printing.number(v, decimals=decimals))  # noqa: E731
    return Document(
        title=spec.title if title is None else title,
        mode=mode,
        architecture=_architecture(spec),
        notation=_notation(derivation),
        figure=_figure(derivation, parameters, decimals, highlight=None),
        batch_size=len(examples),
        data=tuple(_data_line(network, e, decimals) for e in examples),
        worked=worked,
        forward=forward,
        forward_table=_forward_table(derivation, solution, decimals) if len(examples) > 1 or wide else None,
        losses=losses,
        mean_loss=mean_loss,
        deltas=deltas,
        gradients=gradients,
        gradient_tables=_gradient_tables(derivation, solution, full, decimals),
        learning_rate=number(spec.learning_rate),
        updates=_update_table(derivation, parameters, solution, decimals, order),
        check=None if check is None else GradientCheck(
            _check_table(derivation, check, decimals, order), check.ok, _scientific(check.max_relative_error)),
        training=None if training is None else _training(derivation, training, decimals),
        paper=paper,
        font_size=font_size,
    )


def backward_order(derivation: chain.Derivation) -> list[str]:
    """Parameter names in the order backpropagation reaches them: output layer first, then each layer before it.

    Within a layer the network's order is kept (w31, w32, b3).
    """
    gradients = derivation.gradients
    layer = {name: max((o.neuron.layer for o in g.occurrences), default=0) for name, g in gradients.items()}
    return sorted(gradients, key=lambda name: -layer[name])


def trained(spec: Spec, data: train.Data, *, epochs: int, batch_size: int, seed: int = 0,
            source: str = "the spec's data") -> TrainingRun:  # fmt: skip
    """Train on `data` (see `train.train`) and keep what the handout's training section says about the run.

    Raises:
        SymbackpropError: epochs or batch size below 1.
    """
    result = train.train(spec, data, epochs=epochs, batch_size=batch_size, seed=seed)
    count = int(data.inputs.shape[0])
    first = Example(tuple(map(float, data.inputs[0])), tuple(map(float, data.targets[0])))
    return TrainingRun(result, count, min(batch_size, count), seed, spec.learning_rate, dict(spec.parameters), first, source)


def _training(derivation: chain.Derivation, run: TrainingRun, decimals: int) -> Training:
    network = derivation.network
    number = lambda v: Latex(printing.number(v, decimals=decimals))  # noqa: E731
    history = run.result.loss_history
    by_name = {p.name: p for p in network.parameters}
    rows = tuple(
        Row((Latex(network.latex(by_name[name])), number(run.start[name]), number(run.result.parameters[name])),
            "frozen" if name in network.spec.frozen else "")
        for name in backward_order(derivation)
    )  # fmt: skip
    header = (Latex(r"\text{parameter}"), Latex(r"\text{start}"), Latex(rf"\text{{after epoch {len(history)}}}"))
    return Training(
        epochs=len(history), batch_size=run.batch_size, examples=run.examples, seed=run.seed, source=run.source,
        learning_rate=number(run.learning_rate), curve=loss_curve(history), first_loss=number(history[0]),
        final_loss=number(history[-1]), parameters=Table("Parameters before and after training", header, rows),
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


def _full_parameters(derivation: chain.Derivation, params: Sequence[str] | None) -> list[str]:
    names = list(derivation.gradients)
    for name in params or []:
        if name not in names:
            raise SymbackpropError(f"--param: no parameter named '{name}'{did_you_mean(name, names)}; parameters: {', '.join(names)}")
    if params:
        return list(dict.fromkeys(params))
    if len(names) <= FULL_LIMIT:
        return names
    # one weight per layer shows the pattern; the tables give every value
    return [layer[0].weights[0].name for layer in derivation.network.layers]


def _values(derivation: chain.Derivation, examples: Sequence[Example], parameters: Mapping[str, float],
            solution: numeric.Solution) -> list[dict[sympy.Symbol, float]]:  # fmt: skip
    network = derivation.network
    per_example = []
    for i, example in enumerate(examples):
        values = {p: float(parameters[p.name]) for p in network.parameters}
        values.update(zip(network.inputs, example.inputs))
        values.update(zip(network.targets, example.targets))
        for neuron in network.neurons:
            values[neuron.z] = float(solution.forward[neuron.z.name][i])
            values[neuron.a] = float(solution.forward[neuron.a.name][i])
            values[neuron.delta] = float(solution.deltas[neuron.delta.name][i])
        values[network.loss_symbol] = float(solution.losses[i])
        per_example.append(values)
    return per_example


class _Layout:
    """Equation builders for one derivation, its worked examples' values and a display precision."""

    def __init__(self, derivation: chain.Derivation, decimals: int, values: list[dict[sympy.Symbol, float]], *,
                 batch: bool) -> None:  # fmt: skip
        self.derivation = derivation
        self.network = derivation.network
        self.decimals = decimals
        self.values = values
        self.batch = batch
        self.count = 0  # question numbers, in the order the handout asks them

    def _next(self) -> int:
        self.count += 1
        return self.count

    def tex(self, expr: sympy.Expr, example: int | None = None) -> Latex:
        values = None if example is None else self.values[example]
        return printing.latex(expr, self.network, values=values, decimals=self.decimals)

    def names(self, example: int) -> graph.Network:
        """The network as example `example` (0-based) names its values: marked L^{(1)}, z_1^{(1)} in a batch."""
        return handout_batch.indexed(self.network, example + 1) if self.batch else self.network

    def named(self, expr: sympy.Expr, example: int) -> Latex:
        """`expr` in symbols, with example `example`'s names."""
        return printing.latex(expr, self.names(example), decimals=self.decimals)

    def number(self, value: float) -> Latex:
        return Latex(printing.number(value, decimals=self.decimals))

    def evaluate(self, expr: sympy.Expr, example: int) -> float:
        numbers = {s: sympy.Float(v) for s, v in self.values[example].items()}
        return float(ops.to_standard_sympy(expr).xreplace(numbers).evalf())

    def forward_steps(self, example: int) -> tuple[Step, ...]:
        """z then a of each neuron; a wide layer shows its first neuron, the table has the rest."""
        steps = []
        network = self.network
        for layer in network.layers:
            shown = layer if len(layer) <= WIDE_LAYER else layer[:1]
            for neuron in shown:
                definition = network.z_definition(neuron)
                numbers = self.tex(definition, example)
                symbolic = self.named(definition, example)
                if len(neuron.weights) > INLINE_FAN_IN:
                    terms = [w * a for w, a in zip(neuron.weights, network.sources(neuron.layer))]
                    symbolic = printing.elided_sum(terms + ([neuron.bias] if neuron.bias is not None else []),
                                                   self.names(example))
                    numbers = None
                steps.append(Step(self._next(), self.named(neuron.z, example), symbolic, numbers,
                                  self.number(self.values[example][neuron.z])))  # fmt: skip
            for neuron in shown:
                definition = network.a_definition(neuron)
                # σ(0.33): the activation of the number just computed
                numbers = None if len(layer) > INLINE_FAN_IN else self.tex(definition, example)
                steps.append(Step(self._next(), self.named(neuron.a, example), self.named(definition, example), numbers,
                                  self.number(self.values[example][neuron.a])))  # fmt: skip
        return tuple(steps)

    def loss_step(self, example: int, loss: float) -> Step:
        network = self.network
        return Step(self._next(), self.named(network.loss_symbol, example), self.named(network.loss, example),
                    self.tex(network.loss, example), self.number(loss))  # fmt: skip

    def mean_loss(self, solution: numeric.Solution) -> Step:
        count = len(solution.losses)
        terms = printing.signed_sum(solution.losses[:TABLE_COLUMNS], decimals=self.decimals)
        if count > TABLE_COLUMNS:
            terms += r" + \dots"
        symbolic = Latex(rf"\frac{{1}}{{{count}}} \sum_{{n=1}}^{{{count}}} L^{{(n)}}")
        return Step(self._next(), Latex(handout_batch.MEAN_LOSS_NAME), symbolic, Latex(rf"\frac{{1}}{{{count}}}\left({terms}\right)"),
                    self.number(solution.loss))  # fmt: skip

    def _path_values(self, chains: Sequence[chain.Chain]) -> tuple[Latex, ...] | None:
        """Each path's local factors as numbers (single example only; a batch has one set each)."""
        if len(self.values) != 1:
            return None
        return _sum_lines([printing.chain([sympy.Float(self.evaluate(f.expression, 0)) for f in c], self.network,
                                          decimals=self.decimals) for c in chains])  # fmt: skip

    def _paths(self, chains: Sequence[chain.Chain]) -> tuple[tuple[Latex, ...], tuple[Latex, ...]]:
        partials = [Latex(r" \cdot ".join(printing.partial(f.of, f.wrt, self.network) for f in c)) for c in chains]
        expressions = [printing.chain([f.expression for f in c], self.network) for c in chains]
        return _sum_lines(partials), _sum_lines(expressions)

    def delta(self, symbol: sympy.Symbol, simplified: handout_output.Simplified | None = None) -> Derivative:
        """δ = ∂L/∂z: its paths and factors, then numbers (one numbered line per example in a batch)."""
        delta = self.derivation.deltas[symbol]
        z = delta.neuron.z
        lhs = Latex(rf"{self.tex(symbol)} = {printing.partial(self.network.loss_symbol, z, self.network)}")
        values = tuple(self.number(v[symbol]) for v in self.values)
        if len(delta.terms) > INLINE_FAN_IN:  # too long to write out: δ_j = f'(z_j) Σ_i δ_i ∂z_i/∂h_j
            local = self.tex(delta.terms[0][-1].expression)
            h = self.tex(delta.neuron.a)
            return Derivative(
                number=None if self.batch else self._next(), name=symbol.name, lhs=lhs,
                paths=None, path_count=len(delta.terms), path_expressions=None, path_values=None,
                delta_form=Latex(rf"= {local} \sum_i \delta_i \frac{{\partial z_i}}{{\partial {h}}}"), substituted=(), values=(),
                mean=None, value=values[0], frozen=False, figure=None, examples=self._example_lines(symbol, None, values),
            )  # fmt: skip
        paths, expressions = self._paths(delta.terms)
        if simplified is not None:
            substituted = tuple(self.tex(simplified.expression, i) for i in range(len(self.values)))
        elif len(delta.terms) == 1:  # the numbers in the same order as the factors above them
            factors = [f.expression for f in delta.terms[0]]
            substituted = tuple(printing.chain(factors, self.network, values=v, decimals=self.decimals) for v in self.values)
        else:
            substituted = tuple(self.tex(delta.definition, i) for i in range(len(self.values)))
        return Derivative(
            number=None if self.batch else self._next(), name=symbol.name, lhs=lhs,
            paths=paths, path_count=len(paths), path_expressions=expressions, path_values=None,
            delta_form=None if len(delta.terms) == 1 or simplified else Latex("= " + self.tex(delta.definition)),
            substituted=() if self.batch else substituted, values=() if self.batch else values,
            mean=None, value=values[0], frozen=False, figure=None,
            examples=self._example_lines(symbol, substituted, values),
            simplified=None if simplified is None else self.tex(simplified.expression),
            why=None if simplified is None else simplified.reason,
        )  # fmt: skip

    def _example_lines(self, symbol: sympy.Symbol, substituted: Sequence[Latex] | None,
                       values: Sequence[Latex]) -> tuple[handout_batch.ExampleLine, ...]:  # fmt: skip
        """A batch's δ^{(n)} = numbers = value, one numbered line per worked example (none for a single example)."""
        if not self.batch:
            return ()
        return tuple(handout_batch.ExampleLine(self._next(), self.named(symbol, i),
                                               None if substituted is None else substituted[i], values[i])
                     for i in range(len(self.values)))  # fmt: skip

    def gradient(self, name: str, solution: numeric.Solution) -> Derivative:
        gradient = self.derivation.gradients[name]
        network = self.network
        paths = expressions = None
        values = None
        if gradient.chains is not None and len(gradient.chains) <= LISTED_PATHS and max(map(len, gradient.chains)) <= LISTED_FACTORS:
            paths, expressions = self._paths(gradient.chains)
            values = self._path_values(gradient.chains)
        spec = network.spec
        hidden = any(o.neuron.layer < len(network.layers) for o in gradient.occurrences)
        figure = None
        if hidden and gradient.chains is not None and paths is not None:
            figure = _figure(self.derivation, spec.parameters, self.decimals, highlight=gradient.chains, labels=False)
        per_example = solution.per_example_gradients[name]
        mean = None
        if self.batch:
            mean = handout_batch.mean(network, number=self._next(), parameter=gradient.parameter,
                                      delta_form=gradient.delta_form, values=self.values, per_example=per_example,
                                      total=solution.gradients[name], decimals=self.decimals, shown=TABLE_COLUMNS)  # fmt: skip
        return Derivative(
            number=None if self.batch else self._next(), name=name,
            lhs=printing.partial(network.loss_symbol, gradient.parameter, network),
            paths=paths, path_count=sum(_path_count(network, o.neuron) for o in gradient.occurrences),
            path_expressions=expressions, path_values=values, delta_form=Latex("= " + self.tex(gradient.delta_form)),
            substituted=() if self.batch else (self.tex(gradient.delta_form, 0),),
            values=() if self.batch else (self.number(per_example[0]),),
            mean=mean, value=self.number(solution.gradients[name]), frozen=name in spec.frozen, figure=figure,
        )  # fmt: skip


def _scientific(value: float) -> Latex:
    """A relative error as 2.3 × 10^{-11} (0 when the two estimates agree exactly)."""
    if value == 0:
        return Latex("0")
    mantissa, exponent = f"{value:.1e}".split("e")
    return Latex(rf"{mantissa} \times 10^{{{int(exponent)}}}")


def _sum_lines(terms: Sequence[str]) -> tuple[Latex, ...]:
    """Rows of a sum in an align: "= a", then "+ b", or "− c" for a term that starts with a minus."""
    rows = []
    for i, term in enumerate(terms):
        if i == 0:
            rows.append(Latex(f"= {term}"))
        elif term.startswith("-"):
            rows.append(Latex(rf"\quad - {term[1:].lstrip()}"))
        else:
            rows.append(Latex(rf"\quad + {term}"))
    return tuple(rows)


def _path_count(network, neuron) -> int:
    """Chain-rule paths from L down to `neuron`'s z (a softmax output reaches L through every ŷ)."""
    if neuron.layer == len(network.layers):
        return len(network.outputs) if network.activation(neuron.layer) == ops.SOFTMAX else 1
    return sum(_path_count(network, after) for after in network.layers[neuron.layer])


def _architecture(spec: Spec) -> str:
    shape = "-".join(map(str, spec.layers))
    activations = list(dict.fromkeys(spec.activations))
    words = ", ".join(a.replace("_", " ") for a in activations)
    article = "an" if shape.startswith(("8", "11", "18")) else "a"
    return f"{article} {shape} network, {words} activation{'s' if len(activations) > 1 else ''}, {spec.loss.replace('_', ' ')} loss"


def _notation(derivation: chain.Derivation) -> tuple[tuple[str, Latex], ...]:
    network = derivation.network
    spec = network.spec
    rows: list[tuple[str, Latex]] = []
    for layer in network.layers:
        neuron = layer[0]
        rows.append((f"layer {neuron.layer} pre-activation", _general_z(network, neuron.layer)))
    for name in dict.fromkeys(spec.activations):
        where = [str(i) for i, a in enumerate(spec.activations, start=1) if a == name]
        label = f"activation (layer{'s' if len(where) > 1 else ''} {', '.join(where)})"
        if name == ops.SOFTMAX:
            rows.append((label, Latex(ops.SOFTMAX_DEFINITION_LATEX)))
            rows.append(("its derivative", Latex(ops.SOFTMAX_DERIVATIVE_LATEX)))
        else:
            activation = network.elementwise(int(where[0]))
            rows.append((label, Latex(activation.definition_latex)))
            rows.append(("its derivative", Latex(activation.derivative_latex)))
    rows.append(("loss", Latex(ops.LOSSES[spec.loss].definition_latex)))
    if spec.is_batch:
        rows.append(("batch loss", Latex(r"\bar{L} = \frac{1}{N} \sum_{n=1}^{N} L^{(n)}")))
    rows.append(("error signal", Latex(r"\delta_j = \frac{\partial L}{\partial z_j}")))
    rows.append(("update", Latex(rf"w \leftarrow w - \eta \, \frac{{\partial L}}{{\partial w}}, \quad "
                                 rf"\eta = {printing.number(spec.learning_rate, decimals=12)}")))  # fmt: skip
    return tuple(rows)


def _general_z(network, layer: int) -> Latex:
    neuron = network.layers[layer - 1][0]
    source = network.sources(layer)[0]
    bias = r" + b_j" if neuron.bias is not None else ""
    what = "x_k" if layer == 1 else ("h_k" if source.name.startswith("h") else "a_k")
    a = r"\hat{y}_j" if layer == len(network.layers) else "h_j"
    return Latex(rf"z_j = \sum_k w_{{jk}} {what}{bias}, \quad {a} = f(z_j)")


def _data_line(network, example: Example, decimals: int) -> Latex:
    parts = [f"{network.latex(s)} = {printing.number(v, decimals=decimals)}" for s, v in zip(network.inputs, example.inputs)]
    parts += [f"{network.latex(s)} = {printing.number(v, decimals=decimals)}" for s, v in zip(network.targets, example.targets)]
    return Latex(r",\quad ".join(parts))


def _figure(derivation: chain.Derivation, parameters: Mapping[str, float], decimals: int,
            highlight: Sequence[chain.Chain] | None, labels: bool = True) -> Figure | None:  # fmt: skip
    """The network in TikZ coordinates (cm); with `highlight`, the edges and neurons on those paths."""
    network = derivation.network
    sizes = network.spec.layers
    if sum(sizes) > FIGURE_MAX_NEURONS:
        return None
    lit_z: set[sympy.Symbol] = set()
    lit_edges: set[tuple[sympy.Symbol, sympy.Symbol]] = set()  # (source value, receiving z)
    for path in highlight or ():
        for factor in path:
            lit_z.update(n.z for n in network.neurons if factor.of == n.z)
            if factor.wrt in network.parameters and isinstance(factor.expression, sympy.Symbol):
                lit_edges.add((factor.expression, factor.of))  # the parameter's own weight
            elif factor.of in lit_z and any(factor.wrt == n.a for n in network.neurons):
                lit_edges.add((factor.wrt, factor.of))  # ∂z/∂h: the weight between two neurons
    spacing = min(4.4, 13.0 / (len(sizes) - 1))
    ids: dict[sympy.Symbol, str] = {}
    nodes = []
    for l, size in enumerate(sizes):
        symbols = network.inputs if l == 0 else tuple(n.a for n in network.layers[l - 1])
        for j, symbol in enumerate(symbols):
            ids[symbol] = f"n{l}x{j}"
            note, lit = None, any(source == symbol for source, _ in lit_edges)
            if l > 0:
                neuron = network.layers[l - 1][j]
                lit = neuron.z in lit_z
                if neuron.bias is not None and labels:
                    value = printing.number(parameters[neuron.bias.name], decimals=decimals)
                    note = Latex(f"{network.latex(neuron.bias)} = {value}")
            nodes.append(Node(ids[symbol], l * spacing, ((size - 1) / 2 - j) * 2.0, Latex(network.latex(symbol)), note, lit))
    label_edges = labels and sum(a * b for a, b in zip(sizes, sizes[1:])) <= EDGE_LABEL_MAX
    edges = []
    for neuron in network.neurons:
        for weight, source in zip(neuron.weights, network.sources(neuron.layer)):
            label = None
            if label_edges:
                label = Latex(f"{network.latex(weight)} = {printing.number(parameters[weight.name], decimals=decimals)}")
            edges.append(Edge(ids[source], ids[neuron.a], label, (source, neuron.z) in lit_edges))
    outputs = tuple(ids[a] for a in network.outputs)
    return Figure(tuple(nodes), tuple(edges), outputs, (len(sizes) - 1) * spacing + 2.2, 0.0, bool(highlight))


def _forward_table(derivation: chain.Derivation, solution: numeric.Solution, decimals: int) -> Table:
    network = derivation.network
    count = len(solution.losses)
    shown = min(count, TABLE_COLUMNS)
    columns = [r"\text{value}"] if count == 1 else [rf"n = {i + 1}" for i in range(shown)]
    header = (Latex(""), *map(Latex, columns))
    cell = lambda v: Latex(printing.number(v, decimals=decimals, fixed=True))  # noqa: E731 - aligned on the point
    rows = []
    for neuron in network.neurons:
        for symbol in (neuron.z, neuron.a):
            values = solution.forward[symbol.name][:shown]
            rows.append(Row((Latex(network.latex(symbol)), *(cell(v) for v in values))))
    rows.append(Row((Latex("L^{(n)}"), *(cell(v) for v in solution.losses[:shown]))))
    for symbol in derivation.deltas:
        values = solution.deltas[symbol.name][:shown]
        rows.append(Row((Latex(network.latex(symbol)), *(cell(v) for v in values))))
    note = f" (first {shown} of {count})" if shown < count else ""
    return Table("All values" if count == 1 else f"Every example{note}", header, tuple(rows))


def _gradient_tables(derivation: chain.Derivation, solution: numeric.Solution, full: Sequence[str],
                     decimals: int) -> tuple[Table, ...]:  # fmt: skip
    network = derivation.network
    tables = []
    for layer in reversed(network.layers):  # output layer first, as backpropagation goes
        names = []
        for neuron in layer:
            names += [w.name for w in neuron.weights]
            if neuron.bias is not None:
                names.append(neuron.bias.name)
        names = [n for n in dict.fromkeys(names) if n not in full]
        if not names:
            continue
        rows = []
        for name in names:
            gradient = derivation.gradients[name]
            rows.append(Row((printing.partial(network.loss_symbol, gradient.parameter, network),
                             printing.latex(gradient.delta_form, network),
                             Latex(printing.number(solution.gradients[name], decimals=decimals, fixed=True)))))  # fmt: skip
        tables.append(Table(f"Layer {layer[0].layer}", (Latex(r"\text{gradient}"), Latex(r"\delta\text{ form}"), Latex(r"\text{value}")), tuple(rows)))
    return tuple(tables)


def _update_table(derivation: chain.Derivation, parameters: Mapping[str, float], solution: numeric.Solution,
                  decimals: int, order: Sequence[str]) -> Table:  # fmt: skip
    network = derivation.network
    spec = network.spec
    by_name = {p.name: p for p in network.parameters}
    number = lambda v: Latex(printing.number(v, decimals=decimals, fixed=True))  # noqa: E731
    # old and new with the places that tell them apart: a step below the last place still shows
    step = lambda v, other: Latex(printing.number(v, decimals=decimals, unlike=other, fixed=True))  # noqa: E731
    rows = tuple(
        Row((Latex(network.latex(by_name[name])), step(parameters[name], solution.updated[name]),
             number(solution.gradients[name]), step(solution.updated[name], parameters[name])),
            "frozen" if name in spec.frozen else "")
        for name in order
    )  # fmt: skip
    header = (Latex(r"\text{parameter}"), Latex(r"\text{old value}"), Latex(r"\partial L / \partial w"),
              Latex(r"\text{new value}"))  # fmt: skip
    return Table("One gradient-descent step", header, rows)


def _check_table(derivation: chain.Derivation, check: finite_diff.GradCheck, decimals: int,
                 order: Sequence[str]) -> Table:  # fmt: skip
    network = derivation.network
    by_name = {p.name: p for p in network.parameters}
    digits = decimals + 4  # enough places to see where the two estimates part
    position = {name: i for i, name in enumerate(order)}
    rows = tuple(
        Row((Latex(network.latex(by_name[r.name])), Latex(printing.number(r.chain_rule, decimals=digits, fixed=True)),
             Latex(printing.number(r.finite_difference, decimals=digits, fixed=True)),
             _scientific(r.relative_error)))
        for r in sorted(check.rows, key=lambda r: position[r.name])
    )  # fmt: skip
    header = (Latex(r"\text{parameter}"), Latex(r"\text{chain rule}"), Latex(r"\text{finite difference}"),
              Latex(r"\text{relative error}"))  # fmt: skip
    return Table("Gradient check", header, rows)


def variant(spec: Spec, *, seed: int, index: int) -> tuple[tuple[Example, ...], dict[str, float]]:
    """New inputs, targets and parameters for student `index`, reproducible from `seed`.

    Values are drawn uniformly from [−1, 1] (targets from the loss's valid range:
    [0, 1], or one-hot for cross-entropy) and rounded to two decimals, as a
    teacher would write them on the board.
    """
    rng = np.random.default_rng([seed, index])
    n_in, n_out = spec.layers[0], spec.layers[-1]
    examples = []
    for _ in spec.examples or (None,):
        inputs = tuple(round(float(v), 2) for v in rng.uniform(-1, 1, n_in))
        if spec.loss == "cross_entropy":
            hot = int(rng.integers(n_out))
            targets = tuple(float(k == hot) for k in range(n_out))
        elif spec.loss == "binary_cross_entropy":
            targets = tuple(float(v) for v in rng.integers(0, 2, n_out))
        else:
            targets = tuple(round(float(v), 2) for v in rng.uniform(0, 1, n_out))
        examples.append(Example(inputs, targets))
    parameters = {name: round(float(v), 2) for name, v in zip(spec.parameters, rng.uniform(-1, 1, len(spec.parameters)))}
    return tuple(examples), parameters


def with_numbers(spec: Spec, examples: Sequence[Example], parameters: Mapping[str, float]) -> Spec:
    """`spec` with other examples and parameter values (the structure unchanged)."""
    return dataclasses.replace(spec, examples=tuple(examples), parameters=dict(parameters))
