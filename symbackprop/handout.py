"""The content of a derivation handout: which parts it shows, in which order, with which numbers.

A `Document` holds LaTeX fragments from the printer (`printing.Latex`), plain user
text (titles) and `handout_tables.Phrase` keys for words, which the templates say
in the handout's language; `render` turns it into a .tex file or a PDF. Each
gradient-descent step worked in full is a `Pass` of equations (`handout_steps`)
and tables (`handout_tables`, or `handout_grids` for a concise handout of a large
network). Values are computed in full precision by `numeric` and only rounded
for display.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from symbackprop import (chain, errors, finite_diff, handout_figure, handout_grids, handout_output, handout_rules, handout_steps,
                         handout_tables, handout_training, handout_vector, numeric, ops, printing, vector)
from symbackprop.handout_steps import Derivative, Step
from symbackprop.handout_tables import GradientCheck, Phrase, Table, backward_order
from symbackprop.handout_training import Training, TrainingRun
from symbackprop.handout_training import trained as trained  # the library's name: handout.trained(spec, data, ...)
from symbackprop.errors import SymbackpropError, did_you_mean, shorten
from symbackprop.printing import Latex
from symbackprop.spec import Course, Example, Spec

MODES = ("worked", "exercise", "solutions")
# a class set's points per question, by kind: a δ or a gradient is a chain-rule step, a value of the forward pass a sum
DEFAULT_POINTS = {"forward": 1.0, "loss": 1.0, "deltas": 2.0, "gradients": 2.0, "updated": 1.0}
PAPERS = ("a4", "letter")
FONT_SIZES = (10, 11, 12)
MAX_PARAMETERS = 2_000  # a handout's tables grow faster than its network: 2,000 parameters take seconds, 10,000 minutes
FULL_LIMIT = 12  # networks with more parameters write one weight per layer in full, unless --param says
WORKED_EXAMPLES = 3  # a batch shows the substituted numbers of its first examples, the rest in tables
CONCISE_PATHS = 1  # a concise handout lists a gradient's paths only when there is one; the δ form stands for more
CONCISE_CHECKED = 3  # gradients a concise handout checks besides those it works in full, spread over the network
SECTIONS = ("rules", "forward", "loss", "backward", "update", "check", "training", "vector")  # --sections, in page order
MAX_STEPS = 10  # --steps: each step is a few pages
LANGUAGE = re.compile(r"[a-z]{2,3}")  # a language template's name: lang/<code>.tex.j2


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


@dataclass(frozen=True)
class Student:
    """A class set's student as their sheet shows them: place in the class, variant code, and the roster's name and id."""

    number: str  # zero-padded place in the class
    code: str  # the variant's short code, printed on every sheet so that a loose page finds its key
    decimals: int  # the precision the sheet asks answers to (the marking's, check.DECIMALS by default)
    name: str | None = None  # user text from the roster; None: a blank Name field
    id: str | None = None  # the roster's id (checked to a file-name alphabet); None: a blank ID field


@dataclass(frozen=True)
class Question:
    """One numbered question of a class set's sheet: its name in a `check` answers file and its exact value."""

    number: int
    answer: str  # the answers-file path: forward.z1, loss, deltas.delta3, gradients.w31, updated.w31
    label: Latex  # the quantity, as `labels` writes it
    value: float
    shown: Latex  # the value as the key writes it
    points: float  # DEFAULT_POINTS by kind, or the spec's document.points


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
    student: Student | None = None  # a class set's sheet: who it is for
    questions: tuple[Question, ...] = ()  # a class set's sheet of one example: every numbered question, in page order

    def points_of(self, number: int | None) -> float | None:
        """The points of question `number` on a class set's sheet, or None (no such question, or not a class set)."""
        return next((q.points for q in self.questions if q.number == number), None)

    def points_for(self, kind: str) -> float | None:
        """The points of each question of `kind` (forward, loss, deltas, gradients, updated) this sheet asks, or None."""
        return next((q.points for q in self.questions if q.answer.partition(".")[0] == kind), None)

    @property
    def total_points(self) -> float:
        return sum(q.points for q in self.questions)


def build(derivation: chain.Derivation, *, mode: str = "worked", decimals: int = 6,
          params: Sequence[str] | None = None, examples: Sequence[Example] | None = None,
          parameters: Mapping[str, float] | None = None, title: str | None = None,
          training: TrainingRun | None = None, gradient_check: bool = True, paper: str = "a4",
          font_size: int = 11, lang: str = "en", sections: Sequence[str] | None = None,
          steps: int = 1, student: Student | None = None) -> Document:  # fmt: skip
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
        student: a class set's student, shown in the sheet's header; with one example and one step,
            the sheet's questions are listed (`Document.questions`) and its update rows numbered too.

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
        layout = handout_steps.Layout(derivation, decimals, handout_steps.values(derivation, examples, start, solution)[:WORKED_EXAMPLES],
                         batch=len(examples) > 1, numbered=number, listed=CONCISE_PATHS if concise else handout_steps.LISTED_PATHS)  # fmt: skip
        passes.append(_pass(layout, step, shown, examples, start, solution, full, order,
                            grids=handout_grids.room_for(paper=paper, font_size=font_size) if concise else None))
        number = layout.count
    questions: tuple[Question, ...] = ()
    if student is not None and len(examples) == 1 and steps == 1:
        questions = _questions(derivation, passes[0], solution, decimals)
        if passes[0].updates is not None:
            passes[0] = dataclasses.replace(passes[0], updates=_numbered(passes[0].updates, questions))
    return Document(
        title=spec.title if title is None else title,
        mode=mode,
        architecture=_architecture(spec),
        notation=_notation(derivation),
        rules=handout_rules.rules(derivation, examples, batch=len(examples) > 1),
        figure=handout_figure.figure(derivation, parameters, decimals, highlight=None),
        batch_size=len(examples),
        data=tuple(_data_line(network, e, decimals) for e in examples),
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
        course=spec.document if spec.document is not None and spec.document.header else None,
        student=student,
        questions=questions,
    )  # fmt: skip


def labels(derivation: chain.Derivation) -> dict[str, Latex]:
    """Each quantity a class set's sheet asks, by its answers-file path, as the key's answer table writes it.

    Short enough for a table row: ∂L/∂w₃₁ with a slash; a new value under its parameter's name.
    """
    network = derivation.network
    loss = network.latex(network.loss_symbol)
    found = {f"forward.{s.name}": Latex(network.latex(s)) for neuron in network.neurons for s in (neuron.z, neuron.a)}
    found["loss"] = Latex(loss)
    found |= {f"deltas.{s.name}": Latex(network.latex(s)) for s in derivation.deltas}
    for name, gradient in derivation.gradients.items():
        found[f"gradients.{name}"] = Latex(rf"\partial {loss} / \partial {network.latex(gradient.parameter)}")
        found[f"updated.{name}"] = Latex(network.latex(gradient.parameter))
    return found


def _questions(derivation: chain.Derivation, shown: Pass, solution: numeric.Solution, decimals: int) -> tuple[Question, ...]:
    """The numbered questions of a one-example sheet in page order, named as `check` reads them, with their points.

    The update table's rows are numbered after the last derivative, in the table's order.
    """
    network = derivation.network
    course = network.spec.document
    points = DEFAULT_POINTS | dict(course.points if course is not None else ())
    label = labels(derivation)

    def ask(number: int, answer: str, value: float) -> Question:
        shown = Latex(printing.number(float(value), decimals=decimals, fixed=True))  # a column lines up on the point
        return Question(number, answer, label[answer], float(value), shown, points[answer.partition(".")[0]])

    forward = {network.latex(s): s.name for neuron in network.neurons for s in (neuron.z, neuron.a)}
    questions = [ask(s.number, f"forward.{forward[s.lhs]}", solution.forward[forward[s.lhs]][0])
                 for _, steps in shown.forward for s in steps]  # fmt: skip
    questions += [ask(s.number, "loss", solution.loss) for s in shown.losses]
    questions += [ask(d.number, f"deltas.{d.name}", solution.deltas[d.name][0]) for d in shown.deltas]
    questions += [ask(g.number, f"gradients.{g.name}", solution.gradients[g.name]) for g in shown.gradients]
    if shown.updates is not None:
        by_name = {network.latex(p): p.name for p in network.parameters}
        after = max((q.number for q in questions), default=0)
        questions += [ask(after + i, f"updated.{by_name[row.cells[0]]}", solution.updated[by_name[row.cells[0]]])
                      for i, row in enumerate(shown.updates.rows, start=1)]  # fmt: skip
    return tuple(questions)


def _numbered(table: Table, questions: Sequence[Question]) -> Table:
    """The update table with each row's question number before its parameter."""
    numbers = {q.label: q.number for q in questions if q.answer.startswith("updated.")}
    rows = tuple(dataclasses.replace(row, cells=(Latex(rf"\text{{({numbers[row.cells[0]]})}}\ {row.cells[0]}"), *row.cells[1:]))
                 for row in table.rows)  # fmt: skip
    return dataclasses.replace(table, rows=rows)


def is_concise(spec: Spec) -> bool:
    """Past the full-detail size (no figure fits, or a layer past handout_steps.WIDE_LAYER): the concise handout."""
    return sum(spec.layers) > handout_figure.FIGURE_MAX_NEURONS or max(spec.layers[1:]) > handout_steps.WIDE_LAYER


def _sections(sections: Sequence[str] | None, *, training: bool, gradient_check: bool,
              concise: bool) -> tuple[str, ...]:  # fmt: skip
    """The sections to show, in page order: those asked for (default all; the vector form for a concise handout),
    less the check with --no-check."""
    default = SECTIONS if concise else tuple(name for name in SECTIONS if name != "vector")
    asked = default if sections is None else tuple(sections)
    errors.check_choices("--sections", asked, SECTIONS, what="section")
    if "training" in asked and sections is not None and not training:
        raise SymbackpropError("--sections: training needs a training run (--train EPOCHS)")
    return tuple(name for name in SECTIONS if name in asked and (name != "check" or gradient_check))


def _pass(layout: handout_steps.Layout, step: int, shown: Sequence[str], examples: Sequence[Example], parameters: Mapping[str, float],
          solution: numeric.Solution, full: Sequence[str], order: Sequence[str],
          grids: handout_grids.Room | None) -> Pass:  # fmt: skip
    """One step's equations and tables, built in page order so that question numbers increase down the pages.

    With `grids` (a concise handout), per-layer grids take the place of the long tables, and the update
    table lists only the parameters written in full.
    """
    derivation, decimals, worked = layout.derivation, layout.decimals, len(layout.values)
    network = derivation.network
    wide = max(network.spec.layers[1:]) > handout_steps.WIDE_LAYER
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
                       if len(network.layers[delta.neuron.layer - 1]) <= handout_steps.WIDE_LAYER or delta.neuron.index == 0)  # fmt: skip
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
        f = network.elementwise(layer).symbol_latex + "(z_j)"
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


CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read off a printed page without doubt
CODE_LENGTH = 5


def variant_code(examples: Sequence[Example], parameters: Mapping[str, float]) -> str:
    """A short code for a variant's numbers (K7QF2), the same wherever they are written out: it matches a page to its key."""
    numbers = repr([(e.inputs, e.targets) for e in examples]) + repr(sorted(parameters.items()))
    value = int.from_bytes(hashlib.sha256(numbers.encode()).digest()[:8], "big")
    digits = []
    for _ in range(CODE_LENGTH):
        value, digit = divmod(value, len(CODE_ALPHABET))
        digits.append(CODE_ALPHABET[digit])
    return "".join(digits)


def with_numbers(spec: Spec, examples: Sequence[Example], parameters: Mapping[str, float]) -> Spec:
    """`spec` with other examples and parameter values (the structure unchanged)."""
    return dataclasses.replace(spec, examples=tuple(examples), parameters=dict(parameters))
