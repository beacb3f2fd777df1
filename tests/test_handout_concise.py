"""The concise handout's parts: layer grids (handout_grids) and the vector-form page (handout_vector).

Numbers are checked against a plain NumPy forward and backward pass written here
from the textbook rules, with the README's names (tests/reference.py); the page's
equations are read back from their LaTeX and evaluated on that pass's arrays; and
the grids and page are typeset in a small document to see that TeX sets them
within the text width, with the widths the grids assumed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from conftest import EXAMPLES
from reference import weight_and_bias_names

import symbackprop as sbp
from symbackprop import api, handout_grids, handout_vector, numeric, render, spec, vector

ROOT = Path(__file__).resolve().parent.parent
# a number as the grids print it: fixed places, or a \times 10^{k}; marks (\rlap{...}) follow it
NUMBER = re.compile(r"(-?\d+(?:\.\d+)?)(?: \\times 10\^\{(-?\d+)\})?")
WIDE = {  # a 16-wide layer, a batch, cross-entropy after a sigmoid (δ = ŷ − t), a frozen weight
    "layers": [3, 16, 4, 1], "activation": ["tanh", "sigmoid", "sigmoid"], "loss": "binary_cross_entropy",
    "init": {"seed": 3}, "learning_rate": 0.5, "frozen": ["w11"],
    "data": [{"inputs": [0.5, -1.0, 2.0], "targets": [1.0]}, {"inputs": [-0.3, 0.8, 0.1], "targets": [0.0]},
             {"inputs": [1.5, 0.2, -0.7], "targets": [1.0]}],
}  # fmt: skip
TIED = {  # one bias per layer: each sits at every row of its layer's grid
    "layers": [2, 3, 2], "activation": "sigmoid", "loss": "mse", "bias": "per_layer", "init": {"seed": 5},
    "inputs": [0.4, -0.6], "targets": [0.2, 0.9],
}  # fmt: skip


# --- the oracle -------------------------------------------------------------------------------


def _f(name, z):
    return {"sigmoid": lambda: 1 / (1 + np.exp(-z)), "tanh": lambda: np.tanh(z)}[name]()


def _slope(name, a):
    """f'(z) in terms of the output a = f(z)."""
    return {"sigmoid": lambda: a * (1 - a), "tanh": lambda: 1 - a**2}[name]()


def _loss_slope(loss, y, t):
    """∂L/∂ŷ for one example."""
    return {"half_squared_error": lambda: y - t, "mse": lambda: 2 * (y - t) / len(y),
            "binary_cross_entropy": lambda: -t / y + (1 - t) / (1 - y)}[loss]()  # fmt: skip


def oracle(raw, params):
    """Per example: x, t, and per layer z, a, δ, dL/dW, dL/db (column vectors), by textbook backpropagation."""
    names = weight_and_bias_names(raw["layers"], raw.get("naming", "neuron"), raw.get("bias", "per_neuron"))
    acts = raw["activation"] if isinstance(raw["activation"], list) else [raw["activation"]] * (len(raw["layers"]) - 1)
    Ws = [np.array([[params[n] for n in row] for row in lw]) for lw in names[0]]
    bs = [np.array([[params[n]] for n in lb]) for lb in names[1]]
    examples = raw.get("data") or [{"inputs": raw["inputs"], "targets": raw["targets"]}]
    passes = []
    for example in examples:
        x = np.array(example["inputs"], float)[:, None]
        t = np.array(example["targets"], float)[:, None]
        zs, hs = [], [x]
        for W, b, act in zip(Ws, bs, acts):
            zs.append(W @ hs[-1] + b)
            hs.append(_f(act, zs[-1]))
        deltas = [None] * len(Ws)
        deltas[-1] = _loss_slope(raw["loss"], hs[-1], t) * _slope(acts[-1], hs[-1])
        for l in range(len(Ws) - 2, -1, -1):
            deltas[l] = (Ws[l + 1].T @ deltas[l + 1]) * _slope(acts[l], hs[l + 1])
        grads_W = [d @ h.T for d, h in zip(deltas, hs)]
        passes.append(SimpleNamespace(x=x, t=t, z=zs, h=hs[1:], delta=deltas, W=Ws, b=bs, acts=acts,
                                      dW=grads_W, db=deltas))  # fmt: skip
    return names, passes


def mean_gradients(names, passes):
    """Parameter name -> mean gradient over the examples; a name at several places sums them."""
    total = Counter()
    for p in passes:
        for lw, lb, dW, db in zip(names[0], names[1], p.dW, p.db):
            for j, row in enumerate(lw):
                for k, name in enumerate(row):
                    total[name] += dW[j, k] / len(passes)
                total[lb[j]] += db[j, 0] / len(passes)
    return dict(total)


# --- the subject ------------------------------------------------------------------------------


def _raw(case):
    if case == "big":
        return yaml.safe_load((ROOT / "examples" / "big.yaml").read_text())
    return {"wide": WIDE, "tied": TIED}[case]


def _subject(name):
    """The spec of a case, its derivation and its numbers."""
    loaded = spec.load(ROOT / "examples" / "big.yaml") if name == "big" else sbp.build_spec(**_raw(name))
    derivation = api.derive(loaded)
    return loaded, derivation, numeric.solve(derivation)


@pytest.fixture(scope="module", params=["big", "wide", "tied"])
def case(request):
    raw = _raw(request.param)
    loaded, derivation, solution = _subject(request.param)
    names, passes = oracle(raw, loaded.parameters)
    return SimpleNamespace(name=request.param, raw=raw, spec=loaded, derivation=derivation, solution=solution,
                           names=names, passes=passes)  # fmt: skip


def _value(cell):
    """A grid cell's number, and the largest rounding error its printed places allow."""
    match = NUMBER.match(cell)
    assert match, cell
    mantissa, exponent = match.groups()
    places = len(mantissa.partition(".")[2])
    scale = 10.0 ** int(exponent or 0)
    return float(mantissa) * scale, 0.5 * 10.0**-places * scale * (1 + 1e-9)


def _assemble(tables, key, layer):
    """A layer's grid put back together from its blocks: header cells and rows of cells, labels dropped."""
    blocks = [t for t in tables if t.caption.key == key and t.caption.args[0] == layer]
    parts = [t.caption.args[1:3] for t in blocks]
    assert parts == [(i, len(blocks)) for i in range(1, len(blocks) + 1)], parts
    header = [h for t in blocks for h in t.header[1:]]
    rows = [[c for t in blocks for c in t.rows[i].cells[1:]] for i in range(len(blocks[0].rows))]
    assert all([r.cells[0] for r in t.rows] == [r.cells[0] for r in blocks[0].rows] for t in blocks)
    return header, rows


def _close(cell, expected):
    value, rounding = _value(cell)
    assert abs(value - expected) <= rounding + 1e-12 * abs(expected), (cell, expected)


# --- grids ------------------------------------------------------------------------------------


def test_forward_grids_hold_the_first_examples_z_h_and_delta(case):
    tables = handout_grids.forward_grids(case.derivation, case.solution)
    first = case.passes[0]
    for l in range(1, len(case.spec.layers)):
        header, (z, h, delta) = _assemble(tables, "forward_grid", l)
        assert header == [f"j = {j}" for j in range(1, case.spec.layers[l] + 1)]
        for cells, expected in ((z, first.z[l - 1]), (h, first.h[l - 1]), (delta, first.delta[l - 1])):
            for cell, value in zip(cells, expected[:, 0], strict=True):
                _close(cell, value)
    assert {t.caption.args[3] for t in tables} == {len(case.passes)}  # the template says "example 1 of N"


def test_gradient_grids_show_every_parameter_once_with_its_mean_gradient(case):
    tables = handout_grids.gradient_grids(case.derivation, case.solution)
    expected = mean_gradients(case.names, case.passes)
    seen = []
    for l, (lw, lb) in enumerate(zip(*case.names), start=1):
        header, rows = _assemble(tables, "gradient_grid", l)
        assert header == [f"k = {k}" for k in range(1, len(lw[0]) + 1)] + [f"b^{{({l})}}_{{j}}"]
        for row, weights, bias in zip(rows, lw, lb, strict=True):
            for cell, name in zip(row, [*weights, bias], strict=True):
                _close(cell, expected[name])
                seen.append(name)
    if case.name == "tied":  # one bias per layer: at every row, marked, and said under the table
        assert Counter(seen) == Counter({**dict.fromkeys(expected, 1), "b1": 3, "b2": 2})
        assert all(t.notes == (handout_grids.Phrase("tied_gradient_note", (handout_grids.TIED_MARK,)),) for t in tables)
        bias_cells = [row.cells[-1] for t in tables if t.header[-1].startswith("b") for row in t.rows]
        assert bias_cells and all(cell.endswith(r"\rlap{$^{\dagger}$}") for cell in bias_cells)
    else:
        assert sorted(seen) == sorted(case.spec.parameters)  # each parameter exactly once
        assert all(t.notes == () for t in tables)
    assert [t.caption.args[0] for t in tables] == sorted((t.caption.args[0] for t in tables), reverse=True)


def _widths(table, room):
    """Each column's width with the space around it, as TeX sets it at most: the row labels', then each block's."""
    cells = [table.header, *(row.cells for row in table.rows)]
    return [max(handout_grids.width(row[i], room.font_size) for row in cells) + room.column_sep
            for i in range(len(table.header))]  # fmt: skip


@pytest.mark.parametrize("font_size", [10, 11, 12])
def test_blocks_keep_every_grid_within_the_text_width(case, font_size):
    room = handout_grids.room_for(paper="a4", font_size=font_size)
    grids = (handout_grids.forward_grids, handout_grids.gradient_grids)
    for make in grids:
        tables = make(case.derivation, case.solution, room=room)
        for t in tables:  # the columns and the table macro's (empty) note column
            assert sum(_widths(t, room)) + room.column_sep <= room.text_width, t.caption
        # a layer is split only when its columns do not fit side by side
        for layer in {t.caption.args[0] for t in tables}:
            parts = [t for t in tables if t.caption.args[0] == layer]
            assert len(parts) == parts[0].caption.args[2]
            if len(parts) > 1:
                together = _widths(parts[0], room)[0] + sum(sum(_widths(t, room)[1:]) for t in parts)
                assert together + room.column_sep > room.text_width, parts[0].caption


def test_split_takes_the_fewest_balanced_blocks():
    assert handout_grids.split([50.0] * 9, 300.0) == [(0, 5), (5, 9)]
    assert handout_grids.split([50.0] * 6, 300.0) == [(0, 6)]
    assert handout_grids.split([50.0, 50.0, 250.0], 300.0) == [(0, 2), (2, 3)]
    assert handout_grids.split([400.0, 10.0], 300.0) == [(0, 1), (1, 2)]  # too wide alone: a block of its own
    assert handout_grids.split([100.0, 100.0, 100.0, 150.0], 300.0) == [(0, 2), (2, 4)]


def test_a_16_wide_layer_splits_into_two_balanced_blocks():
    _, derivation, solution = _subject("wide")
    tables = handout_grids.gradient_grids(derivation, solution)  # as the handout sets them: \footnotesize, 3 pt apart
    layer_2 = [t for t in tables if t.caption.args[0] == 2]  # 4 neurons × (16 weights + bias) at 6 decimals
    assert [len(t.header) - 1 for t in layer_2] == [9, 8]
    assert [t.caption.args[1:3] for t in layer_2] == [(1, 2), (2, 2)]


# --- the vector page --------------------------------------------------------------------------


def test_vector_page_shapes_are_the_matrices_vector_py_computes_with(case):
    form = vector.derive(case.spec)
    page = handout_vector.page(form, case.spec.examples)
    evaluator = vector.VectorEvaluator(form)
    matrices = evaluator.matrices(evaluator.flat(case.spec.parameters))
    assert page.shapes[0] == (handout_vector.Shape(("x",), case.spec.layers[0], 1),)
    for (W, b), (weights, vectors), first in zip(matrices, page.shapes[1:], case.passes[0].W, strict=True):
        assert (weights.rows, weights.columns) == W.shape == first.shape
        assert (vectors.rows, vectors.columns) == (b.shape[0], 1)
    biases = len(page.shapes) - 1 if case.name == "tied" else sum(v.rows for _, v in page.shapes[1:])
    assert page.parameters == sum(w.rows * w.columns for w, _ in page.shapes[1:]) + biases
    assert page.tied == (case.name == "tied") and page.frozen == len(case.spec.frozen)
    assert page.batch == len(case.passes) and page.depth == len(case.spec.layers) - 1


def test_vector_page_gradients_are_the_grids_numbers(case):
    """Entry (j, k) of ∂L/∂W^{(l)} as vector.py computes it is the grid's cell in row j, column k."""
    form = vector.derive(case.spec)
    evaluator = vector.VectorEvaluator(form)
    inputs = np.array([e.inputs for e in case.spec.examples])
    targets = np.array([e.targets for e in case.spec.examples])
    flat = evaluator.gradients(inputs, targets, evaluator.flat(case.spec.parameters)).flat
    tables = handout_grids.gradient_grids(case.derivation, case.solution)
    for l, (dW, db) in enumerate(evaluator.matrices(flat), start=1):
        _, rows = _assemble(tables, "gradient_grid", l)
        for row, weights, bias in zip(rows, dW, db, strict=True):
            for cell, value in zip(row, [*weights, bias], strict=True):
                _close(cell, value)


def _read(latex, *, elementwise):
    """One side of a page equation as NumPy: names become variables, juxtaposition a product."""
    text = re.sub(r"\\frac\{\\partial L\}\{\\partial ([a-zW])\^\{\((\d)\)\}\}", r"dLd\1\2", latex)
    text = re.sub(r"f_\{(\d)\}'\\!\\left\(z\^\{\(\d\)\}\\right\)", r"fprime\1", text)
    text = re.sub(r"\\tanh\{\\left\((.*?) \\right\)\}", r"tanh(\1)", text)
    text = re.sub(r"\\delta\^\{\((\d)\)\}", r"delta\1", text)
    text = re.sub(r"([Wbzh])\^\{\((\d)\)\}", r"\1\2", text)
    text = re.sub(r"(?<![\w\\])(delta\d|\\hat\{y\}|t)_\{(\d)\}", r"\1[\2 - 1]", text)  # entry j of a vector
    for old, new in ((r"\hat{y}", "yhat"), (r"\left(", "("), (r"\right)", ")"), (r"\sigma", "sigmoid"),
                     (r"\circ", "*"), ("^{T}", ".T"), ("^{2}", "**2")):  # fmt: skip
        text = text.replace(old, new)
    # what stands side by side multiplies: entry by entry in an elementwise rule, else as matrices
    return re.sub(r"(?<=[\w)\]])\s+(?=[\w(])", " * " if elementwise else " @ ", text)


def test_vector_page_equations_evaluate_to_the_numpy_pass(case):
    """Each equation of the page, read back from its LaTeX, holds on the first example's arrays."""
    page = handout_vector.page(vector.derive(case.spec), case.spec.examples)
    p = case.passes[0]
    depth = len(p.W)
    names = {"x": p.x, "t": p.t, "yhat": p.h[-1], "sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh}
    for l in range(1, depth + 1):
        names |= {f"W{l}": p.W[l - 1], f"b{l}": p.b[l - 1], f"z{l}": p.z[l - 1], f"h{l}": p.h[l - 1],
                  f"delta{l}": p.delta[l - 1], f"dLdW{l}": p.dW[l - 1], f"dLdb{l}": p.db[l - 1],
                  f"fprime{l}": _slope(p.acts[l - 1], p.h[l - 1])}  # fmt: skip
    names[f"dLdz{depth}"] = p.delta[-1]
    # the activations, the output δ's rule and each f′ hold entry by entry; the rest are matrix equations
    elementwise = {row[1] for row in page.forward} | set(page.backward[1]) | {row[1] for row in page.backward[2:]}
    lines = [line for group in (page.forward, page.backward, page.gradients) for row in group for line in row]
    for line in lines:
        lhs, rhs = (eval(_read(side, elementwise=line in elementwise), {}, names) for side in (line.lhs, line.rhs))
        np.testing.assert_allclose(rhs, lhs, rtol=1e-12, atol=1e-15, err_msg=f"{line.lhs} = {line.rhs}")
    biases = 0 if case.spec.bias == "none" else depth
    assert len(lines) == 2 * depth + 2 + 2 * (depth - 1) + depth + biases


def test_vector_page_output_delta_follows_the_loss(case):
    page = handout_vector.page(vector.derive(case.spec), case.spec.examples)
    (definition,), (rule,) = page.backward[:2]
    depth = len(case.spec.layers) - 1
    assert definition.rhs == rf"\frac{{\partial L}}{{\partial z^{{({depth})}}}}"
    if case.name == "wide":  # sigmoid and cross-entropy cancel
        assert rule.rhs == r"\hat{y} - t"
        assert rule.note == handout_grids.Phrase("output_delta_simplified", ("sigmoid_cross_entropy",))
    elif case.name == "tied":  # two outputs: the rule of the first
        assert rule.lhs == r"\delta^{(2)}_{1}" and rule.note.key == "output_delta_first"
    else:
        assert rule.note.key == "output_delta_rule"


def test_vector_page_writes_softmax_delta_as_y_minus_t_only_for_targets_that_sum_to_1():
    loaded = spec.load(ROOT / "examples" / "softmax_2_3_2.yaml")
    form = vector.derive(loaded)
    assert handout_vector.page(form, loaded.examples).backward[1][0].rhs == r"\hat{y} - t"
    partial = [spec.Example(e.inputs, (0.3, 0.3)) for e in loaded.examples]  # a variant's targets, not one-hot
    rule = handout_vector.page(form, partial).backward[1][0]
    assert rule.note.key == "output_delta_first" and rule.lhs == r"\delta^{(2)}_{1}"


def test_vector_page_says_each_note_once(case):
    page = handout_vector.page(vector.derive(case.spec), case.spec.examples)
    groups = (page.forward, page.backward, page.gradients, (page.update,))
    lines = [line for group in groups for row in group for line in row]
    notes = [line.note for line in lines if line.note is not None]
    assert len(notes) == len(set(notes))
    assert page.update[0].relation == r"\leftarrow" and page.update[0].rhs.startswith(r"W^{(l)} - \eta")


# --- typeset ----------------------------------------------------------------------------------

# English for the keys these modules use, as the handout's language files (templates/lang) are to word them.
WORDS = r"""
((# the compact grids (handout_grids): captions have (layer, part, parts, examples); notes (mark) #))
((* macro grids_heading() *))Every value, layer by layer((* endmacro *))
((* macro part_of(part, parts) *))((* if parts > 1 *)) (part ((( part ))) of ((( parts ))))((* endif *))((* endmacro *))
((* macro mean_loss(examples) *))((* if examples > 1 *))\bar{L}((* else *))L((* endif *))((* endmacro *))
((* macro forward_grid(layer, part, parts, examples) *))Layer ((( layer ))): $z_j$, activation and $\delta_j$ of each neuron $j$((* if examples > 1 *)), example 1((* endif *))((( part_of(part, parts) )))((* endmacro *))
((* macro gradient_grid(layer, part, parts, examples) *))Layer ((( layer ))): $\partial ((( mean_loss(examples) ))) / \partial W^{((( "(%d)"|format(layer) )))}_{jk}$ in row $j$, column $k$, and $\partial ((( mean_loss(examples) ))) / \partial b^{((( "(%d)"|format(layer) )))}_j$((( part_of(part, parts) )))((* endmacro *))
((* macro tied_gradient_note(mark) *))$^{((( mark )))}$ a parameter at several places: the value at each is its whole gradient, the sum over its places.((* endmacro *))

((# the vector-form page (handout_vector, templates/vector.tex.j2); the notes stand beside equations, in \tag* #))
((* macro vector_heading() *))The vector form((* endmacro *))
((* macro vector_intro(depth, parameters) *))
The neurons of a layer make a vector and its weights a matrix: row $j$ of $W^{(l)}$ holds the weights into neuron $j$ of layer $l$, column $k$ those from neuron $k$ of the layer before.
The whole network is then ((( depth ))) matrix products forward and ((( depth ))) back, for all ((( parameters ))) parameters at once.
((* endmacro *))
((* macro vector_forward() *))Forward pass((* endmacro *))
((* macro vector_backward() *))Backward pass, output layer first((* endmacro *))
((* macro vector_gradients() *))Gradients((* endmacro *))
((* macro vector_update() *))Update((* endmacro *))
((* macro vector_shapes() *))Shapes in this network((* endmacro *))
((* macro elementwise() *))elementwise((* endmacro *))
((* macro over_the_layer() *))over the whole layer((* endmacro *))
((* macro hadamard() *))$\circ$: entry by entry((* endmacro *))
((* macro output_delta_rule() *))for this loss and output activation((* endmacro *))
((* macro output_delta_first() *))for output 1; the others alike((* endmacro *))
((* macro output_delta_simplified(reason) *))((* if reason == "softmax_cross_entropy" *))softmax and cross-entropy cancel((* else *))sigmoid and cross-entropy cancel((* endif *))((* endmacro *))
((* macro every_layer() *))for every layer $l$((* endmacro *))
((* macro vector_batch(n) *))
For the batch, each gradient is the mean of the ((( n ))) examples' products:
\[ \frac{\partial \bar{L}}{\partial W^{(l)}} = \frac{1}{((( n )))} \sum_{n=1}^{((( n )))} \delta^{(l)(n)} \bigl(h^{(l-1)(n)}\bigr)^{T}. \]
((* endmacro *))
((* macro vector_tied() *))A parameter at several places of a matrix (a tied name, or one bias for a whole layer) takes the sum of the entries at its places.((* endmacro *))
((* macro vector_frozen(count) *))The ((( count ))) frozen parameter((( "s" if count != 1 else "" ))) keep((( "" if count != 1 else "s" ))) ((( "their" if count != 1 else "its" ))) value.((* endmacro *))
"""
DOCUMENT = r"""((* include "preamble.tex.j2" *))
((* from "tables.tex.j2" import table with context *))
((* from "vector.tex.j2" import vector_page *))
((* import "concise_words.tex.j2" as words *))
\begin{document}
\section*{((( words.vector_heading()|trim|safe )))}
((( vector_page(page, words)|trim|safe )))
\section*{((( words.grids_heading()|trim|safe )))}
((* for t in grids *))
\subsection*{((( words[t.caption.key](*t.caption.args)|trim|safe )))}
{\footnotesize\setlength{\tabcolsep}{3pt}
((( table(t, "r" * (t.header|length - 1))|trim|safe )))
((* for n in t.notes *))((( words[n.key](*n.args)|trim|safe )))((* endfor *))\par}
((* endfor *))
{\footnotesize
((* for cell in cells *))
\setbox0\hbox{$((( cell )))$}\typeout{CELL ((( loop.index0 ))) \the\wd0}
((* endfor *))
}
\end{document}
"""


@pytest.fixture(scope="module", params=[("big", 11), ("wide", 12)], ids=["big-11pt", "wide-12pt"])
def typeset(request, tmp_path_factory):
    if shutil.which("pdflatex") is None:
        pytest.skip("no pdflatex")
    name, font_size = request.param
    loaded, derivation, solution = _subject(name)
    room = handout_grids.room_for(paper="a4", font_size=font_size)
    grids = [g for make in (handout_grids.forward_grids, handout_grids.gradient_grids)
             for g in make(derivation, solution, room=room)]  # fmt: skip
    cells = sorted({c for t in grids for c in (*t.header, *(c for r in t.rows for c in r.cells))})
    folder = tmp_path_factory.mktemp(name)
    (folder / "concise_words.tex.j2").write_text(WORDS)
    (folder / "document.tex.j2").write_text(DOCUMENT)
    doc = SimpleNamespace(mode="worked", lang="en", font_size=font_size, paper="a4")
    page = handout_vector.page(vector.derive(loaded), loaded.examples)
    tex = render.environment(folder).get_template("document.tex.j2").render(
        doc=doc, page=page, grids=grids, cells=[render.Latex(c) for c in cells])
    (folder / "concise.tex").write_text(tex)
    for _ in range(2):  # as render.compile_pdf: longtable sets its columns' widths on the second run
        command = ["pdflatex", "-no-shell-escape", "-interaction=nonstopmode", "-halt-on-error", "concise.tex"]
        result = subprocess.run(command, check=False, cwd=folder, capture_output=True, text=True, timeout=120)
    log = (folder / "concise.log").read_text(errors="replace")
    measured = {cells[int(i)]: float(w) for i, w in re.findall(r"^CELL (\d+) ([\d.]+)pt", log, re.MULTILINE)}
    return SimpleNamespace(returncode=result.returncode, log=log, measured=measured, cells=cells, room=room)


def test_grids_and_page_typeset_without_overfull_boxes(typeset):
    assert typeset.returncode == 0, [line for line in typeset.log.splitlines() if line.startswith("!")]
    assert "Overfull" not in typeset.log, re.findall(r"Overfull.*", typeset.log)


def test_width_model_is_an_upper_bound_of_what_tex_sets(typeset):
    assert set(typeset.measured) == set(typeset.cells)
    for cell, tex in typeset.measured.items():
        estimate = handout_grids.width(cell, typeset.room.font_size)
        assert tex <= estimate <= 1.3 * tex + 0.01, (cell, tex, estimate)


# -- the concise handout as a whole ---------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "de", "fr"])
@pytest.mark.parametrize("mode", ["worked", "exercise", "solutions"])
def test_the_big_handout_fits_eight_pages(tmp_path, mode, lang):
    if render.backend() is None:
        pytest.skip("no TeX")
    from pypdf import PdfReader

    from symbackprop import handout

    document = handout.build(sbp.derive(sbp.load_spec(EXAMPLES / "big.yaml")), mode=mode, lang=lang)
    out = render.Handout(document).write(tmp_path / "big.pdf")
    assert len(PdfReader(out).pages) <= 8
