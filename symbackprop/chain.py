"""The chain rule for every parameter: local factors, δ error signals, expanded forms, proof.

Backpropagation works through intermediate symbols: each δ_j = ∂L/∂z_j is
defined once from the δ's of the layer after it, and each gradient is a δ
times a source value. Expanded forms and the `sympy.diff` proof are built
only for networks small enough to write out.
"""

from __future__ import annotations

import math
import random
from collections.abc import Collection
from dataclasses import dataclass
from math import prod

import mpmath
import sympy

from symbackprop import naming, ops, realness
from symbackprop.graph import Network, Neuron

MAX_PATHS = 64  # beyond this many chain-rule paths per parameter, only the δ form is kept
EXPAND_LIMIT = 64  # connections up to which gradients are also written in x, t and parameters
# the written-out loss repeats each layer's expressions once per neuron after it: its size grows as the
# product of the layer sizes (output layer excluded), so [2, 3, 3, 3, 3, 1] (162) would take over a minute
EXPAND_PRODUCT = 64
EXPAND_DEPTH = 8  # layers up to which they are: nested deeper, SymPy's recursive diff and printing overflow the stack
TIDY_LIMIT = 150  # operations up to which a δ is factored and cancelled; a larger one is kept as built
EXPAND_TERMS = 20_000  # terms up to which the proof multiplies a numerator out
SIMPLIFY_LIMIT = 80  # operations up to which the proof falls back on sympy.simplify
SYMBOLIC_NODES = 3_000  # tree nodes up to which the proof is symbolic; beyond, 50-digit values at random points
EXPANDED_NODES = 100_000  # tree nodes up to which a custom formula's expanded form is kept (it prints whole)


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


def expandable(layers: tuple[int, ...]) -> bool:
    """True when gradients of a network with these layer sizes are small enough to write in x, t and parameters."""
    connections = sum(a * b for a, b in zip(layers, layers[1:]))
    return connections <= EXPAND_LIMIT and len(layers) - 1 <= EXPAND_DEPTH and math.prod(layers[:-1]) <= EXPAND_PRODUCT


def derive(network: Network, *, expand: bool | None = None, only: Collection[str] | None = None) -> Derivation:
    """Derive ∂L/∂p for every parameter p of `network` by the chain rule.

    Args:
        expand: write gradients in inputs, targets and parameters; by default
            only when `expandable(network.spec.layers)`.
        only: the names of the parameters whose gradients are wanted (default: all);
            every δ is still derived, as each gradient's δ form rests on them.
    """
    loss_derivatives = {y: sympy.diff(network.loss, y) for y in network.outputs}
    deltas = _deltas(network, loss_derivatives)
    occurrences = _occurrences(network)
    path_counts = _path_counts(network)
    automatic = expand is None
    if automatic:
        expand = expandable(network.spec.layers)
    if automatic and expand and _too_large(network):
        expand = False  # a custom formula using z many times would write out to megabytes: keep the δ forms
    expanded_values = _expanded_values(network, deltas) if expand else None

    gradients = {}
    for parameter in network.parameters if only is None else [p for p in network.parameters if p.name in only]:
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


def _too_large(network: Network) -> bool:
    """True when a custom formula would make the expanded forms larger than EXPANDED_NODES.

    Predicted before building them: a = f(z) and f'(z) copy z's tree once per z they
    use, and each z copies the trees of every neuron in the layer before.
    """
    spec = network.spec
    if not set(spec.custom_activations) & set(spec.activations):
        return False
    z_size = 2 * spec.layers[0] + 1
    for width, name in zip(spec.layers[1:], spec.activations):
        f = spec.custom_activations.get(name, ops.sigmoid(realness.Z))  # a built-in: about σ's size
        parts = [f, sympy.diff(f, realness.Z)]
        copies = sum(1 for part in parts for node in sympy.preorder_traversal(part) if node.is_Symbol)
        a_size = sum(_size(part) for part in parts) + copies * z_size
        z_size = width * (a_size + 2) + 1
        if z_size > EXPANDED_NODES:
            return True
    return False


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
    """The shortest of the expression, its factored and its cancelled form (BCE's δ is ŷ − t).

    Only small δ's are tidied: factor and cancel multiply out, which on a custom
    activation's long derivative would take minutes for nothing.
    """
    if sympy.count_ops(expr) > TIDY_LIMIT or _expanded_terms(expr) > EXPAND_TERMS:
        return expr
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
    if expr == 0:
        return True
    if _size(expr, SYMBOLIC_NODES) <= SYMBOLIC_NODES:
        # over a common denominator (softmax and cross-entropy make quotients) the numerator
        # expands to zero: far quicker than cancel or simplify on the nested expressions
        numerator, _ = sympy.together(expr).as_numer_denom()
        if _expanded_terms(numerator) <= EXPAND_TERMS and _expand(numerator) == 0:
            return True
        # simplify has no time bound, so it only sees small expressions; so does the rewrite into
        # plain SymPy, whose Piecewise forms of ReLU-like functions fold once per level of nesting
        if sympy.count_ops(expr) <= SIMPLIFY_LIMIT:
            standard = ops.to_standard_sympy(expr)
            if sympy.count_ops(standard) <= SIMPLIFY_LIMIT and sympy.simplify(standard) == 0:
                return True
    return _vanishes_at_random_points(expr)


def _size(expr: sympy.Expr, limit: int = SYMBOLIC_NODES) -> int:
    """Nodes in the expression tree (shared parts counted each time they print), up to one past `limit`."""
    count = 0
    for count, _ in enumerate(sympy.preorder_traversal(expr), start=1):
        if count > limit:
            break
    return count


def _vanishes_at_random_points(expr: sympy.Expr, *, points: int = 3) -> bool:
    """Zero to 35 of 50 digits at random points: a nonzero analytic expression almost never is."""
    terms = sympy.Add.make_args(expr)
    internal = naming.internal_symbols(sorted(expr.free_symbols, key=lambda s: s.name))
    symbols = list(internal.values())
    # on internal names: a parameter called e must not be mpmath's e in the printed code;
    # our functions as mpmath kernels, not rewritten into Piecewise
    function = sympy.lambdify(symbols, [term.xreplace(internal) for term in terms],
                              modules=[ops.MPMATH_KERNELS, "mpmath"], cse=True)  # fmt: skip
    draw = random.Random(0)
    with mpmath.workdps(50):
        for _ in range(points):
            try:
                values = [mpmath.mpmathify(v) for v in function(*(mpmath.mpf(draw.uniform(-2, 2)) for _ in symbols))]
            except (TypeError, ValueError, ZeroDivisionError):
                return False
            scale = max([mpmath.mpf(1), *(abs(v) for v in values)])
            if not mpmath.isfinite(scale) or abs(mpmath.fsum(values)) > scale * mpmath.mpf(10) ** -35:
                return False
    return True


def _expanded_terms(expr: sympy.Expr, seen: dict | None = None) -> int:
    """An upper bound on the number of terms `_expand` would make, counted without expanding."""
    seen = {} if seen is None else seen
    if expr not in seen:
        parts = [_expanded_terms(arg, seen) for arg in expr.args]
        if isinstance(expr, sympy.Add):
            seen[expr] = sum(parts)
        elif isinstance(expr, sympy.Mul):
            seen[expr] = min(prod(parts), EXPAND_TERMS + 1)
        elif isinstance(expr, sympy.Pow) and expr.exp.is_Integer and expr.exp > 0:
            seen[expr] = min(math.comb(parts[0] + int(expr.exp) - 1, int(expr.exp)), EXPAND_TERMS + 1)
        else:  # a function stays one term, but its arguments are multiplied out too
            seen[expr] = 1 + sum(p - 1 for p in parts)
    return seen[expr]
