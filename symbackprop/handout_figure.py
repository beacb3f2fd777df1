"""The network drawn for the handout: neurons, weighted edges and the loss, in TikZ coordinates (cm).

`figure` places every neuron and labels each edge with its weight; with `highlight`
it marks the chain-rule paths of one gradient (the thumbnails beside the hidden
layers' gradients). The template `network.tex.j2` draws it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy

from symbackprop import chain, printing
from symbackprop.printing import Latex

FIGURE_MAX_NEURONS = 24
EDGE_LABEL_MAX = 24  # above this many weights the figure names no edges


@dataclass(frozen=True)
class Node:
    id: str
    x: float
    y: float
    label: Latex
    note: Latex | None  # the bias under a neuron
    highlighted: bool = False


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: Latex | None
    highlighted: bool = False


@dataclass(frozen=True)
class Figure:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    outputs: tuple[str, ...]  # ids of the output neurons, which feed the loss
    loss_x: float
    loss_y: float
    loss_highlighted: bool = False



def figure(derivation: chain.Derivation, parameters: Mapping[str, float], decimals: int,
            highlight: Sequence[chain.Chain] | None, labels: bool = True) -> Figure | None:  # fmt: skip
    """The network in TikZ coordinates (cm); with `highlight`, the edges and neurons on those paths."""
    network = derivation.network
    sizes = network.spec.layers
    if sum(sizes) > FIGURE_MAX_NEURONS:
        return None
    lit_z: set[sympy.Symbol] = set()
    lit_edges: set[tuple[sympy.Symbol, sympy.Symbol]] = set()  # (source value, receiving z)
    for path in highlight or ():
        for factor in path:
            lit_z.update(n.z for n in network.neurons if factor.of == n.z)
            if factor.wrt in network.parameters and isinstance(factor.expression, sympy.Symbol):
                lit_edges.add((factor.expression, factor.of))  # the parameter's own weight
            elif factor.of in lit_z and any(factor.wrt == n.a for n in network.neurons):
                lit_edges.add((factor.wrt, factor.of))  # ∂z/∂h: the weight between two neurons
    spacing = min(4.4, 13.0 / (len(sizes) - 1))
    ids: dict[sympy.Symbol, str] = {}
    nodes = []
    for l, size in enumerate(sizes):
        symbols = network.inputs if l == 0 else tuple(n.a for n in network.layers[l - 1])
        for j, symbol in enumerate(symbols):
            ids[symbol] = f"n{l}x{j}"
            note, lit = None, any(source == symbol for source, _ in lit_edges)
            if l > 0:
                neuron = network.layers[l - 1][j]
                lit = neuron.z in lit_z
                if neuron.bias is not None and labels:
                    value = printing.number(parameters[neuron.bias.name], decimals=decimals)
                    note = Latex(f"{network.latex(neuron.bias)} = {value}")
            nodes.append(Node(ids[symbol], l * spacing, ((size - 1) / 2 - j) * 2.0, Latex(network.latex(symbol)), note, lit))
    label_edges = labels and sum(a * b for a, b in zip(sizes, sizes[1:])) <= EDGE_LABEL_MAX
    edges = []
    for neuron in network.neurons:
        for weight, source in zip(neuron.weights, network.sources(neuron.layer)):
            label = None
            if label_edges:
                label = Latex(f"{network.latex(weight)} = {printing.number(parameters[weight.name], decimals=decimals)}")
            edges.append(Edge(ids[source], ids[neuron.a], label, (source, neuron.z) in lit_edges))
    outputs = tuple(ids[a] for a in network.outputs)
    return Figure(tuple(nodes), tuple(edges), outputs, (len(sizes) - 1) * spacing + 2.2, 0.0, bool(highlight))

