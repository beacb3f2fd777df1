"""The handout's network figure is readable on paper: no label covers another label, a neuron, the loss
or an arrowhead; the weights are on their edges or, when no placement exists, in a table; the figure
fits the page's width; the thumbnails carry no text.

The boxes come from the Figure (handout_figure's estimate of each label's text at \\scriptsize, in cm).
The geometry that checks them is this file's own (polygons, segments and circles, not the module's
separating-axis code), and pdflatex checks that every estimated box holds the text TeX really sets.
"""

from __future__ import annotations

import math
import re

import pytest
import yaml
from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_render import needs_tex, pdf_text

import symbackprop as sbp
from symbackprop import handout_figure, printing, render

PAGE_WIDTH = 17.0  # cm: A4 with 2 cm margins
RADIUS = 0.45 + 0.6 / 28.45  # a 9 mm neuron and half its very thick border (0.6 pt)
LOSS_HALF = 0.4 + 0.4 / 28.45  # the 8 mm loss square and half its thick border
TIP_LENGTH, TIP_HALF_WIDTH = 0.18, 0.09  # pgf's stealth tip on a very thick (1.2 pt) line: 8 × and 4 × 0.64 pt
PT = 2.54 / 72.27


def spec(layers, activation="sigmoid", *, decimals=2, seed=0, **extra):
    return sbp.spec_from_dict({"layers": list(layers), "activation": activation, "loss": "mse", "learning_rate": 0.5,
                               "inputs": [0.5] * layers[0], "targets": [0.5] * layers[-1],
                               "init": {"seed": seed, "decimals": decimals}, **extra})  # fmt: skip


def drawn(s, decimals=6):
    derivation = sbp.derive(s)
    return derivation, handout_figure.figure(derivation, s.parameters, decimals, highlight=None)


# -- the test's own geometry ---------------------------------------------------------------------------


def polygon(box):
    """The four corners of a label's box, turned by its angle about its centre."""
    c, s = math.cos(math.radians(box.angle)), math.sin(math.radians(box.angle))
    half = [(-box.width / 2, -box.height / 2), (box.width / 2, -box.height / 2),
            (box.width / 2, box.height / 2), (-box.width / 2, box.height / 2)]  # fmt: skip
    return [(box.x + c * u - s * v, box.y + s * u + c * v) for u, v in half]


def cross(o, a, b):
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def segments_meet(p, q, r, s):
    if cross(r, s, p) * cross(r, s, q) < 0 and cross(p, q, r) * cross(p, q, s) < 0:
        return True  # a proper crossing; else touching, an end on the other segment
    return min(point_segment(p, r, s), point_segment(q, r, s), point_segment(r, p, q), point_segment(s, p, q)) < 1e-9


def inside(point, poly):
    """Inside a convex polygon (either winding)."""
    signs = [cross(poly[i], poly[(i + 1) % len(poly)], point) for i in range(len(poly))]
    return all(s > 0 for s in signs) or all(s < 0 for s in signs)


def edges_of(poly):
    return [(poly[i], poly[(i + 1) % len(poly)]) for i in range(len(poly))]


def polygons_meet(a, b):
    return (any(segments_meet(p, q, r, s) for p, q in edges_of(a) for r, s in edges_of(b))
            or any(inside(p, b) for p in a) or any(inside(p, a) for p in b))  # fmt: skip


def point_segment(p, a, b):
    ax, ay, bx, by = *a, *b
    length2 = (bx - ax) ** 2 + (by - ay) ** 2
    t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - ax) * (bx - ax) + (p[1] - ay) * (by - ay)) / length2))
    return math.dist(p, (ax + t * (bx - ax), ay + t * (by - ay)))


def circle_meets(poly, centre, radius):
    return inside(centre, poly) or min(point_segment(centre, a, b) for a, b in edges_of(poly)) < radius


def arrowheads(fig):
    """Each edge's stealth tip: its point on the target's border, 1.8 mm long and 1.8 mm wide."""
    points = {n.id: (n.x, n.y) for n in fig.nodes}
    ends = [(points[e.source], points[e.target], None) for e in fig.edges]
    ends += [(points[o], (fig.loss_x, fig.loss_y), "loss") for o in fig.outputs]
    tips = []
    for (x0, y0), (x1, y1), kind in ends:
        length = math.hypot(x1 - x0, y1 - y0)
        ux, uy = (x1 - x0) / length, (y1 - y0) / length
        reach = LOSS_HALF / max(abs(ux), abs(uy)) if kind == "loss" else RADIUS
        tip = (x1 - ux * reach, y1 - uy * reach)
        back = (tip[0] - ux * TIP_LENGTH, tip[1] - uy * TIP_LENGTH)
        tips.append([tip, (back[0] - uy * TIP_HALF_WIDTH, back[1] + ux * TIP_HALF_WIDTH),
                     (back[0] + uy * TIP_HALF_WIDTH, back[1] - ux * TIP_HALF_WIDTH)])  # fmt: skip
    return tips


def loss_square(fig):
    x, y, h = fig.loss_x, fig.loss_y, LOSS_HALF
    return [(x - h, y - h), (x + h, y - h), (x + h, y + h), (x - h, y + h)]


def said(network, symbol, parameters, decimals=6):
    return f"{network.latex(symbol)} = {printing.number(parameters[symbol.name], decimals=decimals)}"


def assert_readable(derivation, fig, parameters, decimals=6):
    """No overlaps, labels where they belong, every value shown once, within the page's width."""
    labels = fig.labels()
    boxes = [polygon(label.box) for label in labels]
    for (i, a), (j, b) in ((p, q) for p in enumerate(boxes) for q in enumerate(boxes) if p[0] < q[0]):
        assert not polygons_meet(a, b), f"{labels[i].text!r} overlaps {labels[j].text!r}"
    for label, box in zip(labels, boxes):
        for node in fig.nodes:
            assert not circle_meets(box, (node.x, node.y), RADIUS), f"{label.text!r} covers neuron {node.id}"
        assert not polygons_meet(box, loss_square(fig)), f"{label.text!r} covers the loss"
        for tip in arrowheads(fig):
            assert not polygons_meet(box, tip), f"{label.text!r} covers an arrowhead at {tip[0]}"
        if label.anchor == "center":  # where TikZ puts it is where the box is
            assert (label.box.x, label.box.y, label.box.angle) == pytest.approx((label.x, label.y, label.angle))
        else:
            assert label.anchor == "west" and label.angle == 0 == label.box.angle
            assert (label.box.x - label.box.width / 2, label.box.y) == pytest.approx((label.x, label.y))

    points = {n.id: (n.x, n.y) for n in fig.nodes}
    for edge in fig.edges:
        if edge.label is not None:  # on its own edge, or just beside it, turned with it, between the neurons
            (x0, y0), (x1, y1) = points[edge.source], points[edge.target]
            length = math.hypot(x1 - x0, y1 - y0)
            ux, uy = (x1 - x0) / length, (y1 - y0) / length
            dx, dy = edge.label.x - x0, edge.label.y - y0
            assert edge.label.angle == pytest.approx(math.degrees(math.atan2(uy, ux)))
            assert abs(-dx * uy + dy * ux) <= edge.label.box.height / 2 + 0.05
            assert RADIUS < dx * ux + dy * uy < length - RADIUS
    for node in fig.nodes:
        if node.note is not None:  # beside its own neuron
            assert min(point_segment((node.x, node.y), a, b) for a, b in edges_of(polygon(node.note.box))) < RADIUS + 0.3

    network = derivation.network
    weights = [w for n in network.neurons for w in n.weights]
    biases = {f"n{n.layer}x{n.index}": n.bias for n in network.neurons if n.bias is not None}
    if fig.table:
        assert all(e.label is None for e in fig.edges)
    if len(weights) <= handout_figure.EDGE_LABEL_MAX:  # every value appears: on its edge, beside its neuron or in the table
        for edge, weight in zip(fig.edges, weights):
            assert edge.label is None or edge.label.text == said(network, weight, parameters, decimals)
        listed = [label.text for label in fig.table]
        assert len(listed) == len(set(listed))
        expected = set() if not fig.table else {said(network, w, parameters, decimals) for w in weights}
        expected |= {said(network, b, parameters, decimals) for id_, b in biases.items()
                     if next(n for n in fig.nodes if n.id == id_).note is None}  # fmt: skip
        assert set(listed) == expected
        if not fig.table:
            assert all(e.label is not None for e in fig.edges)
    else:
        assert not fig.table and all(e.label is None for e in fig.edges)

    xs = [x for box in boxes for x, _ in box] + [n.x + s * RADIUS for n in fig.nodes for s in (-1, 1)]
    xs += [fig.loss_x - LOSS_HALF, fig.loss_x + LOSS_HALF]
    assert max(xs) - min(xs) <= PAGE_WIDTH


# -- shipped examples and generated networks --------------------------------------------------------


def network_specs():
    return sorted(p.name for p in EXAMPLES.glob("*.yaml") if "layers" in (yaml.safe_load(p.read_text()) or {}))


@pytest.mark.parametrize("name", network_specs())
def test_shipped_examples_are_readable(name):
    s = sbp.load_spec(EXAMPLES / name)
    if sum(s.layers) > handout_figure.FIGURE_MAX_NEURONS:
        try:
            derivation = sbp.derive(s)
        except sbp.SymbackpropError as error:
            pytest.skip(f"{name} has no handout: {error}")
        assert handout_figure.figure(derivation, s.parameters, 6, highlight=None) is None
        return
    derivation, fig = drawn(s)
    assert_readable(derivation, fig, s.parameters)
    assert not fig.table, "the shipped examples are small enough for labels on the edges"


GENERATED = [
    ((2, 2, 1), "sigmoid", {}),
    ((3, 3, 2), "tanh", {}),
    ((3, 3, 2), "tanh", {"decimals": 6}),
    ((2, 3, 2), ["sigmoid", "softmax"], {"loss": "cross_entropy", "targets": [0, 1]}),
    ((4, 4, 1), "relu", {}),
    ((2, 4, 4, 1), "sigmoid", {}),
    ((3, 4, 3), "tanh", {}),
    ((4, 5, 3), "tanh", {"seed": 1}),
    ((1, 6, 1), "sigmoid", {"decimals": 6}),
    ((2, 6, 2), "sigmoid", {}),
    ((5, 5, 2), "sigmoid", {}),
    ((6, 6, 1), "sigmoid", {}),  # 36 weights
    ((3, 3, 3, 3), "tanh", {}),
    ((2, 2, 2, 2, 2, 2), "sigmoid", {}),
    ((2, 3, 2), "sigmoid", {"naming": "layer"}),  # W^{(1)}_{1,2}: taller labels
    ((3, 3, 2), "sigmoid", {"naming": "sequential", "bias": "per_layer"}),
    ((3, 3, 2), "sigmoid", {"bias": "none", "decimals": 12}),
    ((2, 2, 1), "sigmoid", {"decimals": 12}),
    ((8, 8, 8), "sigmoid", {}),  # FIGURE_MAX_NEURONS, more weights than EDGE_LABEL_MAX
    ((12, 12), "sigmoid", {}),
    ((1, 22, 1), "sigmoid", {}),
    ((2, 10, 10, 2), "sigmoid", {}),
    ((3,) * 8, "tanh", {}),
]


def _id(case):
    layers, activation, extra = case
    return "-".join(map(str, layers)) + f" {activation if isinstance(activation, str) else '+'.join(activation)} {extra or ''}"


@pytest.mark.parametrize(("layers", "activation", "extra"), GENERATED, ids=[_id(c) for c in GENERATED])
def test_generated_networks_are_readable(layers, activation, extra):
    s = spec(layers, activation, **extra)
    derivation, fig = drawn(s)
    assert_readable(derivation, fig, s.parameters)


@pytest.mark.parametrize(("layers", "activation", "extra"), [GENERATED[i] for i in (0, 1, 3, 4)], ids=[_id(GENERATED[i]) for i in (0, 1, 3, 4)])
def test_small_networks_carry_their_weights_on_the_edges(layers, activation, extra):
    s = spec(layers, activation, **extra)
    _, fig = drawn(s)
    assert not fig.table and all(e.label is not None for e in fig.edges)
    assert all(n.note is not None for n in fig.nodes if not n.id.startswith("n0"))


def test_softmax_example_shows_w43_clear_of_w51():
    s = sbp.load_spec(EXAMPLES / "softmax_2_3_2.yaml")
    _, fig = drawn(s)
    texts = {e.label.text: polygon(e.label.box) for e in fig.edges}
    assert not polygons_meet(texts["w_{43} = 0.6"], texts["w_{51} = -0.4"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layers=st.lists(st.integers(1, 6), min_size=2, max_size=5).filter(lambda l: sum(l) <= 24),
       decimals=st.sampled_from([1, 2, 6]), seed=st.integers(0, 99))  # fmt: skip
def test_any_network_within_the_limit_is_readable(layers, decimals, seed):
    s = spec(layers, "tanh", decimals=decimals, seed=seed)
    derivation, fig = drawn(s)
    assert_readable(derivation, fig, s.parameters)


# -- the table, when no placement exists ---------------------------------------------------------------


def test_a_label_longer_than_any_edge_sends_the_weights_to_a_table():
    name = "w" + "long" * 17
    s = spec((2, 2, 1), "sigmoid", rename={"w11": name})
    derivation, fig = drawn(s)
    long_label = next(label for label in fig.table if "long" in label.text)
    # two gaps between layers fit in the page's width, so no edge is longer than this; the label (even
    # 30 % narrower than its estimate, more than pdflatex ever measures) cannot lie along one
    y = {n.id: n.y for n in fig.nodes}
    longest_edge = math.hypot(PAGE_WIDTH / 2, max(abs(y[e.source] - y[e.target]) for e in fig.edges))
    assert long_label.box.width / 1.3 > longest_edge
    assert fig.table and all(e.label is None for e in fig.edges)
    assert_readable(derivation, fig, s.parameters)


def test_the_table_sits_beside_the_drawing_when_the_page_has_room():
    s = spec((3, 3, 2), "tanh", decimals=12)  # labels of 3 cm: too long for the edges of a 3-3 block
    derivation, fig = drawn(s)
    assert fig.table
    rightmost = max(max(n.x for n in fig.nodes) + RADIUS, fig.loss_x + LOSS_HALF)
    assert all(label.box.x - label.box.width / 2 > rightmost for label in fig.table)
    assert_readable(derivation, fig, s.parameters)


# -- what TeX sets: each estimated box holds its text ---------------------------------------------


def test_label_boxes_hold_the_text_pdflatex_sets(tmp_path):
    needs_tex()
    figures = [drawn(sbp.load_spec(EXAMPLES / "softmax_2_3_2.yaml"))[1],
               drawn(spec((2, 3, 2), "sigmoid", naming="layer"))[1],
               drawn(spec((3, 3, 2), "tanh", decimals=12, bias="none"))[1],
               drawn(spec((2, 2, 1), "sigmoid", rename={"w11": "gain", "w12": "alpha", "b1": "WideMW"}))[1],
               drawn(spec((2, 1), "sigmoid", parameters={"w11": 1.4e-6, "w12": -123.456789, "b1": 0.000001}))[1]]  # fmt: skip
    boxes = {label.text: label.box for fig in figures for label in fig.labels()}
    texts = sorted(boxes)
    for size in (10, 11, 12):
        body = "\n".join(rf"\sbox\probe{{\scriptsize${t}$}}\noindent M{k}:\the\wd\probe:\the\ht\probe:\the\dp\probe\par" for k, t in enumerate(texts))
        tex = (rf"\documentclass[{size}pt]{{article}}\usepackage[T1]{{fontenc}}\usepackage[utf8]{{inputenc}}"
               r"\usepackage{lmodern}\usepackage{amsmath}\newsavebox\probe\begin{document}" + body + r"\end{document}")  # fmt: skip
        text = pdf_text(render.compile_pdf(tex, tmp_path / f"probe{size}.pdf"))
        found = {int(k): (float(w), float(h), float(d)) for k, w, h, d in re.findall(r"M(\d+):([\d.]+)pt:([\d.]+)pt:([\d.]+)pt", text)}
        assert len(found) == len(texts)
        for k, text_ in enumerate(texts):
            width, height, depth = found[k]
            box = boxes[text_]
            assert box.width >= width * PT + 2 * PT, (size, text_)  # the weight style's inner sep is 1 pt
            assert box.height >= (height + depth) * PT + 2 * PT, (size, text_)
            if size != 10:  # not so loose that labels are refused room they would fit in
                assert box.width <= 1.25 * (width * PT + 2 * PT), (size, text_)


# -- the template draws what the Figure says -------------------------------------------------------


def macro():
    return render.environment().get_template("network.tex.j2").module.network


def test_template_draws_each_label_where_the_figure_places_it():
    for fig in (drawn(sbp.load_spec(EXAMPLES / "softmax_2_3_2.yaml"))[1], drawn(spec((3, 3, 3, 3), "tanh"))[1]):
        tex = str(macro()(fig))
        found = re.findall(r"\\node\[weight(?:, rotate=(-?[\d.]+))?(?:, anchor=(\w+))?\] at \((-?[\d.]+), (-?[\d.]+)\) \{\$(.*)\$\};", tex)
        assert fig.labels() and len(found) == len(fig.labels())
        tikz = sorted((t, a or "center", float(x), float(y), float(r or 0)) for r, a, x, y, t in found)
        wanted = sorted((label.text, label.anchor, label.x, label.y, label.angle) for label in fig.labels())
        for (text, anchor, *numbers), (text_, anchor_, *numbers_) in zip(tikz, wanted):
            assert (text, anchor) == (text_, anchor_)
            assert numbers == pytest.approx(numbers_, abs=0.006)  # written to 0.001 cm and 0.01 degree


# -- thumbnails ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scale", [0.35, 0.5])
def test_thumbnails_carry_no_text(scale):
    s = sbp.load_spec(EXAMPLES / "softmax_2_3_2.yaml")
    derivation = sbp.derive(s)
    for name in ("w11", "b2", "w32"):
        thumb = handout_figure.figure(derivation, s.parameters, 6, highlight=derivation.gradients[name].chains, labels=False)
        assert thumb.labels() == () and not thumb.named
        assert any(e.highlighted for e in thumb.edges) and thumb.loss_highlighted
        tex = str(macro()(thumb, scale))
        assert "$" not in tex and r"\node[weight" not in tex
        contents = re.findall(r"\\node\[[^\]]*\][^{;]*\{([^}]*)\};", tex)
        assert len(contents) == sum(s.layers) + 1 and set(contents) == {""}  # every neuron and the loss, empty
