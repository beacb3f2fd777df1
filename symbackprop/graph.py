"""The network as SymPy symbols: layers of neurons, their forward definitions and the loss."""

from __future__ import annotations

from dataclasses import dataclass

import sympy

from symbackprop import naming, ops
from symbackprop.spec import Spec


@dataclass(frozen=True)
class Neuron:
    """A non-input neuron: z = Σ_k w_k·a_k + b, then a = f(z) (a is h, or ŷ on the output layer)."""

    layer: int  # 1 for the first hidden layer, len(layers)-1 for the output layer
    index: int  # 0-based position within its layer
    z: sympy.Symbol
    a: sympy.Symbol
    delta: sympy.Symbol
    weights: tuple[sympy.Symbol, ...]  # one per neuron of the previous layer
    bias: sympy.Symbol | None


@dataclass(frozen=True)
class Network:
    """Symbols and forward definitions of a spec's network, in the spec's naming scheme."""

    spec: Spec
    inputs: tuple[sympy.Symbol, ...]
    targets: tuple[sympy.Symbol, ...]
    layers: tuple[tuple[Neuron, ...], ...]  # non-input layers only
    parameters: tuple[sympy.Symbol, ...]  # every distinct parameter, network order
    latex_names: dict[sympy.Symbol, str]
    loss_symbol: sympy.Symbol
    loss: sympy.Expr  # in the output symbols and targets

    @property
    def outputs(self) -> tuple[sympy.Symbol, ...]:
        return tuple(n.a for n in self.layers[-1])

    @property
    def neurons(self) -> tuple[Neuron, ...]:
        return tuple(n for layer in self.layers for n in layer)

    def sources(self, layer: int) -> tuple[sympy.Symbol, ...]:
        """Values feeding non-input layer `layer` (1-based): the inputs or the previous h's."""
        return self.inputs if layer == 1 else tuple(n.a for n in self.layers[layer - 2])

    def activation(self, layer: int) -> str:
        return self.spec.activations[layer - 1]

    def elementwise(self, layer: int) -> ops.Activation:
        """The elementwise activation of non-input layer `layer`, built-in or from the spec."""
        return self.spec.elementwise(self.activation(layer))

    def z_definition(self, neuron: Neuron) -> sympy.Expr:
        """z = Σ_k w_k a_k + b, in symbols."""
        terms = [w * a for w, a in zip(neuron.weights, self.sources(neuron.layer))]
        if neuron.bias is not None:
            terms.append(neuron.bias)
        return sympy.Add(*terms)

    def a_definition(self, neuron: Neuron, *, stable: bool = False) -> sympy.Expr:
        """a = f(z) in symbols; `stable` gives the overflow-free softmax for numbers."""
        name = self.activation(neuron.layer)
        if name == ops.SOFTMAX:
            zs = [n.z for n in self.layers[neuron.layer - 1]]
            return (ops.stable_softmax(zs) if stable else ops.softmax(zs))[neuron.index]
        return self.elementwise(neuron.layer).apply(neuron.z)

    def latex(self, symbol: sympy.Symbol) -> str:
        return self.latex_names[symbol]


def build(spec: Spec) -> Network:
    """Create the symbols of `spec`'s network; a name used twice is one (tied) symbol."""
    lay = naming.layout(spec.layers, scheme=spec.naming, bias=spec.bias)
    defaults = naming.default_latex(lay) if spec.rename else {}
    latex: dict[sympy.Symbol, str] = {}

    def symbol(name: naming.Name) -> sympy.Symbol:
        final = spec.rename.get(name.ascii, name.ascii)
        sym = sympy.Symbol(final, real=True)
        if sym not in latex:
            latex[sym] = name.latex if final == name.ascii else naming.parameter_latex(final, defaults)
        return sym

    inputs = tuple(symbol(n) for n in lay.inputs)
    targets = tuple(symbol(n) for n in lay.targets)
    layers = []
    for l, (layer_w, layer_b, zs, hs, ds) in enumerate(
        zip(lay.weights, lay.biases, lay.pre_activations, lay.activations, lay.deltas), start=1
    ):
        layers.append(tuple(
            Neuron(l, j, symbol(zs[j]), symbol(hs[j]), symbol(ds[j]),
                   tuple(symbol(w) for w in layer_w[j]), symbol(layer_b[j]) if layer_b[j] else None)
            for j in range(len(zs))
        ))  # fmt: skip
    parameters = tuple(sympy.Symbol(n, real=True) for n in spec.parameters)
    loss_symbol = sympy.Symbol("L", real=True)
    latex[loss_symbol] = "L"
    outputs = [n.a for n in layers[-1]]
    loss = ops.LOSSES[spec.loss].build(outputs, targets)
    return Network(spec, inputs, targets, tuple(layers), parameters, latex, loss_symbol, loss)

