"""The handout's boxes: the general rules of backpropagation for this network, and the mistakes to avoid.

The rules are the network's own: the output δ for its loss and output activation
(and δ = ŷ − t where they cancel), the hidden recursion, the gradients and the
update, in the index convention of the notation table (j this neuron, k the layer
before, i the layer after). The mistakes are kinds from the checker's catalogue
(`mistakes.KINDS`) that this network can make; the language template words them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sympy

from symbackprop import chain, handout_output, ops
from symbackprop.printing import Latex
from symbackprop.spec import Example

Y, T = sympy.Symbol(r"\hat{y}_j"), sympy.Symbol("t_j")
MISTAKES_SHOWN = 6  # the box is read at a glance: the commonest this network allows, no more


@dataclass(frozen=True)
class Rules:
    """Each rule as one line of maths; `reason` keys the template's words for a simplified output δ."""

    output: Latex
    simplified: Latex | None
    reason: str | None
    hidden: Latex | None  # None for a network without hidden layers
    weight: Latex
    bias: Latex | None  # None when no neuron has a bias
    update: Latex
    mistakes: tuple[str, ...]  # mistakes.KINDS, most common first


def rules(derivation: chain.Derivation, examples: Sequence[Example], *, batch: bool) -> Rules:
    network = derivation.network
    spec = network.spec
    last = len(network.layers)
    output_delta = next(d for d in derivation.deltas.values() if d.neuron.layer == last)
    if network.activation(last) == ops.SOFTMAX:
        output = (r"\delta_j = \sum_i \frac{\partial L}{\partial \hat{y}_i} \, \frac{\partial \hat{y}_i}{\partial z_j}")
    else:
        f = _derivative_name(network, last)
        output = rf"\delta_j = \frac{{\partial L}}{{\partial \hat{{y}}_j}} \, {f}(z_j) = {_loss_slope(network)} \, {f}(z_j)"
    simple = handout_output.simplified(derivation, output_delta, examples)
    loss = r"\bar{L}" if batch else "L"
    mean = r"\frac{1}{N} \sum_{n=1}^{N} " if batch else ""
    n = "^{(n)}" if batch else ""
    return Rules(
        output=Latex(output),
        simplified=None if simple is None else Latex(r"\delta_j = \hat{y}_j - t_j"),
        reason=None if simple is None else simple.reason,
        hidden=Latex(r"\delta_j = f'(z_j) \sum_i w_{ij} \, \delta_i") if last > 1 else None,
        weight=Latex(rf"\frac{{\partial {loss}}}{{\partial w_{{jk}}}} = {mean}\delta_j{n} \, h_k{n}"),
        bias=(Latex(rf"\frac{{\partial {loss}}}{{\partial b_j}} = {mean}\delta_j{n}")
              if any(neuron.bias is not None for neuron in network.neurons) else None),  # fmt: skip
        update=Latex(rf"w \leftarrow w - \eta \, \frac{{\partial {loss}}}{{\partial w}}"),
        mistakes=_mistakes(derivation, spec.loss),
    )


def _loss_slope(network) -> str:
    """∂L/∂ŷ_j for this loss in general indices, e.g. (ŷ_j − t_j) or −t_j/ŷ_j + (1 − t_j)/(1 − ŷ_j), bracketed as a factor."""
    names = {network.outputs[0]: Y, network.targets[0]: T}
    raw = ops.to_standard_sympy(sympy.diff(network.loss, network.outputs[0])).xreplace(names)
    factored = sympy.factor(raw)
    slope = raw if factored.could_extract_minus_sign() else factored  # -(ŷ - t)/(ŷ(ŷ - 1)) reads worse than the sum
    text = sympy.latex(slope)
    return rf"\left({text}\right)" if isinstance(slope, sympy.Add) else text


def _derivative_name(network, layer: int) -> str:
    """σ', tanh', ReLU', f' for linear or a custom formula's name."""
    return network.elementwise(layer).symbol_latex + "'"


def _mistakes(derivation: chain.Derivation, loss: str) -> tuple[str, ...]:
    network = derivation.network
    z, a = sympy.symbols("z a")
    depth = len(network.layers)
    kinds = ["half_dropped"] if loss == "half_squared_error" else []
    if loss == "binary_cross_entropy" and network.activation(depth) == "sigmoid":
        kinds.append("bce_factor_kept")
    sloped = [network.elementwise(layer) for layer in range(1, depth + 1)
              if network.activation(layer) not in (ops.SOFTMAX, "linear")]  # fmt: skip
    if sloped:
        kinds.append("derivative_left_out")
    if any(f.derivative(z, a) != f.derivative(z, z) for f in sloped):  # σ' written with σ: easily taken at z
        kinds.append("derivative_at_z")
    if any(network.activation(layer) == "tanh" for layer in range(1, depth + 1)):
        kinds.append("wrong_derivative")
    if any(len(network.layers[layer]) > 1 for layer in range(1, depth)):  # a hidden δ sums over the next layer
        kinds.append("sum_forgotten")
    if depth > 1:
        kinds.append("updated_weights_used")
    return (*kinds, "gradient_ascent", "rounded_early")[:MISTAKES_SHOWN]
