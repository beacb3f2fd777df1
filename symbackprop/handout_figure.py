"""The network drawn for the handout: neurons, weighted edges and the loss, in TikZ coordinates (cm).

`figure` writes each weight on its edge and each bias beside its neuron so that no label
covers another label, a neuron, the loss or an arrowhead: `figure_labels.place` finds the
places, for boxes whose size `text_size` estimates from each label's LaTeX (glyph widths at
\\scriptsize). When no placement works, even with the layers further apart, the edges stay
bare and the values go to a table beside the drawing (below it when the page is too narrow).

With `highlight` it marks the chain-rule paths of one gradient: the thumbnails beside
the hidden layers' gradients. Those carry no text at all, since the handout shrinks
them to well under half size, where any text would print smaller than 6 pt.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import sympy

from symbackprop import chain, figure_labels, graph, printing

FIGURE_MAX_NEURONS = 24
EDGE_LABEL_MAX = 40  # above this many weights the figure names no edges (the update table lists the values)
PAGE_WIDTH = 17.0  # cm: A4's text width with 2 cm margins (letter's is wider)
NODE_GAP = 2.0  # between neurons of a layer
LOSS_GAP = 2.2  # from the output layer to the loss
LAYER_GAP = 4.4  # between layers, by default
LAYERS_WIDTH = 13.0  # the default drawing's widest span from inputs to outputs
GAP_STEP = 0.6  # beside a table, the layers come this much closer per try
NARROWEST_GAP = 2.6  # beside a table, the layers come no closer than this


# -- the drawing's parts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Label:
    """A name = value in \\scriptsize: TikZ puts its `anchor` at (x, y), turned by `angle`; `box` is where it ends up."""

    text: printing.Latex
    x: float
    y: float
    angle: float
    anchor: str  # "center" on an edge or beside a neuron, "west" in the table's left-aligned columns
    box: figure_labels.Box


@dataclass(frozen=True)
class Node:
    id: str
    x: float
    y: float
    label: printing.Latex
    note: Label | None  # the neuron's bias
    highlighted: bool = False


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: Label | None
    highlighted: bool = False


@dataclass(frozen=True)
class Figure:
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    outputs: tuple[str, ...]  # ids of the output neurons, which feed the loss
    loss_x: float
    loss_y: float
    loss_highlighted: bool = False
    named: bool = True  # neurons and the loss carry their names (not in thumbnails)
    table: tuple[Label, ...] = ()  # the values the edges could not carry

    def labels(self) -> tuple[Label, ...]:
        """Every piece of text placed beside the drawing: edge labels, biases, table entries."""
        return (*(e.label for e in self.edges if e.label), *(n.note for n in self.nodes if n.note), *self.table)

    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in cm of everything drawn, the neurons' and the loss's borders included."""
        reach, half = figure_labels.NODE_RADIUS + figure_labels.BORDER, figure_labels.LOSS_HALF + figure_labels.BORDER
        xs, ys = [self.loss_x - half, self.loss_x + half], [self.loss_y - half, self.loss_y + half]
        for node in self.nodes:
            xs += [node.x - reach, node.x + reach]
            ys += [node.y - reach, node.y + reach]
        for label in self.labels():
            for x, y in label.box.corners():
                xs.append(x)
                ys.append(y)
        return min(xs), min(ys), max(xs), max(ys)


# -- the figure ----------------------------------------------------------------------------------------


def figure(derivation: chain.Derivation, parameters: Mapping[str, float], decimals: int,
            highlight: Sequence[chain.Chain] | None, labels: bool = True) -> Figure | None:  # fmt: skip
    """The network in TikZ coordinates (cm); with `highlight`, the edges and neurons on those paths.

    Each weight is written on its edge, the layers drawn further apart when that is
    needed; when no placement works, the values go to a table beside the drawing
    (below it when the page is too narrow). Above EDGE_LABEL_MAX weights the figure
    names no edges and lists no weights. Without `labels` (the thumbnails) nothing
    is written in or beside the drawing.

    Returns:
        None when the network has more than FIGURE_MAX_NEURONS neurons.
    """
    network = derivation.network
    if sum(network.spec.layers) > FIGURE_MAX_NEURONS:
        return None
    sketch = _Sketch(network, highlight, named=labels)
    if not labels:
        return sketch.draw(sketch.default)

    def say(symbol: sympy.Symbol) -> printing.Latex:
        return printing.Latex(f"{network.latex(symbol)} = {printing.number(parameters[symbol.name], decimals=decimals)}")

    weights = {k: say(w) for k, w in enumerate(sketch.weights)}
    biases = {id_: say(b) for id_, b in sketch.biases.items()}
    if len(weights) > EDGE_LABEL_MAX:
        placed = _place(sketch.draw(sketch.default), {}, biases)
        return sketch.draw(sketch.default, notes=placed[1] if placed else None)
    for gap in sketch.gaps(wider=True):
        placed = _place(sketch.draw(gap), weights, biases)
        if placed is not None and _fits(fig := sketch.draw(gap, *placed)):
            return fig

    def unlabelled(gap: float) -> tuple[Figure, list[printing.Latex]]:
        """Bare edges, the biases beside their neurons if they fit; and what the table must list."""
        placed = _place(sketch.draw(gap), {}, biases)
        listed = sketch.weights + ([] if placed else list(sketch.biases.values()))
        return sketch.draw(gap, notes=placed[1] if placed else None), [say(p) for p in dict.fromkeys(listed)]  # a tied parameter once

    for gap in sketch.gaps(wider=False):  # as wide a drawing as leaves room for the table beside it
        fig, entries = unlabelled(gap)
        if (table := _table(entries, fig.bounds(), beside=True)) is not None:
            return dataclasses.replace(fig, table=table)
    fig, entries = unlabelled(sketch.default)
    return dataclasses.replace(fig, table=_table(entries, fig.bounds(), beside=False))


def _fits(fig: Figure) -> bool:
    left, _, right, _ = fig.bounds()
    return right - left <= PAGE_WIDTH


class _Sketch:
    """The network's neurons and edges, to be drawn with any gap between layers."""

    def __init__(self, network: graph.Network, highlight: Sequence[chain.Chain] | None, *, named: bool) -> None:
        self.network, self.named, self.highlighted = network, named, bool(highlight)
        self.lit_z, self.lit_edges = _lit(network, highlight)
        self.ids: dict[sympy.Symbol, str] = {}
        self.columns: list[tuple[sympy.Symbol, ...]] = []
        for l in range(len(network.spec.layers)):
            self.columns.append(network.inputs if l == 0 else tuple(n.a for n in network.layers[l - 1]))
            self.ids.update((symbol, f"n{l}x{j}") for j, symbol in enumerate(self.columns[-1]))
        self.wires = [(source, n) for n in network.neurons for source in network.sources(n.layer)]
        self.weights = [w for n in network.neurons for w in n.weights]  # one per wire
        self.biases = {self.ids[n.a]: n.bias for n in network.neurons if n.bias is not None}
        spans = len(self.columns) - 1
        self.default = min(LAYER_GAP, LAYERS_WIDTH / spans)
        self.widest = (PAGE_WIDTH - figure_labels.NODE_RADIUS - figure_labels.LOSS_HALF - 2 * figure_labels.BORDER - LOSS_GAP) / spans
        self.narrowest = min(self.default, NARROWEST_GAP)

    def gaps(self, *, wider: bool) -> list[float]:
        """The default gap between layers, then up to two wider ones, the last as wide as the page allows (each
        try is a search); or the default, then narrower ones down to NARROWEST_GAP (only the biases are placed)."""
        if wider:
            if self.widest < self.default + GAP_STEP:
                return [self.default]
            return [self.default, (self.default + self.widest) / 2, self.widest]
        return [self.default - GAP_STEP * k for k in range(20) if self.default - GAP_STEP * k > self.narrowest] + [self.narrowest]

    def draw(self, gap: float, edge_labels: Mapping[int, Label] | None = None, notes: Mapping[str, Label] | None = None) -> Figure:
        network, edge_labels, notes = self.network, edge_labels or {}, notes or {}
        nodes = []
        for l, column in enumerate(self.columns):
            for j, symbol in enumerate(column):
                if l == 0:
                    lit = any(source == symbol for source, _ in self.lit_edges)
                else:
                    lit = network.layers[l - 1][j].z in self.lit_z
                id_ = self.ids[symbol]
                name = printing.Latex(network.latex(symbol))
                nodes.append(Node(id_, l * gap, ((len(column) - 1) / 2 - j) * NODE_GAP, name, notes.get(id_), lit))
        edges = tuple(Edge(self.ids[source], self.ids[n.a], edge_labels.get(k), (source, n.z) in self.lit_edges)
                      for k, (source, n) in enumerate(self.wires))  # fmt: skip
        outputs = tuple(self.ids[a] for a in network.outputs)
        loss_x = (len(self.columns) - 1) * gap + LOSS_GAP
        return Figure(tuple(nodes), edges, outputs, loss_x, 0.0, self.highlighted, named=self.named)


def _place(fig: Figure, edge_texts: Mapping[int, printing.Latex],
           note_texts: Mapping[str, printing.Latex]) -> tuple[dict[int, Label], dict[str, Label]] | None:  # fmt: skip
    """Edge labels (by edge index) and biases (by neuron id) placed clear of each other and of the drawing."""
    points = {n.id: (n.x, n.y) for n in fig.nodes}
    edges = [(e.source, e.target) for e in fig.edges]
    edge_sizes = {k: text_size(text) for k, text in edge_texts.items()}
    note_sizes = {id_: text_size(text) for id_, text in note_texts.items()}
    placed = figure_labels.place(points, edges, (fig.loss_x, fig.loss_y), fig.outputs, edge_sizes, note_sizes)
    if placed is None:
        return None
    edge_boxes, note_boxes = placed
    return ({k: _centred(edge_texts[k], box) for k, box in edge_boxes.items()},
            {id_: _centred(note_texts[id_], box) for id_, box in note_boxes.items()})  # fmt: skip


def _centred(text: printing.Latex, box: figure_labels.Box) -> Label:
    """The label whose text TikZ centres on `box`, turned with it."""
    return Label(text, box.x, box.y, box.angle, "center", box)


def _lit(network: graph.Network, highlight: Sequence[chain.Chain] | None) -> tuple[set[sympy.Symbol], set[tuple[sympy.Symbol, sympy.Symbol]]]:
    """The z's and the edges (source value, receiving z) on the highlighted chain-rule paths."""
    lit_z: set[sympy.Symbol] = set()
    lit_edges: set[tuple[sympy.Symbol, sympy.Symbol]] = set()
    for path in highlight or ():
        for factor in path:
            lit_z.update(n.z for n in network.neurons if factor.of == n.z)
            if factor.wrt in network.parameters and isinstance(factor.expression, sympy.Symbol):
                lit_edges.add((factor.expression, factor.of))  # the parameter's own weight
            elif factor.of in lit_z and any(factor.wrt == n.a for n in network.neurons):
                lit_edges.add((factor.wrt, factor.of))  # ∂z/∂h: the weight between two neurons
    return lit_z, lit_edges


# -- a label's size at \scriptsize, estimated from its LaTeX ---------------------------------------
# Glyph widths in TeX points, measured in Latin Modern at \scriptsize of an 11 or 12 pt
# document (8 pt, the largest the handout uses); tests/test_handout_figure.py checks them
# against pdflatex. A relation or \times includes the spaces TeX puts around it.
PT = 2.54 / 72.27  # one TeX point in cm
INNER_SEP = 1.0 * PT  # the weight style's inner sep
_WIDTHS = {**dict.fromkeys("0123456789", 4.25), ".": 2.5, ",": 2.5, "(": 3.4, ")": 3.4, "-": 6.7,
           "=": 11.4, "+": 10.4, r"\times": 10.4, r"\infty": 8.5}  # fmt: skip
_LETTERS = (("ilt", 3.1), ("fhnux", 5.2), ("mw", 7.6), ("IJ", 5.4), ("MW", 9.8))
_SCRIPT = 0.92  # a sub- or superscript glyph is this much narrower (6 pt against 8 pt)
_SCRIPT_SPACE = 0.5
_SAFETY = 1.04
_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\S")
_TRANSPARENT = {r"\hat", r"\mathit", r"\mathrm", r"\mathbf", r"\bar", r"\tilde"}  # add no width of their own


def _glyph(token: str) -> float:
    if token in _WIDTHS:
        return _WIDTHS[token]
    for letters, width in _LETTERS:
        if token in letters:
            return width
    if token.isalpha() and len(token) == 1:
        return 4.7 if token.islower() else 7.8
    return 6.0 if token.startswith("\\") and len(token) > 2 else 10.0  # a Greek letter; anything else, wide


def _measure(tokens: list[str], i: int, script: bool) -> tuple[float, int]:
    """Width (pt) of tokens[i:] up to the closing brace of the group; the index after it."""
    width = 0.0
    while i < len(tokens) and tokens[i] != "}":
        if tokens[i] in "_^":
            scripts = []
            while i < len(tokens) and tokens[i] in "_^":
                w, i = _atom(tokens, i + 1, script=True)
                scripts.append(w)
            width += max(scripts) + _SCRIPT_SPACE  # a subscript and a superscript stack
        else:
            w, i = _atom(tokens, i, script)
            width += w
    return width, i


def _atom(tokens: list[str], i: int, script: bool) -> tuple[float, int]:
    if i >= len(tokens):
        return 0.0, i
    if tokens[i] == "{":
        width, i = _measure(tokens, i + 1, script)
        return width, i + 1
    if tokens[i] in _TRANSPARENT:
        return _atom(tokens, i + 1, script)
    return _glyph(tokens[i]) * (_SCRIPT if script else 1.0), i + 1


def text_size(latex: str) -> tuple[float, float]:
    """Width and height (cm) of the weight style's box around `latex` in math mode, an upper bound."""
    width, _ = _measure(_TOKEN.findall(latex), 0, script=False)
    height, depth = (9.0, 4.0) if "^" in latex else (5.8, 2.5)  # a superscript raises, and lowers the subscript
    return width * _SAFETY * PT + 2 * INNER_SEP, (height + depth) * PT + 2 * INNER_SEP


# -- the table, when the edges cannot carry the values -------------------------------------------


def _table(entries: Sequence[printing.Latex], bounds: tuple[float, float, float, float], *, beside: bool) -> tuple[Label, ...] | None:
    """Entries in left-aligned columns beside the drawing (None when the page is too narrow for both), or below it."""
    left, bottom, right, top = bounds
    sizes = [text_size(e) for e in entries]
    pitch = max(h for _, h in sizes) + figure_labels.CLEARANCE
    column_gap = 0.3

    def columns(rows: int) -> list[list[int]]:
        return [list(range(k, min(k + rows, len(entries)))) for k in range(0, len(entries), rows)]

    def span(cols: list[list[int]]) -> float:
        return sum(max(sizes[i][0] for i in c) for c in cols) + column_gap * (len(cols) - 1)

    if beside:
        tallest = max(4, int((top - bottom) / pitch))  # rows as tall as the drawing, then evened out
        cols = columns(math.ceil(len(entries) / math.ceil(len(entries) / tallest)))
        if right - left + 0.5 + span(cols) > PAGE_WIDTH:
            return None
        x0, y0 = right + 0.5, (top + bottom) / 2 + pitch * len(cols[0]) / 2
    else:
        cols = columns(next(r for r in range(1, len(entries) + 1) if span(columns(r)) <= PAGE_WIDTH))
        x0, y0 = (left + right - span(cols)) / 2, bottom - 0.3
    labels = []
    for col in cols:
        for row, i in enumerate(col):
            width, height = sizes[i]
            x, y = x0, y0 - pitch * (row + 0.5)
            labels.append(Label(entries[i], x, y, 0.0, "west", figure_labels.Box(x + width / 2, y, width, height)))
        x0 += max(sizes[i][0] for i in col) + column_gap
    return tuple(labels)
