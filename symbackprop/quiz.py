"""A quiz's content: per student variant, the quantities asked, their values and tolerance, and what mistakes give.

The numbers of student i are `handout.variant(spec, seed=seed, index=i)`, as in
``handout --variants``, so a class set on paper and a quiz agree. Correct values
come from `numeric` (as ``solve``), each mistake's value from `mistakes.Run` over
the catalogue, and the worked lines from `handout.build`; nothing is derived or
evaluated twice. Words are the templates' (templates/quiz/); this module says what
is shown, in which order, with which numbers. `quiz_moodle` and `quiz_qti` write it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from symbackprop import chain, errors, handout, handout_tables, mistakes, numeric, printing
from symbackprop.errors import SymbackpropError, did_you_mean, listing, shorten
from symbackprop.printing import Latex
from symbackprop.spec import Course, Example

QUESTIONS = ("forward", "loss", "backward", "update")  # --questions, in the order a handout asks them
DECIMALS = 4  # as `check` expects by default
MAX_VARIANTS = 1_000
MAX_ASKED = 200  # values per variant: each is checked against every catalogued mistake (an 8-8-8-8-8-1 network's 694 take minutes)
_SECTION = {"forward": "forward", "loss": "loss", "deltas": "backward", "gradients": "backward", "updated": "update"}


@dataclass(frozen=True)
class Cause:
    """A catalogued mistake: the language file words it by `kind`."""

    kind: str
    explanation: str  # the catalogue's sentence, said when the language file has no words for `kind`


@dataclass(frozen=True)
class Wrong:
    """A wrong value a blank expects, and the mistakes that give it (the commonest first, one per kind)."""

    value: float
    causes: tuple[Cause, ...]


@dataclass(frozen=True)
class Blank:
    """One asked quantity: its value, the tolerance accepted, the mistakes' values and the worked line."""

    name: str  # as in an answers file for `check`: forward.z1, loss, deltas.delta3, gradients.w11, updated.w11
    section: str  # of QUESTIONS
    lhs: Latex  # what is asked, e.g. z_{1} or \frac{\partial L}{\partial w_{11}}
    value: float
    tolerance: float
    wrong: tuple[Wrong, ...]
    working: tuple[Latex, ...]  # the worked line, one equation chain: symbols, numbers put in, value


@dataclass(frozen=True)
class Variant:
    """One student's numbers and blanks."""

    number: int  # index of handout.variant: 1 for the first student
    data: tuple[tuple[Latex, Latex], ...]  # (name, value) of every input, target, parameter and η
    blanks: tuple[Blank, ...]


@dataclass(frozen=True)
class Quiz:
    """Everything a quiz writer needs; `title` and `course` are user text, the rest is ours."""

    title: str
    architecture: handout.Architecture
    lang: str
    decimals: int
    seed: int
    variants: tuple[Variant, ...]
    course: Course | None = None


def build(derivation: chain.Derivation, *, variants: int, seed: int = 0, questions: Sequence[str] | None = None,
          params: Sequence[str] | None = None, decimals: int = DECIMALS, tolerance: float | None = None,
          lang: str = "en") -> Quiz:  # fmt: skip
    """The quiz of `variants` students, each with the numbers ``handout --variants`` gives them.

    Args:
        questions: what to ask, of QUESTIONS (default all).
        params: ask the gradients and updates of these parameters only (default all).
        decimals: places the answers are asked to; the tolerance is half a unit in the last of them.
        tolerance: accept answers within ±tolerance instead.
        lang: the language file, templates/quiz/lang/<lang>.html.j2.

    Raises:
        SymbackpropError: a bad option, or a spec a quiz cannot ask (a batch, no examples).
    """
    network = derivation.network
    spec = network.spec
    asked = _questions(questions)
    order = handout_tables.backward_order(derivation)
    chosen = _params(order, params)
    if not 1 <= variants <= MAX_VARIANTS:
        raise SymbackpropError(f"--variants: must be a whole number from 1 to {MAX_VARIANTS}, got {variants}")
    if not 0 <= decimals <= 12:
        raise SymbackpropError(f"--decimals: must be a whole number from 0 to 12, got {decimals}")
    if tolerance is not None and not (math.isfinite(tolerance) and tolerance > 0):
        raise SymbackpropError(f"--tolerance: must be a positive number, got {tolerance}")
    if not handout.LANGUAGE.fullmatch(lang):
        raise SymbackpropError(f"--lang: '{shorten(lang)}' is not a language code; valid: en, de, fr")
    if len(spec.examples) != 1:
        found = "none" if not spec.examples else f"a batch of {len(spec.examples)}"
        raise SymbackpropError(f"inputs: a quiz asks one example's values; give the spec one example (it has {found})")
    prog = mistakes.program(derivation)
    catalogue = mistakes.catalogue(prog)
    evaluator = numeric.Evaluator(derivation)
    steps = [s for s in prog.steps.values() if _SECTION[s.name.split(".")[0]] in asked and _wanted(s.name, chosen, spec.frozen)]
    steps = sorted(steps, key=lambda s: _position(s.name, order))
    if len(steps) > MAX_ASKED:
        raise SymbackpropError(f"quiz: {len(steps):,} values asked per variant is more than the {MAX_ASKED} a quiz asks; "
                               "choose fewer with --questions or --param")  # fmt: skip
    half = 0.5 * 10.0**-decimals if tolerance is None else tolerance
    made = []
    for number in range(1, variants + 1):
        examples, parameters = handout.variant(spec, seed=seed, index=number)
        solution = evaluator.solve(examples, parameters, learning_rate=spec.learning_rate, frozen=spec.frozen)
        document = handout.build(derivation, mode="worked", examples=examples, parameters=parameters, decimals=decimals,
                                 params=list(order), gradient_check=False, sections=["forward", "loss", "backward"])  # fmt: skip
        lines = _working(derivation, document.passes[0], parameters, solution, decimals)
        variant_program = mistakes.with_numbers(prog, examples[0], parameters)
        runs = [(m, mistakes.Run(variant_program, {}, changes=m.changes, rounding=m.rounding)) for m in catalogue]
        blanks = tuple(_blank(step, _correct(step.name, solution), half, runs, lines.get(step.name, ()), network)
                       for step in steps)  # fmt: skip
        made.append(Variant(number, _data(network, examples[0], parameters, spec.learning_rate), blanks))
    return Quiz(spec.title, document.architecture, lang, decimals, seed, tuple(made), document.course)


def _questions(questions: Sequence[str] | None) -> tuple[str, ...]:
    asked = QUESTIONS if questions is None else tuple(questions)
    errors.check_choices("--questions", asked, QUESTIONS, what="part")
    return tuple(name for name in QUESTIONS if name in asked)


def _params(names: Sequence[str], params: Sequence[str] | None) -> set[str]:
    for name in params or []:
        if name not in names:
            raise SymbackpropError(f"--param: no parameter named '{shorten(name)}'{did_you_mean(name, names)}; "
                                   f"parameters: {listing(names)}")  # fmt: skip
    return set(params or names)


def _wanted(name: str, chosen: set[str], frozen: Sequence[str]) -> bool:
    part, _, what = name.partition(".")
    if part == "updated" and what in frozen:
        return False  # a frozen parameter keeps its value: nothing to ask
    return part not in ("gradients", "updated") or what in chosen


def _position(name: str, order: Sequence[str]) -> tuple[int, int]:
    """Forward, loss and δ's in computation order (stable sort); gradients, then updates, in backward order."""
    part, _, what = name.partition(".")
    if part == "gradients":
        return 1, order.index(what)
    if part == "updated":
        return 2, order.index(what)
    return 0, 0


def _correct(name: str, solution: numeric.Solution) -> float:
    """The value `solve` reports for the answers-file path `name`."""
    part, _, what = name.partition(".")
    if part == "loss":
        return solution.loss
    table = {"forward": solution.forward, "deltas": solution.deltas}.get(part)
    if table is not None:
        return float(table[what][0])
    return {"gradients": solution.gradients, "updated": solution.updated}[part][what]


def _blank(step: mistakes.Step, value: float, tolerance: float, runs: Sequence[tuple[mistakes.Mistake, mistakes.Run]],
           working: tuple[Latex, ...], network) -> Blank:  # fmt: skip
    """The blank of `step`: each mistake's value kept when it is off by more than the tolerance and new."""
    found: list[tuple[float, list[Cause]]] = []
    for mistake, run in runs:
        given = run.value(step.symbol)
        if not math.isfinite(given) or abs(given - value) <= tolerance:
            continue
        same = next((causes for v, causes in found if abs(given - v) <= tolerance), None)
        if same is None:
            found.append((given, [Cause(mistake.kind, mistake.explanation)]))
        elif mistake.kind not in {c.kind for c in same}:  # two mistakes give it: the feedback names both
            same.append(Cause(mistake.kind, mistake.explanation))
    wrong = tuple(Wrong(v, tuple(causes)) for v, causes in found)
    return Blank(step.name, _SECTION[step.name.partition(".")[0]], _lhs(step, network), value, tolerance, wrong, working)


def _lhs(step: mistakes.Step, network) -> Latex:
    part, _, what = step.name.partition(".")
    if part in ("gradients", "updated"):
        symbol = next(p for p in network.parameters if p.name == what)
        if part == "gradients":
            return Latex(printing.partial(network.loss_symbol, symbol, network))
        return Latex(network.latex(symbol) + r"^{\mathrm{new}}")
    return Latex(network.latex(step.symbol))


def _working(derivation: chain.Derivation, worked: handout.Pass, parameters: dict[str, float],
             solution: numeric.Solution, decimals: int) -> dict[str, tuple[Latex, ...]]:  # fmt: skip
    """Each asked quantity's worked line from the handout's pass, by answers-file path."""
    network = derivation.network
    symbols = {network.latex(n.z): n.z for n in network.neurons} | {network.latex(n.a): n.a for n in network.neurons}
    lines: dict[str, tuple[Latex, ...]] = {}
    for step in (s for _, steps in worked.forward for s in steps):
        lines[f"forward.{symbols[step.lhs].name}"] = _chain(step.lhs, step.symbolic, step.substituted, step.value)
    for step in worked.losses:
        lines["loss"] = _chain(step.lhs, step.symbolic, step.substituted, step.value)
    for item in worked.deltas:
        form = item.delta_form or (item.path_expressions[0] if item.path_expressions else None)
        lines[f"deltas.{item.name}"] = _chain(item.lhs, form, item.simplified, *item.substituted[:1], item.value)
    for item in worked.gradients:
        lines[f"gradients.{item.name}"] = _chain(item.lhs, item.delta_form, *item.substituted[:1], item.value)
    for name in derivation.gradients:
        symbol = next(p for p in network.parameters if p.name == name)
        if name in network.spec.frozen:
            continue
        gradient = printing.partial(network.loss_symbol, symbol, network)
        old, new = parameters[name], solution.updated[name]
        lines[f"updated.{name}"] = (
            Latex(network.latex(symbol) + r"^{\mathrm{new}}"),
            Latex(rf"{network.latex(symbol)} - \eta \cdot {gradient}"),
            Latex(rf"{_signed(old, decimals, new)} - {printing.number(network.spec.learning_rate, decimals=12)} \cdot "
                  rf"{_signed(solution.gradients[name], decimals)}"),
            Latex(printing.number(new, decimals=decimals, unlike=old)),
        )  # fmt: skip
    return lines


def _chain(*parts: str | None) -> tuple[Latex, ...]:
    """One line a = b = c from the handout's pieces: their leading "=" dropped, and a piece left out when it is
    missing, repeats the one before (δ₃ = 0.51 = 0.51), or is laid out over an align's rows (a wide sum)."""
    line: list[Latex] = []
    for part in parts:
        text = None if part is None else part.removeprefix("= ").strip()
        if text and "&" not in text and (not line or line[-1] != text):
            line.append(Latex(text))
    return tuple(line)


def _signed(value: float, decimals: int, unlike: float | None = None) -> str:
    text = printing.number(value, decimals=decimals, unlike=unlike)
    return rf"\left({text}\right)" if text.startswith("-") else text


def _data(network, example: Example, parameters: dict[str, float], learning_rate: float) -> tuple[tuple[Latex, Latex], ...]:
    """The numbers a student is given, written in full (variants draw two decimals)."""
    number = lambda v: Latex(printing.number(v, decimals=12))  # noqa: E731
    rows = [(Latex(network.latex(s)), number(v)) for s, v in zip(network.inputs, example.inputs)]
    rows += [(Latex(network.latex(s)), number(v)) for s, v in zip(network.targets, example.targets)]
    rows += [(Latex(network.latex(p)), number(parameters[p.name])) for p in network.parameters]
    rows.append((Latex(r"\eta"), number(learning_rate)))
    return tuple(rows)
