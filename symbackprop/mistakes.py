"""The hand calculation as symbolic steps, and the mistakes students make as changes to it.

A `Program` is one example's forward pass, loss, δ's, gradients and update, each
step defined from earlier steps. A `Run` evaluates it with the student's own
values pinned where given. A `Mistake` replaces the expressions of some steps
(or rounds every intermediate value); re-running with it shows whether it
explains a wrong answer.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from symbackprop import mistake_kinds, numeric, wording
from symbackprop.chain import Derivation
from symbackprop.spec import Example
from symbackprop.errors import AnswersError

KINDS = (
    "half_dropped", "half_added", "sign_flipped", "derivative_left_out", "activation_for_derivative",
    "derivative_at_z", "wrong_value_used", "updated_weights_used", "gradient_ascent", "learning_rate_left_out",
    "rounded_early", "bias_left_out", "no_update", "learning_rate_twice", "wrong_weight", "bce_factor_kept",
    "sum_forgotten", "bias_gradient", "wrong_derivative", "kink_derivative", "exp_sign", "log10", "ce_sign_dropped",
    "mean_forgotten", "batch_sum", "batch_divided_twice", "batch_one_example",
    # slips of writing, named by `slips` from the written digits: no changed step gives them
    "truncated", "digits_swapped", "decimal_point_moved", "minus_lost", "wrong_row",
)  # fmt: skip
SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
ROUNDING_DECIMALS = (6, 5, 4, 3, 2, 1)  # most digits first: the report names the least rounding that explains


@dataclass(frozen=True)
class Step:
    """One quantity of the hand calculation and its definition in earlier quantities."""

    name: str  # answers-file path: forward.z1, loss, deltas.delta3, gradients.w11, updated.w11
    label: str  # as printed: z1, L, delta3, ∂L/∂w11, new w11
    symbol: sympy.Symbol
    expression: sympy.Expr


@dataclass(frozen=True)
class Program:
    """The hand calculation as ordered steps (z → h → ŷ → L → δ → gradients → updates)."""

    derivation: Derivation
    steps: dict[sympy.Symbol, Step]  # computation order
    known: dict[sympy.Symbol, float]  # inputs, targets, parameters and η
    eta: sympy.Symbol
    gradient_symbols: dict[str, sympy.Symbol]  # parameter name -> its ∂L/∂p step
    updated_symbols: dict[str, sympy.Symbol]  # parameter name -> its updated-value step
    single: Program | None = None  # a batch's: one example's program, on which the mistakes are built
    copies: tuple[dict[sympy.Symbol, sympy.Symbol], ...] = ()  # a batch's: example n's symbol for each of single's

    def by_name(self) -> dict[str, Step]:
        return {step.name: step for step in self.steps.values()}

    @functools.cached_property
    def position(self) -> dict[sympy.Symbol, int]:
        """Each step's place in computation order."""
        return {symbol: i for i, symbol in enumerate(self.steps)}


def program(derivation: Derivation) -> Program:
    """The steps of the spec's example, or of each example of its batch, from the forward pass to the update.

    Raises:
        AnswersError: the spec has no example.
    """
    network = derivation.network
    spec = network.spec
    if not spec.examples:
        raise AnswersError("spec", "check needs the example the sheet works: give the spec inputs and targets, or data")
    single = _one_example(derivation, spec.examples[0])
    return single if len(spec.examples) == 1 else _batch(single, spec.examples)


def _one_example(derivation: Derivation, example: Example) -> Program:
    network = derivation.network
    spec = network.spec
    eta = sympy.Dummy("eta")
    known = _numbers(network, example, spec.parameters) | {eta: spec.learning_rate}

    steps: list[Step] = []
    for layer in network.layers:
        steps += [Step(f"forward.{n.z.name}", n.z.name, n.z, network.z_definition(n)) for n in layer]
        steps += [Step(f"forward.{n.a.name}", n.a.name, n.a, network.a_definition(n, stable=True)) for n in layer]
    steps.append(Step("loss", "L", network.loss_symbol, network.loss))
    steps += [Step(f"deltas.{s.name}", s.name, s, d.definition) for s, d in derivation.deltas.items()]
    gradient_symbols = {name: sympy.Dummy(f"dL_d{name}") for name in derivation.gradients}
    updated_symbols = {name: sympy.Dummy(f"new_{name}") for name in derivation.gradients}
    for name, gradient in derivation.gradients.items():
        steps.append(Step(f"gradients.{name}", f"∂L/∂{name}", gradient_symbols[name], gradient.delta_form))
    for name, gradient in derivation.gradients.items():
        new = gradient.parameter if name in spec.frozen else gradient.parameter - eta * gradient_symbols[name]
        steps.append(Step(f"updated.{name}", f"new {name}", updated_symbols[name], new))
    return Program(derivation, {s.symbol: s for s in steps}, known, eta, gradient_symbols, updated_symbols)


def with_numbers(prog: Program, example: Example, parameters: Mapping[str, float]) -> Program:
    """`prog` (of one example) with other inputs, targets and parameters: its steps, catalogue and compiled code serve."""
    return dataclasses.replace(prog, known=prog.known | _numbers(prog.derivation.network, example, parameters))


def _numbers(network, example: Example, parameters: Mapping[str, float]) -> dict[sympy.Symbol, float]:
    """The known values of one example's hand calculation: inputs, targets and parameters, by symbol."""
    known = dict(zip(network.inputs, example.inputs)) | dict(zip(network.targets, example.targets))
    return known | {p: parameters[p.name] for p in network.parameters}


def _batch(single: Program, examples: Sequence[Example]) -> Program:
    """Each example's forward pass, loss, δ's and gradients (copies of `single`'s), their means, and the update.

    The mean loss and mean gradients keep `single`'s symbols, so its update steps serve unchanged.
    """
    network = single.derivation.network
    per_example = [s for s in single.steps.values() if not s.name.startswith("updated.")]
    data = {*network.inputs, *network.targets}
    known = {symbol: value for symbol, value in single.known.items() if symbol not in data}
    copies = []
    for n, example in enumerate(examples, start=1):
        copy = {symbol: sympy.Dummy(f"{symbol.name}_{n}") for symbol in [*(s.symbol for s in per_example), *data]}
        known |= {copy[x]: v for x, v in zip(network.inputs, example.inputs)}
        known |= {copy[t]: v for t, v in zip(network.targets, example.targets)}
        copies.append(copy)

    def mean(symbol: sympy.Symbol) -> sympy.Expr:
        return sympy.Add(*(copy[symbol] for copy in copies)) / len(copies)

    steps: list[Step] = []
    for section in ("forward", "loss", "deltas", "gradients"):
        here = [s for s in per_example if s.name.partition(".")[0] == section]
        for n, copy in enumerate(copies, start=1):
            steps += [Step(f"{s.name}[{n}]", _for_example(s.label, n), copy[s.symbol], s.expression.xreplace(copy))
                      for s in here]  # fmt: skip
        if section in ("loss", "gradients"):  # the batch's: the means
            steps += [Step(s.name, s.label, s.symbol, mean(s.symbol)) for s in here]
    steps += [s for s in single.steps.values() if s.name.startswith("updated.")]
    return Program(single.derivation, {s.symbol: s for s in steps}, known, single.eta, single.gradient_symbols,
                   single.updated_symbols, single=single, copies=tuple(copies))  # fmt: skip


def _for_example(label: str, n: int) -> str:
    """z1⁽²⁾, L⁽²⁾, ∂L⁽²⁾/∂w11: a quantity of example n, as the batch handouts write it."""
    mark = "⁽" + str(n).translate(SUPERSCRIPTS) + "⁾"
    return label.replace("L/", f"L{mark}/") if label.startswith("∂L/") else label + mark


@functools.lru_cache(maxsize=4096)
def _compiled(expression: sympy.Expr) -> tuple[tuple[sympy.Symbol, ...], Any]:
    arguments = tuple(sorted(expression.free_symbols, key=sympy.default_sort_key))
    compiled = numeric.compile_expressions(arguments, [expression])  # on internal names, never a user's
    return arguments, lambda *values: compiled(*values)[0]


def compiled_count() -> int:
    """How many distinct step expressions have been compiled in this process: the search's cost."""
    return _compiled.cache_info().misses


class Run:
    """Values of a program's steps, with the student's values pinned where given.

    Args:
        changes: step symbol -> a different expression (a mistake).
        rounding: round every computed value to this many decimals before it is used.
    """

    def __init__(self, prog: Program, pinned: Mapping[sympy.Symbol, float], *,
                 changes: Mapping[sympy.Symbol, sympy.Expr] | None = None, rounding: int | None = None) -> None:  # fmt: skip
        self.program = prog
        self.pinned = pinned
        self.changes = changes or {}
        self.rounding = rounding
        self._values: dict[sympy.Symbol, float] = {}

    def expression(self, symbol: sympy.Symbol) -> sympy.Expr:
        return self.changes.get(symbol, self.program.steps[symbol].expression)

    def value(self, symbol: sympy.Symbol) -> float:
        """The value used downstream: known, pinned by the student, or computed."""
        if symbol in self.program.known:
            return self.program.known[symbol]
        if symbol in self.pinned:  # rounded too, when used rounded although written in full
            return self.pinned[symbol] if self.rounding is None else round(self.pinned[symbol], self.rounding)
        if symbol not in self._values:
            computed = self.compute(symbol)
            self._values[symbol] = computed if self.rounding is None else round(computed, self.rounding)
        return self._values[symbol]

    def compute(self, symbol: sympy.Symbol, *, pins: Mapping[sympy.Symbol, float] | None = None) -> float:
        """The step's value from its inputs, ignoring any value pinned for the step itself.

        Args:
            pins: other values for some of the pinned steps (the student's full values for their written ones).
        """
        if pins is not None:
            return Run(self.program, pins, changes=self.changes, rounding=self.rounding).compute(symbol)
        arguments, function = _compiled(self.expression(symbol))
        with np.errstate(all="ignore"):
            return float(function(*(self.value(a) for a in arguments)))

    def sources(self, symbol: sympy.Symbol) -> list[sympy.Symbol]:
        """Pinned steps this step's value is computed from, reached without passing another pinned one."""
        return sorted((s for s in self._walk(symbol) if s in self.pinned), key=self.program.position.__getitem__)

    def upstream(self, symbol: sympy.Symbol) -> set[sympy.Symbol]:
        """The step and every computed (not pinned) step its value depends on."""
        return {s for s in self._walk(symbol) if s not in self.pinned} | {symbol}

    def _walk(self, symbol: sympy.Symbol) -> set[sympy.Symbol]:
        steps = self.program.steps
        seen: set[sympy.Symbol] = set()
        stack = [a for a in self.expression(symbol).free_symbols if a in steps]
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                if current not in self.pinned:
                    stack += [a for a in self.expression(current).free_symbols if a in steps]
        return seen


@dataclass(frozen=True)
class Mistake:
    """One mistake: which kind, a sentence for the student, and the steps it changes."""

    kind: str  # one of KINDS
    explanation: str
    changes: Mapping[sympy.Symbol, sympy.Expr] = field(default_factory=dict)  # step symbol -> mistaken expression
    rounding: int | None = None  # round every intermediate value to this many decimals
    also: str | None = None  # the kind of a second mistake made at the same time

    @property
    def kinds(self) -> tuple[str, ...]:
        return (self.kind,) if self.also is None else (self.kind, self.also)


def together(program: Program, first: Mistake, second: Mistake, *, say: wording.Words) -> Mistake | None:
    """Two mistakes made at once, or None when they cannot be combined.

    Where both change one step whose definition is a product (a δ), each changes its own
    factors, so the changes multiply: (2·∂L/∂ŷ)·1 for the ½ dropped and f′ left out.
    """
    if first.rounding is not None or second.rounding is not None or first.kind == second.kind:
        return None
    changes = dict(first.changes)
    for symbol, changed in second.changes.items():
        if symbol in changes:
            original = program.steps[symbol].expression
            if not isinstance(original, sympy.Mul):
                return None
            changed = changes[symbol] * changed / original
        changes[symbol] = changed
    return Mistake(first.kind, say("both", first=first.explanation, second=second.explanation), changes,
                   also=second.kind)


def catalogue(program: Program, *, lang: str = "en") -> list[Mistake]:
    """Every mistake that applies to `program`'s network, the commonest first (built in `mistake_kinds`).

    A batch's are one example's, made in every example, and the mistakes of taking the mean.
    Each is explained in `lang` (templates/check/<lang>.txt.j2).
    """
    say = wording.words(lang)
    if program.single is None:
        return mistake_kinds.catalogue(program, say)
    return [*map(functools.partial(_in_every_example, program), mistake_kinds.catalogue(program.single, say)),
            *mistake_kinds.batch_means(program, say)]  # fmt: skip


def _in_every_example(program: Program, mistake: Mistake) -> Mistake:
    changes = {}
    for symbol, changed in mistake.changes.items():
        if symbol in program.copies[0]:
            changes |= {copy[symbol]: changed.xreplace(copy) for copy in program.copies}
        else:  # an update: one for the batch
            changes[symbol] = changed
    return dataclasses.replace(mistake, changes=changes)
