"""The chain rule for every parameter: local factors, δ error signals, expanded forms, proof.

Backpropagation works through intermediate symbols: each δ_j = ∂L/∂z_j is
defined once from the δ's of the layer after it, and each gradient is a δ
times a source value. Expanded forms and the `sympy.diff` proof are built
only for networks small enough to write out.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

import sympy

from symbackprop import ops
from symbackprop.graph import Network, Neuron

MAX_PATHS = 64  # beyond this many chain-rule paths per parameter, only the δ form is kept
EXPAND_LIMIT = 64  # connections up to which gradients are also written in x, t and parameters


@dataclass(frozen=True)
class Factor:
    """One local partial derivative ∂(of)/∂(wrt) and its expression in the seeds' terms."""

    of: sympy.Symbol
    wrt: sympy.Symbol
    expression: sympy.Expr


Chain = tuple[Factor, ...]  # a product of factors along one path from L to a parameter


@dataclass(frozen=True)
class Delta:
    """δ = ∂L/∂z of one neuron: its Leibniz terms and its definition reusing later δ's."""

    neuron: Neuron
    terms: tuple[Chain, ...]  # output: ∂L/∂ŷ_m·∂ŷ_m/∂z; hidden: δ_i·∂z_i/∂h·∂h/∂z
    definition: sympy.Expr


@dataclass(frozen=True)
class Occurrence:
    """A place where a parameter enters: neuron's z, multiplied by `source` (None for a bias)."""

    neuron: Neuron
    source: sympy.Symbol | None

    @property
    def local(self) -> sympy.Expr:
        """∂z/∂parameter at this place."""
        return self.source if self.source is not None else sympy.S.One


@dataclass(frozen=True)
class Gradient:
    """∂L/∂parameter: every chain-rule path, the δ form and, when small, the expanded form."""

    parameter: sympy.Symbol
    occurrences: tuple[Occurrence, ...]
    chains: tuple[Chain, ...] | None  # None when there are more than MAX_PATHS paths
    delta_form: sympy.Expr
    expanded: sympy.Expr | None


@dataclass(frozen=True)
class Derivation:
    """Everything the chain rule says about a network, per parameter and per neuron."""

    network: Network
    loss_derivatives: dict[sympy.Symbol, sympy.Expr]  # ŷ_k -> ∂L/∂ŷ_k
    deltas: dict[sympy.Symbol, Delta]  # δ symbol -> Delta, output layer first
    gradients: dict[str, Gradient]  # parameter name -> Gradient, network order
    expanded_values: dict[sympy.Symbol, sympy.Expr] | None  # z, h, ŷ, δ in x, t, parameters

    def trainable(self) -> list[str]:
        return [n for n in self.gradients if n not in self.network.spec.frozen]


def derive(network: Network, *, expand: bool | None = None) -> Derivation:
    """Derive ∂L/∂p for every parameter p of `network` by the chain rule.

    Args:
        expand: write gradients in inputs, targets and parameters; by default
            only when the network has at most EXPAND_LIMIT connections.
    """
    loss_derivatives = {y: sympy.diff(network.loss, y) for y in network.outputs}
    deltas = _deltas(network, loss_derivatives)
    occurrences = _occurrences(network)
    path_counts = _path_counts(network)
    connections = sum(len(n.weights) for n in network.neurons)
    if expand is None:
        expand = connections <= EXPAND_LIMIT
    expanded_values = _expanded_values(network, deltas) if expand else None

    gradients = {}
    for parameter in network.parameters:
        places = occurrences[parameter]
        delta_form = sympy.Add(*(o.neuron.delta * o.local for o in places))
        n_paths = sum(path_counts[o.neuron.z] for o in places)
        chains = None
        if n_paths <= MAX_PATHS:
            chains = tuple(
                path + (Factor(o.neuron.z, parameter, o.local),)
                for o in places
                for path in _paths(network, deltas, o.neuron)
            )
        expanded = delta_form.xreplace(expanded_values) if expanded_values is not None else None
        gradients[parameter.name] = Gradient(parameter, tuple(places), chains, delta_form, expanded)
    return Derivation(network, loss_derivatives, deltas, gradients, expanded_values)


def output_derivative(network: Network, i: int, k: int) -> sympy.Expr:
    """∂ŷ_i/∂z_k of the output layer, in the outputs' symbols."""
    layer = len(network.layers)
    outputs = network.outputs
    if network.activation(layer) == ops.SOFTMAX:
        return ops.softmax_derivative(outputs, i, k)
    if i != k:
        return sympy.S.Zero
    neuron = network.layers[-1][k]
    return network.elementwise(layer).derivative(neuron.z, neuron.a)


def hidden_derivative(network: Network, neuron: Neuron) -> sympy.Expr:
    """∂h/∂z of a hidden neuron, in h (or z where f' needs it)."""
    return network.elementwise(neuron.layer).derivative(neuron.z, neuron.a)


def _tidy(expr: sympy.Expr) -> sympy.Expr:
    """The shortest of the expression, its factored and its cancelled form (BCE's δ is ŷ − t)."""
    return min((expr, sympy.factor(expr), sympy.cancel(expr)), key=sympy.count_ops)


def _deltas(network: Network, loss_derivatives: dict[sympy.Symbol, sympy.Expr]) -> dict[sympy.Symbol, Delta]:
    deltas: dict[sympy.Symbol, Delta] = {}
    outputs = network.outputs
    for k, neuron in enumerate(network.layers[-1]):
        terms = []
        for i, y in enumerate(outputs):
            local = output_derivative(network, i, k)
            if local != 0:
                terms.append((Factor(network.loss_symbol, y, loss_derivatives[y]), Factor(y, neuron.z, local)))
        definition = _tidy(sympy.Add(*(prod((f.expression for f in t), start=sympy.S.One) for t in terms)))
        deltas[neuron.delta] = Delta(neuron, tuple(terms), definition)
    for layer in reversed(network.layers[:-1]):
        for neuron in layer:
            after = network.layers[neuron.layer]  # the next layer (layers are 1-based)
            local = hidden_derivative(network, neuron)
            terms = tuple(
                (Factor(network.loss_symbol, nxt.z, nxt.delta), Factor(nxt.z, neuron.a, nxt.weights[neuron.index]),
                 Factor(neuron.a, neuron.z, local))
                for nxt in after
            )  # fmt: skip
            definition = sympy.Add(*(nxt.delta * nxt.weights[neuron.index] for nxt in after)) * local
            deltas[neuron.delta] = Delta(neuron, terms, definition)
    return deltas


def _occurrences(network: Network) -> dict[sympy.Symbol, list[Occurrence]]:
    places: dict[sympy.Symbol, list[Occurrence]] = {p: [] for p in network.parameters}
    for neuron in network.neurons:
        for weight, source in zip(neuron.weights, network.sources(neuron.layer)):
            places[weight].append(Occurrence(neuron, source))
        if neuron.bias is not None:
            places[neuron.bias].append(Occurrence(neuron, None))
    return places


def _path_counts(network: Network) -> dict[sympy.Symbol, int]:
    """Number of chain-rule paths from L to each z, counted without listing them."""
    counts: dict[sympy.Symbol, int] = {}
    softmax_out = network.activation(len(network.layers)) == ops.SOFTMAX
    for neuron in network.layers[-1]:
        counts[neuron.z] = len(network.outputs) if softmax_out else 1
    for layer in reversed(network.layers[:-1]):
        for neuron in layer:
            counts[neuron.z] = sum(counts[nxt.z] for nxt in network.layers[neuron.layer])
    return counts


def _paths(network: Network, deltas: dict[sympy.Symbol, Delta], neuron: Neuron) -> list[Chain]:
    """Every product of local factors from L down to `neuron`'s z."""
    delta = deltas[neuron.delta]
    if neuron.layer == len(network.layers):
        return [tuple(term) for term in delta.terms]
    paths = []
    for nxt, (_, weight_factor, activation_factor) in zip(network.layers[neuron.layer], delta.terms):
        for head in _paths(network, deltas, nxt):
            paths.append(head + (weight_factor, activation_factor))
    return paths


def _expanded_values(network: Network, deltas: dict[sympy.Symbol, Delta]) -> dict[sympy.Symbol, sympy.Expr]:
    """z, h, ŷ and δ of every neuron written in inputs, targets and parameters only."""
    values: dict[sympy.Symbol, sympy.Expr] = {}
    for layer in network.layers:
        for neuron in layer:
            values[neuron.z] = network.z_definition(neuron).xreplace(values)
        for neuron in layer:
            values[neuron.a] = network.a_definition(neuron).xreplace(values)
    for symbol, delta in deltas.items():
        values[symbol] = delta.definition.xreplace(values)
    return values


def prove(derivation: Derivation) -> dict[str, bool]:
    """Check symbolically that each chain-rule gradient equals `sympy.diff` of the expanded loss.

    Raises:
        ValueError: the derivation was made without expanded forms.
    """
    values = derivation.expanded_values
    if values is None:
        raise ValueError("the derivation has no expanded forms; derive with expand=True")
    network = derivation.network
    full_loss = network.loss.xreplace(values)
    return {
        name: _is_zero(sympy.diff(full_loss, gradient.parameter) - gradient.expanded)
        for name, gradient in derivation.gradients.items()
    }


def _expand(expr: sympy.Expr) -> sympy.Expr:
    # exp(a + b) stays whole: splitting it multiplies the terms without helping cancel
    return expr.expand(power_exp=False, power_base=False, log=False)


def _is_zero(expr: sympy.Expr) -> bool:
    # over a common denominator (softmax and cross-entropy make quotients) the numerator
    # expands to zero: far quicker than cancel or simplify on the nested expressions
    numerator, _ = sympy.together(expr).as_numer_denom()
    if _expand(numerator) == 0:
        return True
    return sympy.simplify(ops.to_standard_sympy(expr)) == 0
