"""The network drawn for the handout: neurons, weighted edges and the loss, in TikZ coordinates (cm).

`figure` writes each weight on its edge and each bias beside its neuron so that no label
covers another label, a neuron, the loss or an arrowhead. A label's box is estimated from
its LaTeX (`text_size`: glyph widths at \\scriptsize); the places tried are points along
each edge (on the line, else just beside it) and a few around each neuron; a small
constraint search picks one place per label, first among places that cover no other
edge's line. When no choice works, even with the layers further apart, the edges stay
bare and the values go to a table beside the drawing (below it when the page is too narrow).

With `highlight` it marks the chain-rule paths of one gradient: the thumbnails beside
the hidden layers' gradients. Those carry no text at all, since the handout shrinks
them to well under half size, where any text would print smaller than 6 pt.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import sympy

from symbackprop import chain, graph, printing
from symbackprop.printing import Latex

FIGURE_MAX_NEURONS = 24
EDGE_LABEL_MAX = 40  # above this many weights the figure names no edges (the update table lists the values)
PAGE_WIDTH = 17.0  # cm: A4's text width with 2 cm margins (letter's is wider)
NODE_RADIUS = 0.45  # the neuron style's minimum size=9mm
LOSS_HALF = 0.4  # the loss node is an 8 mm square
BORDER = 0.6 * 2.54 / 72.27  # half the very thick line (1.2 pt) around a highlighted neuron
NODE_GAP = 2.0  # between neurons of a layer
LOSS_GAP = 2.2  # from the output layer to the loss
LAYER_GAP = 4.4  # between layers, by default
LAYERS_WIDTH = 13.0  # the default drawing's widest span from inputs to outputs
GAP_STEP = 0.6  # beside a table, the layers come this much closer per try
NARROWEST_GAP = 2.6  # beside a table, the layers come no closer than this
CLEARANCE = 0.04  # cm of white kept around each label
STEP = 0.15  # cm between the places tried along an edge
NODE_MARGIN = 0.1  # cm kept between a label and a neuron's circle, so that it does not look stuck to it
SEARCH_BUDGET = 2_000  # places tried per group of labels before the table is used instead


# -- the drawing's parts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """A rectangle in cm: its centre, its size along and across its text, its rotation in degrees."""

    x: float
    y: float
    width: float
    height: float
    angle: float = 0.0

    def corners(self) -> tuple[tuple[float, float], ...]:
        c, s = math.cos(math.radians(self.angle)), math.sin(math.radians(self.angle))
        w, h = self.width / 2, self.height / 2
        return tuple((self.x + c * dx - s * dy, self.y + s * dx + c * dy) for dx, dy in ((-w, -h), (w, -h), (w, h), (-w, h)))


@dataclass(frozen=True)
class Label:
    """A name = value in \\scriptsize: TikZ puts its `anchor` at (x, y), turned by `angle`; `box` is where it ends up."""

    text: Latex
    x: float
    y: float
    angle: float
    anchor: str  # "center" on an edge or beside a neuron, "west" in the table's left-aligned columns
    box: Box


@dataclass(frozen=True)
class Node:
    id: str
    x: float
    y: float
    label: Latex
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
        reach, half = NODE_RADIUS + BORDER, LOSS_HALF + BORDER
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

    def say(symbol: sympy.Symbol) -> Latex:
        return Latex(f"{network.latex(symbol)} = {printing.number(parameters[symbol.name], decimals=decimals)}")

    weights = {k: say(w) for k, w in enumerate(sketch.weights)}
    biases = {id_: say(b) for id_, b in sketch.biases.items()}
    if len(weights) > EDGE_LABEL_MAX:
        placed = _place(sketch.draw(sketch.default), {}, biases)
        return sketch.draw(sketch.default, notes=placed[1] if placed else None)
    for gap in sketch.gaps(wider=True):
        placed = _place(sketch.draw(gap), weights, biases)
        if placed is not None and _fits(fig := sketch.draw(gap, *placed)):
            return fig

    def unlabelled(gap: float) -> tuple[Figure, list[Latex]]:
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
        self.widest = (PAGE_WIDTH - NODE_RADIUS - LOSS_HALF - 2 * BORDER - LOSS_GAP) / spans
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
                nodes.append(Node(id_, l * gap, ((len(column) - 1) / 2 - j) * NODE_GAP, Latex(network.latex(symbol)), notes.get(id_), lit))
        edges = tuple(Edge(self.ids[source], self.ids[n.a], edge_labels.get(k), (source, n.z) in self.lit_edges)
                      for k, (source, n) in enumerate(self.wires))  # fmt: skip
        outputs = tuple(self.ids[a] for a in network.outputs)
        loss_x = (len(self.columns) - 1) * gap + LOSS_GAP
        return Figure(tuple(nodes), edges, outputs, loss_x, 0.0, self.highlighted, named=self.named)


def _place(fig: Figure, edge_texts: Mapping[int, Latex],
           note_texts: Mapping[str, Latex]) -> tuple[dict[int, Label], dict[str, Label]] | None:  # fmt: skip
    """Edge labels (by edge index) and biases (by neuron id) placed clear of each other and of the drawing."""
    points = {n.id: (n.x, n.y) for n in fig.nodes}
    scene = _scene(points, [(e.source, e.target) for e in fig.edges], (fig.loss_x, fig.loss_y), fig.outputs)
    options = [_edge_options(text, points[fig.edges[k].source], points[fig.edges[k].target], scene) for k, text in edge_texts.items()]
    options += [_note_options(text, *points[id_], scene) for id_, text in note_texts.items()]
    # first with every label clear of the lines it does not belong to, if that can be done
    placed = _choose([o.uncrossed() for o in options]) or _choose(options)
    if placed is None:
        return None
    return dict(zip(edge_texts, placed)), dict(zip(note_texts, placed[len(edge_texts):]))


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


# -- placing the labels ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scene:
    """What labels must keep clear of (neurons, the loss, arrowheads), and the lines they may cross."""

    circles: np.ndarray  # (n, 2) neuron centres
    solid: np.ndarray  # (m, 4, 2) corners of the loss node and of each arrowhead
    solid_angles: np.ndarray  # (m,) their angles
    lines: np.ndarray  # (m, 4) every edge, centre to centre

    def free(self, centres: np.ndarray, width: float, height: float, angle: float) -> np.ndarray:
        """(n,): True where a box keeps clear of every neuron, the loss and every arrowhead."""
        ok = ~_near_circles(centres, width, height, angle, self.circles, NODE_RADIUS + BORDER + NODE_MARGIN)
        corners = _corners(centres, width, height, angle)
        return ok & ~_overlap(corners, angle, self.solid, self.solid_angles).any(axis=1)


def _scene(points: Mapping[str, tuple[float, float]], edges: Iterable[tuple[str, str]], loss: tuple[float, float],
           outputs: Sequence[str]) -> _Scene:  # fmt: skip
    side = 2 * LOSS_HALF + 0.06  # with its thick border
    solid, angles, lines = [_corners(np.array([loss]), side, side, 0.0)[0]], [0.0], []
    ends = [(points[s], points[t], NODE_RADIUS + BORDER) for s, t in edges] + [(points[o], loss, None) for o in outputs]
    for (x0, y0), (x1, y1), reach in ends:
        length = math.hypot(x1 - x0, y1 - y0)
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        if reach is None:  # the loss square's border, where the edge meets it
            reach = (LOSS_HALF + BORDER) / max(abs(ux), abs(uy))
        head = 0.2  # pgf's stealth tip on a very thick line is 1.8 mm long and 1.8 mm wide
        middle = np.array([(x0 + ux * (length - reach - head / 2), y0 + uy * (length - reach - head / 2))])
        angle = math.degrees(math.atan2(uy, ux))
        solid.append(_corners(middle, head + 0.06, 0.2, angle)[0])
        angles.append(angle)
        lines.append((x0, y0, x1, y1))
    return _Scene(np.array(list(points.values())), np.array(solid), np.array(angles), np.array(lines))


@dataclass(frozen=True)
class _Options:
    """Where one label may go: boxes of one size and angle, centres most wanted first."""

    text: Latex
    centres: np.ndarray  # (n, 2)
    width: float
    height: float
    angle: float
    crossings: np.ndarray  # (n,) how many lines each place covers a piece of

    def uncrossed(self) -> _Options:
        return dataclasses.replace(self, centres=self.centres[self.crossings == 0], crossings=self.crossings[self.crossings == 0])

    def label(self, k: int) -> Label:
        x, y = self.centres[k]
        return Label(self.text, float(x), float(y), self.angle, "center", Box(float(x), float(y), self.width, self.height, self.angle))


def _edge_options(text: Latex, a: tuple[float, float], b: tuple[float, float], scene: _Scene) -> _Options:
    """Boxes along the edge a → b, turned with it.

    Wanted first: on the line (its white ground breaks the line, so the label reads as
    that edge's), crossing as few other lines as possible, near the middle; failing
    that, just beside the line, crossing none, so that the nearest line is its own.
    """
    width, height = text_size(text)
    length = math.dist(a, b)
    ux, uy = (b[0] - a[0]) / length, (b[1] - a[1]) / length
    angle = math.degrees(math.atan2(uy, ux))
    along = np.tile(np.arange(STEP, length, STEP), 3)
    side = np.repeat([0.0, 1.0, -1.0], len(along) // 3)
    across = side * (height / 2 + CLEARANCE)
    centres = np.stack([a[0] + ux * along - uy * across, a[1] + uy * along + ux * across], axis=1)
    others = np.array([line for line in scene.lines if {tuple(line[:2]), tuple(line[2:])} != {a, b}]).reshape(-1, 4)
    crossings = _crossings(centres, width, height, angle, others).sum(axis=1)
    keep = scene.free(centres, width, height, angle) & ((side == 0) | (crossings == 0))
    order = np.lexsort((np.abs(along / length - 0.5), crossings, side != 0))
    order = order[keep[order]]
    return _Options(text, centres[order], width, height, angle, crossings[order])


def _note_options(text: Latex, x: float, y: float, scene: _Scene) -> _Options:
    """Boxes beside a neuron: below it first as in a textbook, then above, then shifted sideways."""
    width, height = text_size(text)
    off = NODE_RADIUS + 0.03 + NODE_MARGIN + height / 2
    centres = np.array([(x + dx, y + dy) for dy in (-off, off) for dx in (0.0, 0.3, -0.3, 0.6, -0.6)])
    centres = centres[scene.free(centres, width, height, 0.0)]
    return _Options(text, centres, width, height, 0.0, _crossings(centres, width, height, 0.0, scene.lines).sum(axis=1))


# -- choosing one place per label ----------------------------------------------------------------------


def _choose(options: Sequence[_Options]) -> list[Label] | None:
    """One place per label, none within CLEARANCE of another; None when there is none (or the search gives up).

    A constraint search: a label's places left are the bits of an int (bit k: its k-th
    most wanted place); labels that cannot touch are solved apart; within a group, the
    label with the fewest places left goes first, and every choice is followed by
    dropping the places it leaves a neighbour without any (arc consistency).
    """
    if any(len(o.centres) == 0 for o in options):
        return None
    corners = [_corners(o.centres, o.width, o.height, o.angle) for o in options]
    extent = [(c[..., 0].min(), c[..., 1].min(), c[..., 0].max(), c[..., 1].max()) for c in corners]
    clash: dict[tuple[int, int], list[int]] = {}  # (i, j) -> for each place of label i, the places of j it rules out
    for i, j in itertools.permutations(range(len(options)), 2):
        (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = extent[i], extent[j]
        if ax0 < bx1 + CLEARANCE and bx0 < ax1 + CLEARANCE and ay0 < by1 + CLEARANCE and by0 < ay1 + CLEARANCE:
            hits = _overlap(corners[i], options[i].angle, corners[j], options[j].angle)
            if hits.any():
                clash[i, j] = [int.from_bytes(row.tobytes(), "little") for row in np.packbits(hits, axis=1, bitorder="little")]
    neighbours: dict[int, list[int]] = {i: [] for i in range(len(options))}
    for i, j in clash:
        neighbours[i].append(j)
    chosen: dict[int, int] = {}
    for group in _groups(neighbours):
        found = _search({i: (1 << len(options[i].centres)) - 1 for i in group}, clash, neighbours)
        if found is None:
            return None
        chosen.update((i, mask.bit_length() - 1) for i, mask in found.items())
    return [o.label(chosen[i]) for i, o in enumerate(options)]


def _groups(neighbours: Mapping[int, Sequence[int]]) -> list[list[int]]:
    """The connected groups of labels that can touch."""
    seen: set[int] = set()
    groups = []
    for start in neighbours:
        if start not in seen:
            group, stack = [], [start]
            seen.add(start)
            while stack:
                group.append(i := stack.pop())
                fresh = [j for j in neighbours[i] if j not in seen]
                seen.update(fresh)
                stack.extend(fresh)
            groups.append(sorted(group))
    return groups


def _bits(mask: int) -> Iterable[int]:
    while mask:
        low = mask & -mask
        yield low.bit_length() - 1
        mask ^= low


def _prune(domains: dict[int, int], clash: Mapping[tuple[int, int], list[int]], neighbours: Mapping[int, Sequence[int]],
           arcs: list[tuple[int, int]]) -> bool:  # fmt: skip
    """Drop each place of label i that leaves neighbour j no place, for every arc (i, j), until nothing changes.

    False when a label has no place left. A place of i leaves j none when every place
    j has left rules it out: the places of i that all of j's rule out, an AND of masks.
    """
    while arcs:
        i, j = arcs.pop()
        doomed = domains[i]
        for q in _bits(domains[j]):
            doomed &= clash[j, i][q]
            if not doomed:
                break
        if doomed:
            domains[i] &= ~doomed
            if not domains[i]:
                return False
            arcs.extend((k, i) for k in neighbours[i] if k != j)
    return True


def _search(domains: dict[int, int], clash: Mapping[tuple[int, int], list[int]],
            neighbours: Mapping[int, Sequence[int]]) -> dict[int, int] | None:  # fmt: skip
    """One place (a single bit) per label of a group, or None."""
    if not _prune(domains, clash, neighbours, [(i, j) for i in domains for j in neighbours[i]]):
        return None
    budget = [SEARCH_BUDGET]

    def solve(domains: dict[int, int], open_: frozenset[int]) -> dict[int, int] | None:
        if not open_:
            return domains
        i = min(open_, key=lambda k: (domains[k].bit_count(), k))
        for p in _bits(domains[i]):
            budget[0] -= 1
            if budget[0] < 0:
                return None
            trial = {**domains, i: 1 << p}
            consistent = _prune(trial, clash, neighbours, [(j, i) for j in neighbours[i]])
            if consistent and (found := solve(trial, open_ - {i})) is not None:
                return found
        return None

    return solve(domains, frozenset(domains))


# -- the table, when the edges cannot carry the values -------------------------------------------


def _table(entries: Sequence[Latex], bounds: tuple[float, float, float, float], *, beside: bool) -> tuple[Label, ...] | None:
    """Entries in left-aligned columns beside the drawing (None when the page is too narrow for both), or below it."""
    left, bottom, right, top = bounds
    sizes = [text_size(e) for e in entries]
    pitch = max(h for _, h in sizes) + CLEARANCE
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
            labels.append(Label(entries[i], x, y, 0.0, "west", Box(x + width / 2, y, width, height)))
        x0 += max(sizes[i][0] for i in col) + column_gap
    return tuple(labels)


# -- collisions, for many boxes of one size and angle at once (numpy arrays of centres) --------------


def _corners(centres: np.ndarray, width: float, height: float, angle: float) -> np.ndarray:
    """(n, 4, 2) corners of boxes with these centres."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    w, h = width / 2, height / 2
    offsets = np.array([(c * dx - s * dy, s * dx + c * dy) for dx, dy in ((-w, -h), (w, -h), (w, h), (-w, h))])
    return centres[:, None, :] + offsets[None, :, :]


def _overlap(a: np.ndarray, angle_a: float | np.ndarray, b: np.ndarray, angle_b: float | np.ndarray) -> np.ndarray:
    """(len a, len b): True where box a[i] comes within CLEARANCE of box b[j].

    Two rectangles are apart when some side's direction separates their shadows; testing
    the directions of every box in a and b (angles: one for all, or one per box) is enough.
    """
    angles = np.unique(np.concatenate([np.atleast_1d(angle_a), np.atleast_1d(angle_b)]) % 180)
    radians = np.radians(np.concatenate([angles, angles + 90]))
    axes = np.stack([np.cos(radians), np.sin(radians)])  # (2, k)
    pa, pb = a @ axes, b @ axes  # (n, 4, k): each corner's shadow on each direction
    low_a, high_a, low_b, high_b = pa.min(1), pa.max(1), pb.min(1), pb.max(1)
    apart = (high_a[:, None] + CLEARANCE <= low_b[None]) | (high_b[None] + CLEARANCE <= low_a[:, None])
    return ~apart.any(axis=2)


def _local(points: np.ndarray, centres: np.ndarray, angle: float) -> np.ndarray:
    """(n, m, 2): each point in the own axes (along, across) of each box centred at `centres`."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    d = points[None, :, :] - centres[:, None, :]
    return np.stack([d[..., 0] * c + d[..., 1] * s, -d[..., 0] * s + d[..., 1] * c], axis=-1)


def _near_circles(centres: np.ndarray, width: float, height: float, angle: float, circles: np.ndarray,
                  radius: float) -> np.ndarray:  # fmt: skip
    """(n,): True where a box comes closer than `radius` to one of the circles' centres."""
    local = _local(circles, centres, angle)
    nearest = np.clip(local, [-width / 2, -height / 2], [width / 2, height / 2])
    return (np.hypot(*(local - nearest).transpose(2, 0, 1)) < radius).any(axis=1)


def _crossings(centres: np.ndarray, width: float, height: float, angle: float, lines: np.ndarray) -> np.ndarray:
    """(n, m): True where line m (a segment, rows x0, y0, x1, y1) passes through box n (clipped in its axes)."""
    start, end = _local(lines[:, :2], centres, angle), _local(lines[:, 2:], centres, angle)
    step = end - start
    half = np.array([width / 2, height / 2])
    with np.errstate(divide="ignore", invalid="ignore"):
        t0, t1 = (-half - start) / step, (half - start) / step
    inside = np.abs(start) < half  # a line parallel to a side: in or out for every t
    low = np.where(step == 0, np.where(inside, 0.0, np.inf), np.minimum(t0, t1))
    high = np.where(step == 0, np.where(inside, 1.0, -np.inf), np.maximum(t0, t1))
    return np.maximum(low.max(-1), 0.0) < np.minimum(high.min(-1), 1.0)
