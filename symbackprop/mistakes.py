"""The hand calculation as symbolic steps, and the mistakes students make as changes to it.

A `Program` is one example's forward pass, loss, δ's, gradients and update, each
step defined from earlier steps. A `Run` evaluates it with the student's own
values pinned where given. A `Mistake` replaces the expressions of some steps
(or rounds every intermediate value); re-running with it shows whether it
explains a wrong answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy

from symbackprop import numeric, ops
from symbackprop.chain import Delta, Derivation, Factor
from symbackprop.errors import AnswersError

KINDS = (
    "half_dropped", "half_added", "sign_flipped", "derivative_left_out", "activation_for_derivative",
    "derivative_at_z", "wrong_value_used", "updated_weights_used", "gradient_ascent", "learning_rate_left_out",
    "rounded_early", "bias_left_out", "no_update", "learning_rate_twice", "wrong_weight", "bce_factor_kept",
    "truncated",  # named by check.py from the written digits: no changed step gives it
)  # fmt: skip
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

    def by_name(self) -> dict[str, Step]:
        return {step.name: step for step in self.steps.values()}


def program(derivation: Derivation) -> Program:
    """The steps of one example's forward pass, loss, δ's, gradients and update.

    Raises:
        AnswersError: the spec has no example, or a batch of several.
    """
    network = derivation.network
    spec = network.spec
    if len(spec.examples) != 1:
        found = "none" if not spec.examples else f"a batch of {len(spec.examples)}"
        raise AnswersError("spec", f"check marks one example at a time; give the spec inputs and targets (it has {found})")
    example = spec.examples[0]
    eta = sympy.Dummy("eta")
    known = dict(zip(network.inputs, example.inputs)) | dict(zip(network.targets, example.targets))
    known |= {p: spec.parameters[p.name] for p in network.parameters} | {eta: spec.learning_rate}

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
        if symbol in self.pinned:
            return self.pinned[symbol]
        if symbol not in self._values:
            computed = self.compute(symbol)
            self._values[symbol] = computed if self.rounding is None else round(computed, self.rounding)
        return self._values[symbol]

    def compute(self, symbol: sympy.Symbol) -> float:
        """The step's value from its inputs, ignoring any value pinned for the step itself."""
        arguments, function = _compiled(self.expression(symbol))
        with np.errstate(all="ignore"):
            return float(function(*(self.value(a) for a in arguments)))

    def sources(self, symbol: sympy.Symbol) -> list[sympy.Symbol]:
        """Pinned steps this step's value is computed from, reached without passing another pinned one."""
        walked = self._walk(symbol)
        return [s for s in self.program.steps if s in walked and s in self.pinned]

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


def catalogue(program: Program) -> list[Mistake]:
    """Every mistake that applies to `program`'s network, the commonest first."""
    return [
        *_loss_scale(program), *_sign_flipped(program), *_activation_derivatives(program),
        *_wrong_values(program), *_updated_weights(program), *_update_rule(program),
        *_bias_left_out(program), *_wrong_weights(program), *_bce_factor_kept(program),
        *(Mistake("rounded_early", f"intermediate values were rounded to {d} decimals too early; keep more digits "
                  "until the end", rounding=d) for d in ROUNDING_DECIMALS),
    ]  # fmt: skip


def _output_deltas(program: Program) -> list[Delta]:
    network = program.derivation.network
    return [program.derivation.deltas[n.delta] for n in network.layers[-1]]


def _rebuild(delta: Delta, replace: Callable[[Factor], sympy.Expr | None]) -> sympy.Expr:
    """δ as the sum over its Leibniz terms of the product of factors, some replaced."""
    total = sympy.S.Zero
    for term in delta.terms:
        product = sympy.S.One
        for factor in term:
            changed = replace(factor)
            product *= factor.expression if changed is None else changed
        total += product
    return total


def _loss_derivative_scaled(program: Program, scale: sympy.Expr) -> dict[sympy.Symbol, sympy.Expr]:
    """Output δ's with ∂L/∂ŷ multiplied by `scale`."""
    network = program.derivation.network
    is_loss_factor = lambda f: f.of == network.loss_symbol  # noqa: E731
    return {
        d.neuron.delta: _rebuild(d, lambda f: scale * f.expression if is_loss_factor(f) else None)
        for d in _output_deltas(program)
    }


def _loss_scale(program: Program) -> list[Mistake]:
    network = program.derivation.network
    loss = network.spec.loss
    if loss == "half_squared_error":
        scale, kind, text = 2, "half_dropped", "the ½ of the squared error ½(ŷ − t)² was dropped: a factor 2 too large"
    elif loss in ("squared_error", "mse"):
        scale, kind, text = sympy.Rational(1, 2), "half_added", "a ½ was added to the squared error: a factor 2 too small"
    else:
        return []
    changes = {network.loss_symbol: scale * network.loss, **_loss_derivative_scaled(program, scale)}
    return [Mistake(kind, text, changes)]


def _sign_flipped(program: Program) -> list[Mistake]:
    squared = program.derivation.network.spec.loss in ("half_squared_error", "squared_error", "mse")
    text = ("the sign of (ŷ − t) is flipped: (t − ŷ) was used" if squared
            else "the sign of ∂L/∂ŷ is flipped")  # fmt: skip
    return [Mistake("sign_flipped", text, _loss_derivative_scaled(program, sympy.S.NegativeOne))]


def _layer_name(program: Program, layer: int) -> str:
    depth = len(program.derivation.network.layers)
    return "the output layer" if layer == depth else f"hidden layer {layer}"


def _activation_derivatives(program: Program) -> list[Mistake]:
    """f' left out, f(z) used for f'(z), or f' taken at z instead of from h: per layer, then everywhere."""
    network = program.derivation.network
    variants: dict[str, list[tuple[str, dict]]] = {k: [] for k in ("derivative_left_out", "activation_for_derivative", "derivative_at_z")}  # fmt: skip
    z = sympy.Symbol("z")
    for layer in range(1, len(network.layers) + 1):
        name = network.activation(layer)
        if name == ops.SOFTMAX or name == "linear":
            continue
        rule = network.elementwise(layer).derivative
        a = sympy.Symbol("ŷ" if layer == len(network.layers) else "h")
        derivative = _plain(rule(z, a))
        at_z = _plain(rule(z, z))
        neurons = {n.a: n for n in network.layers[layer - 1]}
        local = lambda f, neurons=neurons: f.wrt in {n.z for n in neurons.values()} and f.of in neurons  # noqa: E731
        where = _layer_name(program, layer)
        replacements = {
            "derivative_left_out": (f"the activation derivative {derivative} was left out in {where}",
                                    lambda f: sympy.S.One),
            "activation_for_derivative": (f"{name}(z) = {a} was used instead of its derivative {derivative} in {where}",
                                          lambda f: f.of),
            "derivative_at_z": (f"the activation derivative was taken at z instead of from {a} ({at_z} instead of "
                                f"{derivative}) in {where}", lambda f: f.expression.xreplace({f.of: f.wrt})),
        }  # fmt: skip
        for kind, (text, replace) in replacements.items():
            if kind == "derivative_at_z" and at_z == derivative:
                continue  # f' does not depend on h (ReLU), so nothing changes
            changes = {
                d.neuron.delta: _rebuild(d, lambda f, replace=replace, local=local: replace(f) if local(f) else None)
                for d in program.derivation.deltas.values()
                if d.neuron.layer == layer
            }
            variants[kind].append((text, changes))
    mistakes = []
    for kind, found in variants.items():
        mistakes += [Mistake(kind, text, changes) for text, changes in found]
        if len(found) > 1:
            everywhere = {s: e for _, changes in found for s, e in changes.items()}
            mistakes.append(Mistake(kind, found[0][0].rsplit(" in ", 1)[0] + " in every layer", everywhere))
    return mistakes


def _plain(expr: sympy.Expr) -> str:
    """An expression as a student writes it: h·(1 − h)."""
    return sympy.sstr(expr).replace("**", "^").replace("*", "·").replace(" - ", " − ")


def _wrong_values(program: Program) -> list[Mistake]:
    """One input or hidden value used for another (x1 for x2), or z for h, in one z or one gradient."""
    network = program.derivation.network
    mistakes = []

    def swaps(step_symbol: sympy.Symbol, label: str, expression: sympy.Expr, layer: int) -> None:
        sources = network.sources(layer)
        hidden = {n.a: n.z for n in network.layers[layer - 2]} if layer > 1 else {}
        for source in sources:
            if source not in expression.free_symbols:
                continue
            for other in [s for s in sources if s != source] + ([hidden[source]] if source in hidden else []):
                changed = expression.xreplace({source: other})
                mistakes.append(Mistake("wrong_value_used", f"{other} was used instead of {source} in {label}",
                                        {step_symbol: changed}))  # fmt: skip

    for neuron in network.neurons:
        swaps(neuron.z, neuron.z.name, network.z_definition(neuron), neuron.layer)
    for name, gradient in program.derivation.gradients.items():
        layers = {o.neuron.layer for o in gradient.occurrences if o.source is not None}
        if len(layers) == 1:
            swaps(program.gradient_symbols[name], f"∂L/∂{name}", gradient.delta_form, layers.pop())
    return mistakes


def _updated_weights(program: Program) -> list[Mistake]:
    """A hidden δ computed with the next layer's weights already updated."""
    network = program.derivation.network
    by_symbol = {p: p.name for p in network.parameters}
    mistakes = []
    for symbol, delta in program.derivation.deltas.items():
        if delta.neuron.layer == len(network.layers):
            continue
        weights = [nxt.weights[delta.neuron.index] for nxt in network.layers[delta.neuron.layer]]
        new = {w: program.updated_symbols[by_symbol[w]] for w in weights}
        names = ", ".join(w.name for w in weights)
        mistakes.append(Mistake("updated_weights_used",
                                f"the updated {names} (after the step) was used instead of the original in {symbol}",
                                {symbol: delta.definition.xreplace(new)}))  # fmt: skip
    return mistakes


def _update_rule(program: Program) -> list[Mistake]:
    """w + η·g, w − g, w unchanged or w − η²·g instead of w − η·g, for every trainable parameter."""
    spec = program.derivation.network.spec
    ascent, no_rate, unchanged, rate_twice = {}, {}, {}, {}
    for name, gradient in program.derivation.gradients.items():
        if name in spec.frozen:
            continue
        g, new, w = program.gradient_symbols[name], program.updated_symbols[name], gradient.parameter
        ascent[new] = w + program.eta * g
        no_rate[new] = w - g
        unchanged[new] = w
        rate_twice[new] = w - program.eta**2 * g
    mistakes = [
        Mistake("gradient_ascent", "the step went up the gradient (w + η·∂L/∂w) instead of down (w − η·∂L/∂w)", ascent),
        Mistake("learning_rate_left_out", "the learning rate η was left out (w − ∂L/∂w instead of w − η·∂L/∂w)", no_rate),
        Mistake("no_update", "the old value was written as the updated one (w instead of w − η·∂L/∂w)", unchanged),
    ]
    if spec.learning_rate != 1:  # with η = 1, η² = η and nothing changes
        text = "the learning rate η was used twice (w − η²·∂L/∂w instead of w − η·∂L/∂w)"
        mistakes.append(Mistake("learning_rate_twice", text, rate_twice))
    return mistakes


def _bias_left_out(program: Program) -> list[Mistake]:
    """One neuron's bias left out of its z."""
    network = program.derivation.network
    return [
        Mistake("bias_left_out", f"the bias {n.bias} was left out of {n.z}",
                {n.z: network.z_definition(n).xreplace({n.bias: sympy.S.Zero})})
        for n in network.neurons
        if n.bias is not None
    ]  # fmt: skip


def _wrong_weights(program: Program) -> list[Mistake]:
    """A neighbouring weight used for another: in one z (w12 for w11, or transposed w21 for w12), or in one hidden δ.

    Neighbours only (the weights either side on the sheet): a wide layer adds a few mistakes per weight, not a square.
    """
    network = program.derivation.network
    mistakes = []

    def swap(step_symbol: sympy.Symbol, expression: sympy.Expr, weight: sympy.Symbol, other: sympy.Symbol) -> None:
        if other != weight and weight in expression.free_symbols:
            mistakes.append(Mistake("wrong_weight", f"{other} was used instead of {weight} in {step_symbol}",
                                    {step_symbol: expression.xreplace({weight: other})}))  # fmt: skip

    def neighbours(weights: tuple[sympy.Symbol, ...], k: int) -> list[sympy.Symbol]:
        return [weights[i] for i in (k - 1, k + 1) if 0 <= i < len(weights)]  # w31 ↔ w32: the next one on the sheet

    for neuron in network.neurons:
        same_layer = network.layers[neuron.layer - 1]
        for k, weight in enumerate(neuron.weights):
            for other in neighbours(neuron.weights, k):
                swap(neuron.z, network.z_definition(neuron), weight, other)
            if k < len(same_layer) and neuron.index < len(same_layer[k].weights):  # indices swapped: w_kj for w_jk
                swap(neuron.z, network.z_definition(neuron), weight, same_layer[k].weights[neuron.index])
    for symbol, delta in program.derivation.deltas.items():
        if delta.neuron.layer == len(network.layers):
            continue
        for nxt in network.layers[delta.neuron.layer]:
            for other in neighbours(nxt.weights, delta.neuron.index):
                swap(symbol, delta.definition, nxt.weights[delta.neuron.index], other)
    return mistakes


def _bce_factor_kept(program: Program) -> list[Mistake]:
    """With sigmoid and binary cross-entropy, σ′ kept: δ = (ŷ − t)·ŷ·(1 − ŷ) instead of ŷ − t."""
    network = program.derivation.network
    if network.spec.loss != "binary_cross_entropy":
        return []
    changes = {}
    for delta in _output_deltas(program):
        n = delta.neuron
        local = [f.expression for term in delta.terms for f in term if f.of == n.a and f.wrt == n.z]
        changes[n.delta] = delta.definition * local[0]
    return [Mistake("bce_factor_kept", "the sigmoid's derivative ŷ·(1 − ŷ) was kept in the output δ: with binary "
                    "cross-entropy it cancels, so δ = ŷ − t", changes)]  # fmt: skip
