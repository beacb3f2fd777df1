"""The mistakes students make in backpropagation, each as a change to the symbolic hand calculation.

A mistake replaces the expressions of some steps of a `check.Program` (or rounds
every intermediate value); re-running the program with the student's own values
pinned shows whether the mistake explains a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sympy

from symbackprop import ops
from symbackprop.chain import Delta, Factor

if TYPE_CHECKING:
    from symbackprop.check import Program

KINDS = (
    "half_dropped", "half_added", "sign_flipped", "derivative_left_out", "activation_for_derivative",
    "derivative_at_z", "wrong_value_used", "updated_weights_used", "gradient_ascent", "learning_rate_left_out",
    "rounded_early",
)  # fmt: skip
ROUNDING_DECIMALS = (6, 5, 4, 3, 2, 1)  # most digits first: the report names the least rounding that explains


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
    h, z = sympy.Symbol("h"), sympy.Symbol("z")
    for layer in range(1, len(network.layers) + 1):
        name = network.activation(layer)
        if name == ops.SOFTMAX or name == "linear":
            continue
        rule = ops.ELEMENTWISE[name].derivative
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
    """w + η·g instead of w − η·g, and w − g without η, for every trainable parameter."""
    spec = program.derivation.network.spec
    ascent, no_rate = {}, {}
    for name, gradient in program.derivation.gradients.items():
        if name in spec.frozen:
            continue
        g = program.gradient_symbols[name]
        ascent[program.updated_symbols[name]] = gradient.parameter + program.eta * g
        no_rate[program.updated_symbols[name]] = gradient.parameter - g
    return [
        Mistake("gradient_ascent", "the step went up the gradient (w + η·∂L/∂w) instead of down (w − η·∂L/∂w)", ascent),
        Mistake("learning_rate_left_out", "the learning rate η was left out (w − ∂L/∂w instead of w − η·∂L/∂w)", no_rate),
    ]
