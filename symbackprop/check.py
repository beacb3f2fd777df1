"""Mark a student's hand calculation: precision-aware comparison, error carried forward, diagnosis.

A student's answers (read by `student_sheet`) have the shape of ``solve --json``
(forward, loss, deltas, gradients, updated). Each value is compared with the exact one at the precision
it was written with, and at least at the precision the question asks for, so a
coarse 0.58 or an untouched weight is not right by accident. A wrong value is
re-computed from the student's own earlier values as written (error carried
forward) and, when that fails too, from each mistake in `symbackprop.mistakes`
until one explains it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import sympy

from symbackprop import mistakes, numbers, numeric, slips, wording
from symbackprop.chain import Derivation
from symbackprop.errors import AnswersError, did_you_mean, listing, printable, shorten
from symbackprop.student_sheet import Answers, Written

STATUSES = ("correct", "wrong", "carried_forward")
# Compiling a mistaken step is the search's cost (the seed sheet needs 15); the limit bounds a wide
# network's sheet with many wrong values to seconds, and is a count, so every machine marks alike.
MAX_COMPILED = 300
DECIMALS = 4  # the precision a question asks for unless it says otherwise
MIN_RELATIVE_PRECISION = 0.02  # with fewer digits (0.5 for 1.489) a wrong value matches some mistake by chance


@dataclass(frozen=True)
class Candidate:
    """One explanation of a wrong value: the kinds of mistake (two when made together) and the sentence."""

    kinds: tuple[str, ...]
    explanation: str


@dataclass(frozen=True)
class Mark:
    """The verdict on one given value."""

    name: str
    label: str
    given: Written
    expected: float
    status: str  # one of STATUSES
    diagnosis: str  # empty when correct
    mistakes: tuple[str, ...]  # kinds from symbackprop.mistakes that explain a wrong value
    from_own_values: float | None  # the value that follows from the student's earlier values
    certain: bool = False  # the diagnosis names the one mistake that explains the value, not candidates
    candidates: tuple[Candidate, ...] = ()  # every explanation found, most likely first


@dataclass(frozen=True)
class Marking:
    """Every given value marked, in computation order, and the first wrong step."""

    title: str
    marks: tuple[Mark, ...]
    tolerance: float | None
    decimals: int = DECIMALS  # the precision asked for: every value must agree with the exact one at least this far

    @property
    def root_cause(self) -> Mark | None:
        return next((m for m in self.marks if m.status == "wrong"), None)

    @property
    def ok(self) -> bool:
        return self.root_cause is None


def expected_values(derivation: Derivation) -> dict[str, float]:
    """The engine's exact value of every quantity, by answers-file path (a batch's per example: forward.z1[2])."""
    spec = derivation.network.spec
    solution = numeric.Evaluator(derivation).solve(spec.examples, spec.parameters, learning_rate=spec.learning_rate,
                                                   frozen=spec.frozen)  # fmt: skip
    batch = len(spec.examples) > 1
    values: dict[str, float] = {}
    for n in range(len(spec.examples)):
        at = f"[{n + 1}]" if batch else ""
        values |= {f"forward.{name}{at}": v[n] for name, v in solution.forward.items()}
        values |= {f"deltas.{name}{at}": v[n] for name, v in solution.deltas.items()}
        if batch:
            values[f"loss[{n + 1}]"] = solution.losses[n]
            values |= {f"gradients.{name}[{n + 1}]": v[n] for name, v in solution.per_example_gradients.items()}
    values["loss"] = solution.loss
    values |= {f"gradients.{n}": v for n, v in solution.gradients.items()}
    values |= {f"updated.{n}": v for n, v in solution.updated.items()}
    return {name: float(value) + 0.0 for name, value in values.items()}  # + 0.0: a δ through ReLU's kink is 0, not -0


def check(derivation: Derivation, answers: Answers, *, tolerance: float | None = None, decimals: int = DECIMALS,
          source: str = "answers", lang: str = "en") -> Marking:  # fmt: skip
    """Mark each given value correct, carried forward or wrong, and diagnose the wrong ones.

    A value is correct when it agrees with the exact value to the decimals it is written
    with and to at least `decimals`: 0.33 for 0.3300 is right, 0.58 for 0.5818 is not.
    It is carried forward when the step worked from the student's own earlier values gives
    it to the same precision: from those values as written, or in full, where a value right
    from right values has the exact digits and any other may have any unwritten digits its
    precision allows. A wrong value is explained by the catalogue's mistakes (one, or two
    in one δ) and by slips of writing: stated when one explanation fits, listed as
    "consistent with" candidates when several do.

    Args:
        tolerance: absolute tolerance for every value instead of its written precision.
        decimals: the precision the question asks for.
        source: the answers' file name, for error messages.
        lang: the language of the diagnoses (templates/check/<lang>.txt.j2).

    Raises:
        AnswersError: an unknown quantity name, or a spec without an example.
    """
    if tolerance is not None and not (math.isfinite(tolerance) and tolerance > 0):
        raise AnswersError("--tolerance", f"must be a positive number, got {tolerance:g}")
    if decimals < 0:
        raise AnswersError("decimals", f"must be a whole number of at least 0, got {decimals}")
    say = wording.words(lang)
    prog = mistakes.program(derivation)
    steps = prog.by_name()
    for name in answers:
        if name not in steps:
            raise AnswersError(f"{source}: {name}", _unknown(name, steps, examples=len(derivation.network.spec.examples)))
    expected = expected_values(derivation)
    pinned = {steps[n].symbol: w.value for n, w in answers.items()}
    # what each value claims (for the mistake search), and how close it must be to count (for the marks)
    uncertainty = {steps[n].symbol: (tolerance if tolerance is not None else w.half_unit) for n, w in answers.items()}
    slack = {steps[n].symbol: (tolerance if tolerance is not None else 0.5 * 10.0 ** -max(w.decimals, decimals))
             for n, w in answers.items()}  # fmt: skip
    own = mistakes.Run(prog, pinned)
    sections = _sections(prog, answers, expected, say)
    catalogue = mistakes.catalogue(prog, lang=lang)
    budget = mistakes.compiled_count() + MAX_COMPILED  # for the whole sheet, shared by every wrong value

    marks = []
    correct: set[sympy.Symbol] = set()
    exact: set[sympy.Symbol] = set()  # right, and worked from right values only
    for symbol, step in prog.steps.items():
        if step.name not in answers:
            continue
        given = answers[step.name]
        if _agrees(given.value, expected[step.name], slack[symbol]):
            correct.add(symbol)
            if all(source in exact for source in own.sources(symbol)):
                exact.add(symbol)  # right from right values: the student's unwritten digits are the exact ones
            marks.append(Mark(step.name, step.label, given, expected[step.name], "correct", "", (), None))
            continue
        # the student went on from their values as written, or in full: the full value of one worked right from
        # right values is the exact one; any other's unwritten digits are unknown to the precision it is held to
        in_full = pinned | {s: expected[prog.steps[s].name] for s in exact}
        follows, spread = _spread(own, slack, symbol, known=exact)
        sources = own.sources(symbol)
        if any(_agrees(given.value, v, slack[symbol] + spread) for v in (follows, own.compute(symbol, pins=in_full))):
            wrong_sources = [prog.steps[s].label for s in sources if s not in correct]
            diagnosis = (say("follows_from", labels=wrong_sources) if wrong_sources
                         else say("follows_from_rounded", labels=[prog.steps[s].label for s in sources]))  # fmt: skip
            marks.append(Mark(step.name, step.label, given, expected[step.name], "carried_forward", diagnosis, (), follows))
            continue
        coarse = tolerance is None and given.decimals < decimals  # fewer digits than asked: any match is by chance
        if coarse or uncertainty[symbol] > MIN_RELATIVE_PRECISION * max(abs(given.value), abs(expected[step.name])):
            marks.append(Mark(step.name, step.label, given, expected[step.name], "wrong", say("too_few_digits"), (), follows))
            continue
        search = functools.partial(_explain, prog, (pinned, in_full), uncertainty, symbol=symbol, given=given.value,
                                   budget=budget, known=exact)  # fmt: skip
        explained = search(catalogue)
        if not explained and step.name.startswith("deltas."):
            explained = search(_pairs(prog, catalogue, symbol, say))
        candidates = [Candidate(m.kinds, m.explanation) for m in explained]
        candidates += [Candidate((s.kind,), s.explanation) for s in _slips(sections, expected, step, given, follows, say)]
        searched = mistakes.compiled_count() < budget
        marks.append(_diagnosed(step, given, expected[step.name], follows, candidates, searched=searched, say=say))
    return Marking(derivation.network.spec.title, _one_story(marks), tolerance, decimals)


def _unknown(name: str, steps: Mapping[str, mistakes.Step], *, examples: int) -> str:
    base, _, index = name.partition("[")
    if index and examples == 1 and base in steps:
        return "one value per example was given, but the spec has one example: give one number"
    if index and f"{base}[1]" in steps:
        return f"the spec has {examples} examples; give at most one value for each"
    if not index and f"{name}[1]" in steps:
        return f"the spec has a batch of {examples} examples: give one value per example, e.g. [0.33, 0.42]"
    section, _, quantity = name.partition(".")
    valid = [n.partition(".")[2] for n in steps if n.startswith(section + ".")]
    # matching whole paths suggests z1 for z9 and deltas.delta3 for forward.delta3
    return f"no quantity named '{shorten(quantity)}'{did_you_mean(name, steps)}; {section} names: {listing(valid)}"


def _agrees(given: float, value: float, slack: float) -> bool:
    # the relative margin absorbs binary rounding of numbers such as 0.245
    return math.isfinite(value) and abs(given - value) <= slack * (1 + 1e-9) + 1e-15 * abs(value)


def _spread(run: mistakes.Run, uncertainty: Mapping[sympy.Symbol, float], symbol: sympy.Symbol, *,
            known: Collection[sympy.Symbol] = ()) -> tuple[float, float]:  # fmt: skip
    """The step's value in `run`, and how far the unwritten digits of the pinned values it uses could move it.

    `known` sources are not moved: their full value is known.

    First order: each pinned source is moved by its own uncertainty in turn, down and up, and
    the smaller move counts. A source written exactly on a kink (z1 = 0 under ReLU) thus keeps
    the derivative the engine documents there instead of licensing both sides of it.
    """
    value = run.compute(symbol)
    spread = 0.0
    for source in run.sources(symbol):
        if source in known:
            continue
        moves = []
        for sign in (-1, 1):
            moved = {**run.pinned, source: run.pinned[source] + sign * uncertainty[source]}
            shifted = mistakes.Run(run.program, moved, changes=run.changes, rounding=run.rounding).compute(symbol)
            if math.isfinite(shifted):
                moves.append(abs(shifted - value))
        spread += min(moves, default=0.0)
    return value, spread


def _explain(prog: mistakes.Program, values: tuple[Mapping[sympy.Symbol, float], Mapping[sympy.Symbol, float]],
             uncertainty: Mapping[sympy.Symbol, float], catalogue: Iterable[mistakes.Mistake], *, symbol: sympy.Symbol,
             given: float, budget: int, known: Collection[sympy.Symbol]) -> list[mistakes.Mistake]:  # fmt: skip
    """The catalogue's mistakes that explain `given`, tried until mistakes.compiled_count() reaches `budget`.

    Each mistake is worked from the student's values as written and in full (`values`); `known`
    are those whose unwritten digits are known (see `_spread`).
    """
    pinned, in_full = values
    explained: list[mistakes.Mistake] = []
    # a changed step is reached only through unchanged ones, so the correct upstream decides relevance
    upstream = mistakes.Run(prog, pinned).upstream(symbol)
    kinds: set[tuple[str, ...]] = set()
    for mistake in catalogue:
        if mistakes.compiled_count() >= budget:
            break
        if mistake.kinds in kinds:
            continue  # one explanation per kind: the narrowest, or the most digits for rounding
        if mistake.rounding is None and upstream.isdisjoint(mistake.changes):
            continue  # the mistake changes nothing this value is computed from
        run = mistakes.Run(prog, pinned, changes=mistake.changes, rounding=mistake.rounding)
        value, spread = _spread(run, uncertainty, symbol, known=known)
        if any(_agrees(given, v, uncertainty[symbol] + spread) for v in (value, run.compute(symbol, pins=in_full))):
            explained.append(mistake)
            kinds.add(mistake.kinds)
    return explained


def _pairs(prog: mistakes.Program, catalogue: list[mistakes.Mistake], symbol: sympy.Symbol,
           say: wording.Words) -> Iterator[mistakes.Mistake]:  # fmt: skip
    """Two mistakes made in one step at once, from those that change it; made as the search asks, within its budget."""
    here = [m for m in catalogue if symbol in m.changes and m.rounding is None]
    combined = (mistakes.together(prog, a, b, say=say) for i, a in enumerate(here) for b in here[i + 1:])
    return (m for m in combined if m is not None)


def _sections(prog: mistakes.Program, answers: Answers, expected: Mapping[str, float],
              say: wording.Words) -> dict[str, slips.Rows]:  # fmt: skip
    """Each section's rows, exact and as the student wrote them, for a value copied from the wrong row."""
    values: dict[str, dict[str, float]] = {}
    for step in prog.steps.values():
        if step.name not in expected:
            continue  # a batch's working between its examples and their mean
        rows = values.setdefault(step.name.partition(".")[0], {})
        rows[step.label] = expected[step.name]
        if step.name in answers:
            rows[say("yours", label=step.label)] = answers[step.name].value
    return {section: slips.Rows(rows) for section, rows in values.items()}


def _slips(sections: Mapping[str, slips.Rows], expected: Mapping[str, float], step: mistakes.Step, given: Written,
           follows: float, say: wording.Words) -> list[slips.Slip]:  # fmt: skip
    """Slips of writing from the exact value or the one the student's own values give, one per kind."""
    rows = sections[step.name.partition(".")[0]]
    besides = (step.label, say("yours", label=step.label))
    found = slips.find(given, expected[step.name], say=say, rows=rows, besides=besides)
    found += slips.find(given, follows, say=say)
    return list({s.kind: s for s in found}.values())


def _diagnosed(step: mistakes.Step, given: Written, expected: float, follows: float,
               candidates: list[Candidate], *, searched: bool, say: wording.Words) -> Mark:  # fmt: skip
    """A wrong value's mark: the one explanation as fact, several as candidates, or none."""
    kinds = tuple(dict.fromkeys(k for c in candidates for k in c.kinds))
    if len(candidates) == 1 and searched:
        return Mark(step.name, step.label, given, expected, "wrong", candidates[0].explanation, kinds, follows,
                    certain=True, candidates=tuple(candidates))  # fmt: skip
    if candidates:
        diagnosis = say("consistent", candidates=[c.explanation for c in candidates])  # most likely first
    else:
        diagnosis = say("no_explanation") if searched else say("search_stopped", limit=MAX_COMPILED)
    return Mark(step.name, step.label, given, expected, "wrong", diagnosis, kinds, follows, candidates=tuple(candidates))


def _one_story(marks: list[Mark]) -> tuple[Mark, ...]:
    """Where several explanations fit one value, the one that explains more of the sheet's other wrong values.

    2·δ1·x1 with the ½ dropped equals δ1 when x1 = 0.5, so ∂L/∂w11 alone could be a copy of ∂L/∂b1;
    when the ½ dropped explains the other wrong values and a copy explains none, the ½ is the diagnosis.
    """
    wrong = [m for m in marks if m.status == "wrong"]
    told = []
    for mark in marks:
        if len(mark.candidates) > 1:
            others = [set(o.mistakes) for o in wrong if o is not mark]
            fits = sorted(((sum(set(c.kinds) <= kinds for kinds in others), c) for c in mark.candidates),
                          key=lambda pair: -pair[0])  # fmt: skip
            if fits[0][0] > fits[1][0]:
                best = fits[0][1]
                mark = dataclasses.replace(mark, diagnosis=best.explanation, mistakes=best.kinds, certain=True)
        told.append(mark)
    return tuple(told)


def marking_json(marking: Marking) -> dict[str, Any]:
    """The ``check --json`` contract: one entry per given value, plus the root cause."""
    root = marking.root_cause
    return {
        "title": marking.title,
        "ok": marking.ok,
        "tolerance": marking.tolerance,
        "quantities": [
            {"name": m.name, "given": m.given.value, "written": m.given.text, "expected": m.expected,
             "status": m.status, "diagnosis": m.diagnosis or None, "mistakes": list(m.mistakes),
             "from_own_values": numbers.or_null(m.from_own_values), "certain": m.certain}
            for m in marking.marks
        ],  # fmt: skip
        "counts": {status: sum(m.status == status for m in marking.marks) for status in STATUSES},
        "root_cause": None if root is None else {"name": root.name, "diagnosis": root.diagnosis},
    }


_COLOURS = {"correct": "\033[32m", "wrong": "\033[31m", "carried_forward": "\033[33m"}


def marking_text(marking: Marking, *, colour: bool = False) -> str:
    """A table of the marks, a count, and the first wrong step with its diagnosis."""
    rows = []
    for m in marking.marks:  # the user's names spelled out before our colours go in: the CLI prints this as it is
        digits = min(max(m.given.decimals, 0) + 2, 12)
        rows.append([printable(m.label), m.given.text, f"{m.expected:.{digits}f}", m.status.replace("_", " "),
                     printable(m.diagnosis)])  # fmt: skip
    header = ["quantity", "given", "exact", "status", "diagnosis"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str], status: str | None = None) -> str:
        padded = [c.ljust(w) for c, w in zip(cells, widths)]
        if colour and status is not None:
            padded[3] = f"{_COLOURS[status]}{padded[3]}\033[0m"
        return ("  " + "  ".join(padded)).rstrip()

    precision = (f"tolerance ±{marking.tolerance:g}" if marking.tolerance is not None
                 else f"each value at its written precision, and to at least {marking.decimals} decimals")  # fmt: skip
    lines = [f"Checking answers for: {printable(marking.title)}" if marking.title else "Checking answers", f"({precision})", ""]
    lines += [line(header), line(["-" * w for w in widths])]
    lines += [line(row, m.status) for row, m in zip(rows, marking.marks)]
    counts = {s: sum(m.status == s for m in marking.marks) for s in STATUSES}
    lines += ["", f"{counts['correct']} correct, {counts['carried_forward']} carried forward, {counts['wrong']} wrong"]
    root = marking.root_cause
    if root is None:
        lines.append("Every given value is right (or follows correctly from your earlier values).")
    else:
        lines.append(f"First wrong step: {root.label} = {root.given.text}, exact {root.expected:.6g}: {root.diagnosis}")
    return "\n".join(lines)
