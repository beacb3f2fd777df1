"""Numbers from the derivation: compiled forward pass, loss, δ's, gradients and updates.

The derived quantities are assignments (z, h, ŷ, L, δ) in the order backpropagation
computes them. They are handed to `sympy.lambdify` as its common-subexpression list,
so the generated NumPy code evaluates each intermediate once, as the chain rule does.
The code is generated over internal symbols `_v0, _v1, …`, never the spec's names:
a parameter called e, maximum or sum must not shadow what the generated code calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from symbackprop import naming, ops
from symbackprop.chain import Derivation
from symbackprop.errors import SpecError, SymbackpropError
from symbackprop.spec import Example


@dataclass(frozen=True)
class Solution:
    """Values of one gradient-descent step; arrays have one entry per example."""

    forward: dict[str, np.ndarray]  # every z, h and output
    losses: np.ndarray  # per example
    deltas: dict[str, np.ndarray]
    per_example_gradients: dict[str, np.ndarray]
    gradients: dict[str, float]  # mean over the examples
    updated: dict[str, float]  # after one step; frozen parameters unchanged

    @property
    def loss(self) -> float:
        return float(np.mean(self.losses))


def forward_assignments(derivation: Derivation) -> list[tuple[sympy.Symbol, sympy.Expr]]:
    """z and a of each neuron, layer by layer, in the numerically stable forms."""
    network = derivation.network
    steps = []
    for layer in network.layers:
        steps += [(n.z, network.z_definition(n)) for n in layer]
        steps += [(n.a, network.a_definition(n, stable=True)) for n in layer]
    return steps


def loss_assignment(derivation: Derivation) -> tuple[sympy.Symbol, sympy.Expr]:
    """L, from the logits when the ŷ form would take ln(0) at saturation."""
    network = derivation.network
    zs = [n.z for n in network.layers[-1]]
    stable = ops.stable_loss_from_logits(network.spec.loss, network.spec.output_activation, zs, network.targets)
    return network.loss_symbol, stable if stable is not None else network.loss


class Evaluator:
    """Compiled NumPy functions for a derivation: call with examples and parameter values."""

    def __init__(self, derivation: Derivation) -> None:
        self.derivation = derivation
        network = derivation.network
        self.arguments = [*network.inputs, *network.targets, *network.parameters]
        forward = forward_assignments(derivation)
        loss = loss_assignment(derivation)
        backward = [(symbol, delta.definition) for symbol, delta in derivation.deltas.items()]
        self.forward_symbols = [symbol for symbol, _ in forward]
        self.delta_symbols = [symbol for symbol, _ in backward]
        self.parameter_names = list(derivation.gradients)
        gradient_exprs = [g.delta_form for g in derivation.gradients.values()]
        outputs = [*self.forward_symbols, network.loss_symbol, *self.delta_symbols, *gradient_exprs]
        self._full = compile_expressions(self.arguments, outputs, assignments=forward + [loss] + backward)
        # pre-activations of ReLU-like neurons, to tell when a finite difference straddles a kink
        self.kinked = [n.z for n in network.neurons if network.activation(n.layer) != ops.SOFTMAX
                       and network.elementwise(n.layer).has_kink]  # fmt: skip
        self._loss = compile_expressions(self.arguments, [network.loss_symbol, *self.kinked], assignments=forward + [loss])

    def _columns(self, examples: Sequence[Example], parameters: Mapping[str, float]) -> list:
        inputs = np.array([e.inputs for e in examples], dtype=float).T
        targets = np.array([e.targets for e in examples], dtype=float).T
        return [*inputs, *targets, *(float(parameters[p.name]) for p in self.derivation.network.parameters)]

    def solve(self, examples: Sequence[Example], parameters: Mapping[str, float], *, learning_rate: float,
              frozen: Sequence[str] = ()) -> Solution:  # fmt: skip
        """Forward pass, loss, δ's, mean gradients and one step w ← w − η·∂L/∂w."""
        count = len(examples)
        with np.errstate(all="ignore"):  # overflow is reported below, by name, not as a warning
            outputs = [np.broadcast_to(v, (count,)).astype(float) for v in self._full(*self._columns(examples, parameters))]
        names = [*self.forward_symbols, self.derivation.network.loss_symbol, *self.delta_symbols]
        check_finite(zip([*(s.name for s in names), *(f"dL/d{p}" for p in self.parameter_names)], outputs))
        n_forward, n_delta = len(self.forward_symbols), len(self.delta_symbols)
        forward = dict(zip((s.name for s in self.forward_symbols), outputs[:n_forward]))
        losses = outputs[n_forward]
        deltas = dict(zip((s.name for s in self.delta_symbols), outputs[n_forward + 1 : n_forward + 1 + n_delta]))
        per_example = dict(zip(self.parameter_names, outputs[n_forward + 1 + n_delta :]))
        gradients = {name: float(np.mean(values)) for name, values in per_example.items()}
        updated = {
            name: float(parameters[name]) if name in frozen else float(parameters[name]) - learning_rate * gradients[name]
            for name in self.parameter_names
        }
        return Solution(forward, losses, deltas, per_example, gradients, updated)


    def loss_along(self, examples: Sequence[Example], parameters: Mapping[str, float],
                   name: str) -> Callable[[float], tuple[np.ndarray, np.ndarray]]:  # fmt: skip
        """A function of parameter `name`'s value, the others held at `parameters` (for finite differences).

        It returns the loss of each example, and the z of each ReLU-like neuron (rows) per example (columns).
        """
        columns = self._columns(examples, parameters)  # inputs, targets, then every parameter in network order
        names = [p.name for p in self.derivation.network.parameters]
        where = len(columns) - len(names) + names.index(name)
        count = len(examples)

        def at(value: float) -> tuple[np.ndarray, np.ndarray]:
            moved = [*columns[:where], value, *columns[where + 1 :]]
            values = [np.broadcast_to(v, (count,)).astype(float) for v in self._loss(*moved)]
            return values[0], np.array(values[1:]).reshape(len(self.kinked), count)

        return at


class NumericError(SymbackpropError):
    """A value overflowed or became undefined; the message names the first such quantity."""


def check_finite(named: Iterable[tuple[str, np.ndarray]]) -> None:
    """Raise NumericError naming the first quantity, in the order given, that is not a finite number."""
    for name, values in named:
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise NumericError(
                f"{name} is {values[bad[0]]} for example {bad[0] + 1}, the first quantity to leave the "
                "floating-point range; try smaller inputs, parameters or learning rate"
            )


def compile_expressions(arguments: Sequence[sympy.Symbol], outputs: Sequence[sympy.Expr], *,
                        assignments: Sequence[tuple[sympy.Symbol, sympy.Expr]] = ()) -> Callable:  # fmt: skip
    """lambdify `outputs` of `arguments`, computing `assignments` first, in order, as the code's locals.

    Every argument and assigned symbol is renamed to an internal symbol first, so that
    no user's name reaches the generated source.
    """
    internal = naming.internal_symbols([*arguments, *(symbol for symbol, _ in assignments)])
    steps = [(internal[symbol], expr.xreplace(internal)) for symbol, expr in assignments]
    results = [expr.xreplace(internal) for expr in outputs]
    stray = set().union(*(e.free_symbols for e in [*results, *(e for _, e in steps)])) - set(internal.values())
    if stray:  # an expression in a symbol that is neither an argument nor assigned: a bug, not user input
        raise ValueError(f"compile_expressions: no value for {sorted(map(str, stray))}")
    return sympy.lambdify([internal[a] for a in arguments], results, modules=[ops.NUMPY_KERNELS, "numpy"],
                          cse=lambda _exprs: (steps, results))  # fmt: skip


def solve(derivation: Derivation, *, parameters: Mapping[str, float] | None = None,
          examples: Sequence[Example] | None = None) -> Solution:  # fmt: skip
    """Evaluate one gradient-descent step of the derivation's spec (or the given values)."""
    spec = derivation.network.spec
    examples = spec.examples if examples is None else examples
    if not examples:
        raise SpecError("inputs", "missing; give inputs and targets (one example) or data (a batch) to compute numbers")
    return Evaluator(derivation).solve(
        examples, spec.parameters if parameters is None else parameters,
        learning_rate=spec.learning_rate, frozen=spec.frozen,
    )  # fmt: skip
