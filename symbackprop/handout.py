"""The content of a derivation handout: every equation and table, built from the derivation and its numbers.

A `Document` holds LaTeX fragments from the printer (`printing.Latex`) and plain
user text (titles), arranged as the templates lay them out; `render` turns it
into a .tex file or a PDF. Values are computed in full precision by `numeric`
and only rounded here, for display.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from symbackprop import (chain, finite_diff, graph, handout_batch, handout_figure, handout_grids, handout_output, handout_rules,
                         handout_tables, handout_training, handout_vector, numeric, ops, printing, vector)
from symbackprop.handout_tables import TABLE_COLUMNS, GradientCheck, Phrase, Table, backward_order
from symbackprop.handout_training import Training, TrainingRun
from symbackprop.handout_training import trained as trained  # the library's name: handout.trained(spec, data, ...)
from symbackprop.errors import SymbackpropError, did_you_mean, shorten
from symbackprop.printing import Latex
from symbackprop.spec import Course, Example, Spec

MODES = ("worked", "exercise", "solutions")
PAPERS = ("a4", "letter")
FONT_SIZES = (10, 11, 12)
MAX_PARAMETERS = 2_000  # a handout's tables grow faster than its network: 2,000 parameters take seconds, 10,000 minutes
FULL_LIMIT = 12  # networks with more parameters write one weight per layer in full, unless --param says
WORKED_EXAMPLES = 3  # a batch shows the substituted numbers of its first examples, the rest in tables
INLINE_FAN_IN = 5  # wider sums are shown symbolically only, their numbers in the tables
LISTED_PATHS, LISTED_FACTORS = 8, 7  # longer chain-rule sums do not fit a line; the δ form stands for them
CONCISE_PATHS = 1  # a concise handout lists a gradient's paths only when there is one; the δ form stands for more
CONCISE_CHECKED = 3  # gradients a concise handout checks besides those it works in full, spread over the network
WIDE_LAYER = 4  # a layer with more neurons shows its first neuron in full, the rest in a table
SECTIONS = ("rules", "forward", "loss", "backward", "update", "check", "training", "vector")  # --sections, in page order
MAX_STEPS = 10  # --steps: each step is a few pages
LANGUAGE = re.compile(r"[a-z]{2,3}")  # a language template's name: lang/<code>.tex.j2


@dataclass(frozen=True)
class Step:
    """One quantity as a hand calculation writes it: symbols, numbers substituted, value."""

    number: int
    lhs: Latex
    symbolic: Latex
    substituted: Latex | None
    value: Latex


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
    figure: handout_figure.Figure | None
    examples: tuple[handout_batch.ExampleLine, ...] = ()  # a batch δ: one line per worked example
    simplified: Latex | None = None  # an output δ that simplifies to ŷ − t
    why: str | None = None  # which cancellation simplifies it (handout_output.CANCELLING); the template says why


@dataclass(frozen=True)
class Pass:
    """One gradient-descent step worked in full, from the parameters it starts with; empty parts are not shown."""

    step: int  # 1 for the first
    forward: tuple[tuple[int, tuple[Step, ...]], ...]  # (example number, steps) for worked examples
    forward_table: Table | None
    losses: tuple[Step, ...]
    mean_loss: Step | None
    deltas: tuple[Derivative, ...]
    gradients: tuple[Derivative, ...]
    gradient_tables: tuple[Table, ...]  # the parameters not written in full, grouped by layer
    updates: Table | None
    forward_grids: tuple[Table, ...] = ()  # a concise handout's compact tables, per layer (handout_grids)
    gradient_grids: tuple[Table, ...] = ()
    update_grids: tuple[Table, ...] = ()


@dataclass(frozen=True)
class Architecture:
    """What the template says the network is: its shape (2-2-1), activations and loss, by option name."""

    shape: str
    activations: tuple[str, ...]  # each once, in layer order
    loss: str


@dataclass(frozen=True)
class Document:
    """Everything a handout template needs; `title` is user text, the rest is LaTeX."""

    title: str
    mode: str
    architecture: Architecture
    notation: tuple[tuple[Phrase, Latex], ...]
    rules: handout_rules.Rules
    figure: handout_figure.Figure | None
    batch_size: int
    data: tuple[Latex, ...]  # inputs and targets, one line per example
    worked: int  # examples shown with numbers substituted
    passes: tuple[Pass, ...]  # one per gradient-descent step worked in full (--steps)
    learning_rate: Latex
    sections: tuple[str, ...]  # what is shown, of SECTIONS
    concise: bool  # a large network: one neuron per layer in full, the rest in grids, the vector form
    check: GradientCheck | None  # None with --no-check
    training: Training | None = None
    vector_page: handout_vector.VectorPage | None = None
    paper: str = "a4"
    font_size: int = 11
    lang: str = "en"  # the language template, templates/lang/<lang>.tex.j2
    course: Course | None = None  # the spec's document: block: the course header (templates/header.tex.j2)
    student: str | None = None  # a variant's student number, zero-padded


def build(derivation: chain.Derivation, *, mode: str = "worked", decimals: int = 6,
          params: Sequence[str] | None = None, examples: Sequence[Example] | None = None,
          parameters: Mapping[str, float] | None = None, title: str | None = None,
          training: TrainingRun | None = None, gradient_check: bool = True, paper: str = "a4",
          font_size: int = 11, lang: str = "en", sections: Sequence[str] | None = None,
          steps: int = 1, student: str | None = None) -> Document:  # fmt: skip
    """Compute the numbers and lay out every equation of the handout.

    Args:
        mode: worked (everything), exercise (questions, blanks) or solutions (the key).
        decimals: digits after the point in displayed numbers.
        params: the parameters to write out in full (default: all of a small network).
        examples, parameters, title: override the spec's (variants use this).
        training: a training run (see `trained`) to add a section with its loss curve.
        gradient_check: end with the gradient check against finite differences (--no-check leaves it out).
        paper, font_size: a4 or letter, 10, 11 or 12 (points).
        lang: the language template (templates/lang/<lang>.tex.j2): en, de, fr shipped.
        sections: what to show, of SECTIONS (default: all that apply).
        steps: gradient-descent steps worked in full, each from the parameters the last one left.
        student: a class set's student number, shown after the title.

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
    if not LANGUAGE.fullmatch(lang):
        raise SymbackpropError(f"--lang: '{shorten(lang)}' is not a language code; valid: en, de, fr (or lang/<code>.tex.j2 in --templates)")
    if not 1 <= steps <= MAX_STEPS:
        raise SymbackpropError(f"--steps: must be a whole number from 1 to {MAX_STEPS}, got {steps}")
    concise = is_concise(spec)
    shown = _sections(sections, training=training is not None, gradient_check=gradient_check, concise=concise)
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
    check = None
    if "check" in shown:
        names = None
        if concise:
            names = list(dict.fromkeys([*full, *finite_diff.sample(list(solution.gradients), limit=CONCISE_CHECKED)]))
        check = finite_diff.gradcheck(evaluator, examples, parameters, solution.gradients, names=names)
    order = backward_order(derivation)
    passes: list[Pass] = []
    number = 0  # question numbers run on through the steps, in page order
    start = parameters
    for step in range(1, steps + 1):
        if step > 1:  # the next step starts where the last one left the parameters
            start = solution.updated
            solution = evaluator.solve(examples, start, learning_rate=spec.learning_rate, frozen=spec.frozen)
        layout = _Layout(derivation, decimals, _values(derivation, examples, start, solution)[:WORKED_EXAMPLES],
                         batch=len(examples) > 1, numbered=number, listed=CONCISE_PATHS if concise else LISTED_PATHS)  # fmt: skip
        passes.append(_pass(layout, step, shown, examples, start, solution, full, order,
                            grids=_grid_room(paper, font_size) if concise else None))
        number = layout.count
    return Document(
        title=spec.title if title is None else title,
        mode=mode,
        architecture=_architecture(spec),
        notation=_notation(derivation),
        rules=handout_rules.rules(derivation, examples, batch=len(examples) > 1),
        figure=handout_figure.figure(derivation, parameters, decimals, highlight=None),
        batch_size=len(examples),
        data=tuple(_data_line(network, e, decimals) for e in examples),
        worked=min(len(examples), WORKED_EXAMPLES),
        passes=tuple(passes),
        learning_rate=Latex(printing.number(spec.learning_rate, decimals=decimals)),
        sections=shown,
        concise=concise,
        vector_page=handout_vector.page(vector.derive(spec), examples) if "vector" in shown else None,
        check=None if check is None else GradientCheck(
            handout_tables.check_table(derivation, check, decimals, order), check.ok, handout_tables.scientific(check.max_relative_error),
            len(derivation.gradients)),
        training=None if training is None or "training" not in shown else handout_training.section(derivation, training, decimals),
        paper=paper,
        font_size=font_size,
        lang=lang,
        course=spec.document,
        student=student,
    )  # fmt: skip


def _grid_room(paper: str, font_size: int) -> handout_grids.Room:
    """The grids' room as the template sets them: \\footnotesize, \\tabcolsep 3 pt (so 6 pt between columns)."""
    return handout_grids.Room(text_width=handout_grids.TEXT_WIDTHS[paper], font_size=handout_grids.FOOTNOTE[font_size],
                              column_sep=6.0)  # fmt: skip


def is_concise(spec: Spec) -> bool:
    """Past the full-detail size (no figure fits, or a layer past WIDE_LAYER): the concise handout."""
    return sum(spec.layers) > handout_figure.FIGURE_MAX_NEURONS or max(spec.layers[1:]) > WIDE_LAYER


def _sections(sections: Sequence[str] | None, *, training: bool, gradient_check: bool,
              concise: bool) -> tuple[str, ...]:  # fmt: skip
    """The sections to show, in page order: those asked for (default all; the vector form for a concise handout),
    less the check with --no-check."""
    default = SECTIONS if concise else tuple(name for name in SECTIONS if name != "vector")
    asked = default if sections is None else tuple(sections)
    for name in asked:
        if name not in SECTIONS:
            raise SymbackpropError(f"--sections: unknown section '{shorten(name)}'{did_you_mean(name, SECTIONS)}; "
                                   f"valid: {', '.join(SECTIONS)}")  # fmt: skip
    if not asked:
        raise SymbackpropError(f"--sections: none given; valid: {', '.join(SECTIONS)}")
    if "training" in asked and sections is not None and not training:
        raise SymbackpropError("--sections: training needs a training run (--train EPOCHS)")
    return tuple(name for name in SECTIONS if name in asked and (name != "check" or gradient_check))


def _pass(layout: _Layout, step: int, shown: Sequence[str], examples: Sequence[Example], parameters: Mapping[str, float],
          solution: numeric.Solution, full: Sequence[str], order: Sequence[str],
          grids: handout_grids.Room | None) -> Pass:  # fmt: skip
    """One step's equations and tables, built in page order so that question numbers increase down the pages.

    With `grids` (a concise handout), per-layer grids take the place of the long tables, and the update
    table lists only the parameters written in full.
    """
    derivation, decimals, worked = layout.derivation, layout.decimals, len(layout.values)
    network = derivation.network
    wide = max(network.spec.layers[1:]) > WIDE_LAYER
    forward = loss = ()
    if "forward" in shown:
        forward = tuple((i + 1, layout.forward_steps(i)) for i in range(worked))
    if "loss" in shown:
        loss = tuple(layout.loss_step(i, solution.losses[i]) for i in range(worked))
    mean_loss = layout.mean_loss(solution) if "loss" in shown and len(examples) > 1 else None
    deltas = gradients = ()
    if "backward" in shown:
        deltas = tuple(layout.delta(symbol, handout_output.simplified(derivation, delta, examples))
                       for symbol, delta in derivation.deltas.items()
                       if len(network.layers[delta.neuron.layer - 1]) <= WIDE_LAYER or delta.neuron.index == 0)  # fmt: skip
        gradients = tuple(layout.gradient(name, solution) for name in order if name in full)
    if grids is not None:
        return Pass(
            step=step, forward=forward, forward_table=None, losses=loss, mean_loss=mean_loss, deltas=deltas,
            gradients=gradients, gradient_tables=(),
            updates=(handout_tables.update_table(derivation, parameters, solution, decimals, [n for n in order if n in full])
                     if "update" in shown else None),
            forward_grids=handout_grids.forward_grids(derivation, solution, decimals=decimals, room=grids) if "forward" in shown else (),
            gradient_grids=handout_grids.gradient_grids(derivation, solution, decimals=decimals, room=grids) if "backward" in shown else (),
        )  # fmt: skip
    return Pass(
        step=step,
        forward=forward,
        forward_table=(handout_tables.forward_table(derivation, solution, decimals)
                       if "forward" in shown and (len(examples) > 1 or wide) else None),  # fmt: skip
        losses=loss,
        mean_loss=mean_loss,
        deltas=deltas,
        gradients=gradients,
        gradient_tables=handout_tables.gradient_tables(derivation, solution, full, decimals) if "backward" in shown else (),
        updates=handout_tables.update_table(derivation, parameters, solution, decimals, order) if "update" in shown else None,
    )


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
                 batch: bool, numbered: int = 0, listed: int = LISTED_PATHS) -> None:  # fmt: skip
        self.derivation = derivation
        self.network = derivation.network
        self.decimals = decimals
        self.values = values
        self.batch = batch
        self.count = numbered  # question numbers, in the order the handout asks them; `numbered` already asked
        self.listed = listed  # a gradient's chain-rule paths are listed up to this many

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
                if len(neuron.weights) > INLINE_FAN_IN:  # the symbols elided, the numbers over several rows
                    terms = [w * a for w, a in zip(neuron.weights, network.sources(neuron.layer))]
                    terms += [neuron.bias] if neuron.bias is not None else []
                    symbolic = printing.elided_sum(terms, self.names(example))
                    numbers = printing.wrapped_sum(terms, network, values=self.values[example], decimals=self.decimals)
                steps.append(Step(self._next(), self.named(neuron.z, example), symbolic, numbers,
                                  self.number(self.values[example][neuron.z])))  # fmt: skip
            for neuron in shown:
                definition = network.a_definition(neuron)
                numbers = self.tex(definition, example)  # σ(0.33): the activation of the number just computed
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
        if len(delta.terms) > INLINE_FAN_IN:  # too many paths to list: δ_j = f'(z_j) Σ_i w_ij δ_i, its sum over rows
            local = delta.terms[0][-1].expression
            h = self.tex(delta.neuron.a)
            products = [sympy.Mul(*(f.expression for f in term[:-1]), evaluate=False) for term in delta.terms]
            # two products to a row: the row before them also holds f'(z) and the bracket
            sums = [printing.wrapped_sum(products, self.network, values=v, decimals=self.decimals, per_row=2) for v in self.values]
            substituted = tuple(Latex(rf"{self.tex(local, i)} \cdot \bigl({sums[i]}\bigr)") for i in range(len(self.values)))
            return Derivative(
                number=None if self.batch else self._next(), name=symbol.name, lhs=lhs,
                paths=None, path_count=len(delta.terms), path_expressions=None, path_values=None,
                delta_form=Latex(rf"= {self.tex(local)} \sum_i \delta_i \frac{{\partial z_i}}{{\partial {h}}}"),
                substituted=() if self.batch else substituted, values=() if self.batch else values,
                mean=None, value=values[0], frozen=False, figure=None,
                examples=self._example_lines(symbol, substituted, values),
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
        if gradient.chains is not None and len(gradient.chains) <= self.listed and max(map(len, gradient.chains)) <= LISTED_FACTORS:
            paths, expressions = self._paths(gradient.chains)
            values = self._path_values(gradient.chains)
        spec = network.spec
        hidden = any(o.neuron.layer < len(network.layers) for o in gradient.occurrences)
        figure = None
        if hidden and gradient.chains is not None and paths is not None:
            figure = handout_figure.figure(self.derivation, spec.parameters, self.decimals, highlight=gradient.chains, labels=False)
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


def _architecture(spec: Spec) -> Architecture:
    return Architecture("-".join(map(str, spec.layers)), tuple(dict.fromkeys(spec.activations)), spec.loss)


def _notation(derivation: chain.Derivation) -> tuple[tuple[Phrase, Latex], ...]:
    """Each definition the handout uses, stated once: j is a neuron, k one in the layer before, i one after."""
    network = derivation.network
    spec = network.spec
    rows: list[tuple[Phrase, Latex]] = [(Phrase("indices"), Latex(r"w_{jk}: k \to j"))]
    layers: list[int] = []  # consecutive layers with the same formula share a row
    for layer in range(1, len(network.layers) + 1):
        layers.append(layer)
        if layer == len(network.layers) or _general_z(network, layer) != _general_z(network, layer + 1):
            rows.append((Phrase("pre_activation", (tuple(layers),)), _general_z(network, layer)))
            layers = []
    for name in dict.fromkeys(spec.activations):
        where = tuple(i for i, a in enumerate(spec.activations, start=1) if a == name)
        if name == ops.SOFTMAX:
            definition, derivative = ops.SOFTMAX_DEFINITION_LATEX, ops.SOFTMAX_DERIVATIVE_LATEX
        else:
            activation = network.elementwise(where[0])
            definition, derivative = activation.definition_latex, activation.derivative_latex
        rows.append((Phrase("activation", (where,)), Latex(definition)))
        rows.append((Phrase("its_derivative"), Latex(derivative)))
    rows.append((Phrase("loss"), Latex(ops.LOSSES[spec.loss].definition_latex)))
    if spec.is_batch:
        rows.append((Phrase("batch_loss"), Latex(r"\bar{L} = \frac{1}{N} \sum_{n=1}^{N} L^{(n)}")))
    rows.append((Phrase("error_signal"), Latex(r"\delta_j = \frac{\partial L}{\partial z_j}")))
    loss = r"\bar{L}" if spec.is_batch else "L"
    rows.append((Phrase("update"), Latex(rf"w \leftarrow w - \eta \, \frac{{\partial {loss}}}{{\partial w}}, \quad "
                                         rf"\eta = {printing.number(spec.learning_rate, decimals=12)}")))  # fmt: skip
    return tuple(rows)


def _general_z(network, layer: int) -> Latex:
    """z_j = Σ_k w_jk h_k + b_j, h_j = σ(z_j): the layer's sum and its own activation (softmax: ŷ_j = softmax(z)_j)."""
    neuron = network.layers[layer - 1][0]
    source = network.sources(layer)[0]
    bias = r" + b_j" if neuron.bias is not None else ""
    what = "x_k" if layer == 1 else ("h_k" if source.name.startswith("h") else "a_k")
    a = r"\hat{y}_j" if layer == len(network.layers) else "h_j"
    if network.activation(layer) == ops.SOFTMAX:
        f = r"\operatorname{softmax}(z)_j"
    else:
        f = network.elementwise(layer).definition_latex.split("(z)")[0] + "(z_j)"
    return Latex(rf"z_j = \sum_k w_{{jk}} {what}{bias}, \quad {a} = {f}")


def _data_line(network, example: Example, decimals: int) -> Latex:
    parts = [f"{network.latex(s)} = {printing.number(v, decimals=decimals)}" for s, v in zip(network.inputs, example.inputs)]
    parts += [f"{network.latex(s)} = {printing.number(v, decimals=decimals)}" for s, v in zip(network.targets, example.targets)]
    return Latex(r",\quad ".join(parts))


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
