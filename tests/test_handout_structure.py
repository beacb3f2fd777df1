"""The handout's structure on the page: backpropagation's order, question numbers, batch lines, cross-entropy's δ = ŷ − t.

Oracles: the layer of each parameter comes from tests/reference.py's naming rules,
values from its plain NumPy forward pass and its SymPy gradients, and δ's from the
hand formulas of the seeds, never from the engine under test.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

import symbackprop as sbp
from symbackprop import handout, handout_tables, mistakes, render, spec
from conftest import EXAMPLES
import reference

HANDOUTS = ["seed_2_2_1.yaml", "batch_2_2_1.yaml", "classifier_2_1_1.yaml", "softmax_2_3_2.yaml", "big.yaml"]
QUESTION = re.compile(r"\\qnum\{(\d+)\}")
GRADIENT = re.compile(r"\\qnum\{\d+\} \\frac\{\\partial (?:\\bar\{L\}|L)\}\{\\partial ([a-z])_\{([^}]*)\}\}")
NUMBER = re.compile(r"(?<![\w{^])-?\d+(?:\.\d+)?")
_cache: dict[tuple[str, str], str] = {}


def tex(spec: str, mode: str) -> str:
    if (spec, mode) not in _cache:
        _cache[spec, mode] = render.latex(handout.build(sbp.derive(sbp.load_spec(EXAMPLES / spec)), mode=mode))
    return _cache[spec, mode]


def raw(spec: str) -> dict:
    return yaml.safe_load((EXAMPLES / spec).read_text(encoding="utf-8"))


def layers_of(spec: str) -> dict[str, int]:
    """Parameter name -> layer (1 = first hidden), from the README's naming rules as reference.py writes them."""
    r = raw(spec)
    weights, biases = reference.weight_and_bias_names(r["layers"], r.get("naming", "neuron"), r.get("bias", "per_neuron"))
    layer = {}
    for l, (lw, lb) in enumerate(zip(weights, biases), start=1):
        layer.update({name: l for row in lw for name in row})
        layer.update({name: l for name in lb if name})
    return layer


def name(letter: str, index: str) -> str:
    """w_{33,1} -> w33_1, b_{3} -> b3: a parameter's name from its LaTeX."""
    return letter + index.replace(",", "_")


def shown(value: float) -> str:
    """A value as printed at 6 decimals, trailing zeros dropped (the README's rule)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "0") else text


def section(text: str, title: str) -> str:
    start = text.index(rf"\section*{{{title}}}")
    end = text.find(r"\section*{", start + 1)
    return text[start:] if end < 0 else text[start:end]


# -- order: output layer first ---------------------------------------------------------------


@pytest.mark.parametrize("mode", handout.MODES)
@pytest.mark.parametrize("spec", HANDOUTS)
def test_gradients_are_asked_output_layer_first(spec, mode):
    layer = layers_of(spec)
    text = tex(spec, mode)
    asked = [name(*m) for m in GRADIENT.findall(section(text, "Backward pass"))]
    assert asked, "no gradient question found"
    layers = [layer[n] for n in asked]
    assert layers == sorted(layers, reverse=True), asked
    assert layers[0] == max(layer.values())


@pytest.mark.parametrize("mode", handout.MODES)
@pytest.mark.parametrize("spec", HANDOUTS)
def test_update_table_lists_output_layer_first(spec, mode):
    layer = layers_of(spec)
    rows = re.findall(r"^([wb])_\{([^}]*)\} &", section(tex(spec, mode), "Update"), flags=re.M)
    concise = handout.is_concise(sbp.load_spec(EXAMPLES / spec))
    assert len(rows) == (len(raw(spec)["layers"]) - 1 if concise else len(layer))  # concise: the weights worked in full
    layers = [layer[name(*row)] for row in rows]
    assert layers == sorted(layers, reverse=True)


def test_grouped_tables_of_a_big_network_start_at_the_output_layer():
    gradients = tex("big.yaml", "worked").partition(r"\subsection*{Gradients}")[2]
    captions = re.findall(r"\\textbf\{Layer (\d+):", gradients)
    assert list(dict.fromkeys(int(c) for c in captions)) == [5, 4, 3, 2, 1]


# -- question numbers increase down the pages --------------------------------------------------


@pytest.mark.parametrize("mode", handout.MODES)
@pytest.mark.parametrize("spec", HANDOUTS)
def test_question_numbers_run_in_page_order(spec, mode):
    text = tex(spec, mode)
    # no floats: the order of the source is the order on the page
    assert r"\begin{figure" not in text and r"\begin{table" not in text
    numbers = [int(n) for n in QUESTION.findall(text.partition(r"\begin{document}")[2])]
    assert numbers == list(range(1, len(numbers) + 1))


def test_exercise_and_solutions_ask_the_same_questions():
    for handout_spec in HANDOUTS:
        def asked(mode, handout_spec=handout_spec):
            return [name(*m) for m in GRADIENT.findall(tex(handout_spec, mode))]

        assert asked("exercise") == asked("solutions") == asked("worked"), handout_spec


# -- a batch: L^{(n)}, δ^{(n)}, one line per example, then the mean -------------------------------


def batch_by_hand() -> list[dict[str, float]]:
    """Each example's forward values (reference.py's NumPy) and δ's by the seeds' formulas."""
    r = raw("batch_2_2_1.yaml")
    p = r["parameters"]
    result = []
    for (layers, loss), example in zip(reference.numpy_forward(r, p), r["data"]):
        (z, h), (z3, y) = layers
        t = example["targets"][0]
        d3 = (y[0] - t) * y[0] * (1 - y[0])
        values = {"x1": example["inputs"][0], "x2": example["inputs"][1], "t": t, "z1": z[0], "z2": z[1],
                  "h1": h[0], "h2": h[1], "z3": z3[0], "y": y[0], "L": loss, "delta3": d3,
                  "delta1": d3 * p["w31"] * h[0] * (1 - h[0]), "delta2": d3 * p["w32"] * h[1] * (1 - h[1])}  # fmt: skip
        result.append(values)
    return result


def numbers_in(line: str) -> set[str]:
    """The numbers of a substituted line, leaving out question numbers, indices and (n) superscripts."""
    line = QUESTION.sub("", line)
    line = re.sub(r"_\{[^}]*\}|\^\{\(\d+\)\}|\^\{\d+\}|\\frac\{1\}\{\d+\}", "", line)
    return set(NUMBER.findall(line))


def test_batch_losses_are_labelled_per_example_then_the_mean():
    text = section(tex("batch_2_2_1.yaml", "solutions"), "Loss")
    by_hand = batch_by_hand()
    for n, values in enumerate(by_hand, start=1):
        lines = [line for line in text.splitlines() if f"L^{{({n})}} &=" in line]
        assert len(lines) == 1, n
    assert "\\qnum{19} L^{(1)}" in text and "\\qnum{21} L^{(3)}" in text
    mean = np.mean([v["L"] for v in by_hand])
    assert re.search(r"\\qnum\{22\} \\bar\{L\} &=", text)
    assert f"= {shown(mean)}" in text
    assert re.search(r"\\qnum\{\d+\} L &=", text) is None  # no loss without its example


@pytest.mark.parametrize("mode", ["worked", "solutions"])
def test_batch_deltas_have_one_line_per_example_with_that_examples_numbers_only(mode):
    text = section(tex("batch_2_2_1.yaml", mode), "Backward pass")
    by_hand = batch_by_hand()
    parameters = {shown(v) for v in raw("batch_2_2_1.yaml")["parameters"].values()}
    for delta, index in (("delta3", "3"), ("delta1", "1"), ("delta2", "2")):
        for n, values in enumerate(by_hand, start=1):
            lines = [line for line in text.splitlines() if rf"\delta_{{{index}}}^{{({n})}} &=" in line]
            assert len(lines) == 1, (delta, n)
            line = re.sub(r"\s*\\\\\*?(\[[^]]*\])?$", "", lines[0])  # without the row's end, \\[4pt]
            assert line.startswith(r"\qnum{")
            assert line.endswith(f"= {shown(values[delta])}"), line
            own = {shown(v) for v in values.values()} | parameters | {"1"}
            others = set().union(*({shown(v) for v in o.values()} for i, o in enumerate(by_hand, start=1) if i != n))
            found = numbers_in(line)
            assert found <= own, (line, found - own)
            assert found - others, line  # it names values only this example has
    # no line chains a value onto the examples' lines: each δ block ends with its last example
    for block in re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", text, flags=re.S):
        if r"\delta_{" in block and "^{(1)} &=" in block and r"\partial \bar{L}" not in block:
            after = block.split("^{(1)} &=", 1)[1]
            assert not re.search(r"^&=", after, flags=re.M), block


def test_batch_gradients_end_in_the_mean_of_the_examples():
    r = raw("batch_2_2_1.yaml")
    expected = reference.sympy_gradients(r, r["parameters"])
    by_hand = batch_by_hand()
    text = section(tex("batch_2_2_1.yaml", "solutions"), "Backward pass")
    blocks = re.findall(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", text, flags=re.S)
    means = [b for b in blocks if r"\partial \bar{L}" in b]
    assert len(means) == 9
    for block in means:
        letter, index = re.search(r"\\partial \\bar\{L\}\}\{\\partial ([wb])_\{([^}]*)\}\}", block).groups()
        parameter = name(letter, index)
        assert r"\frac{1}{3} \sum_{n=1}^{3} \delta_{" in block
        assert block.rstrip().endswith(f"&= {shown(expected[parameter])}"), parameter
        if letter == "w":  # δ^{(n)} · input^{(n)} with numbers, one example per row
            delta = "delta" + index[0]
            source = {"3": "h", "1": "x", "2": "x"}[index[0]] + index[1]
            for values in by_hand:
                product = rf"{shown(values[delta])} \cdot {shown(values[source])}"
                if values[delta] < 0:
                    product = rf"\left({shown(values[delta])}\right) \cdot {shown(values[source])}"
                assert product in block, (parameter, product)


def test_batch_exercise_asks_each_examples_delta_and_the_mean_gradient():
    text = tex("batch_2_2_1.yaml", "exercise")
    for index in "312":
        for n in (1, 2, 3):
            assert re.search(rf"\\qnum\{{\d+\}} \\delta_\{{{index}\}}\^\{{\({n}\)\}} &= \\blank", text)
    assert len(re.findall(r"\\partial \\bar\{L\}\}\{\\partial [wb]_\{[^}]*\}\} &= \\blank", text)) == 9
    assert text.count(r"&= \blank") == 18 + 3 + 1 + 9 + 9


# -- cross-entropy: the general form, why, then δ = ŷ − t ---------------------------------------


def output_by_reference(spec: str) -> tuple[np.ndarray, np.ndarray]:
    r = raw(spec)
    (layers, _), = reference.numpy_forward(r, r["parameters"])
    return layers[-1][1], np.array(r["targets"], float)


def delta_block(text: str, index: str) -> str:
    return re.search(rf"\\delta_\{{{index}\}} = \\frac.*?\\end\{{align\*\}}", text, flags=re.S).group(0)


@pytest.mark.parametrize("mode", ["worked", "solutions"])
def test_sigmoid_with_binary_cross_entropy_shows_y_minus_t(mode):
    y, t = output_by_reference("classifier_2_1_1.yaml")
    block = delta_block(tex("classifier_2_1_1.yaml", mode), "2")
    lines = [line.strip().rstrip(r"\*").strip() for line in block.splitlines()]
    general = next(i for i, line in enumerate(lines) if r"\frac{1 - t}{1 - \hat{y}}" in line)
    why = next(i for i, line in enumerate(lines) if r"\sigma'(z) = \hat{y}(1 - \hat{y})" in line)
    simple = lines.index(r"&= \hat{y} - t")
    assert general < why < simple
    assert lines[simple + 1] == rf"&= {shown(y[0])} - {shown(t[0])}"
    assert lines[simple + 2] == f"&= {shown(y[0] - t[0])}"
    assert shown(y[0] - t[0]) == "-0.487438"  # by hand: σ(0.8·σ(0.15 − 0.5 + 0.1) − 0.3) − 1


@pytest.mark.parametrize("mode", ["worked", "solutions"])
def test_softmax_with_cross_entropy_shows_y_k_minus_t_k(mode):
    y, t = output_by_reference("softmax_2_3_2.yaml")
    text = tex("softmax_2_3_2.yaml", mode)
    for k, index in enumerate(("4", "5")):
        block = delta_block(text, index)
        lines = [line.strip().rstrip(r"\*").strip() for line in block.splitlines()]
        why = next(i for i, line in enumerate(lines) if r"\sum_i t_i = 1" in line)
        assert any(r"\frac{\partial \hat{y}_{2}}{\partial z_" in line for line in lines[:why])  # summed over outputs
        simple = lines.index(rf"&= \hat{{y}}_{{{k + 1}}} - t_{{{k + 1}}}")
        assert why < simple
        assert lines[simple + 1] == rf"&= {shown(y[k])} - {shown(t[k])}"
        assert lines[simple + 2] == f"&= {shown(y[k] - t[k])}"
        assert r"\hat{y}_{1} t_{2}" not in block  # the unsimplified form is gone


def test_no_simplification_where_the_loss_does_not_cancel():
    text = tex("seed_2_2_1.yaml", "worked")  # ½ squared error: δ keeps σ′
    assert r"\sigma'(z) = \hat{y}(1 - \hat{y})$ cancels" not in text
    derivation = sbp.derive(sbp.load_spec(EXAMPLES / "softmax_2_3_2.yaml"))
    examples = [spec.Example((0.6, -0.4), (0.3, 0.3))]  # targets not summing to 1: ŷ − t would be wrong
    document = handout.build(derivation, examples=examples)
    assert all(d.simplified is None for d in document.passes[0].deltas)


@pytest.mark.parametrize("spec", ["seed_2_2_1", "batch_2_2_1", "softmax_2_3_2", "big"])
@pytest.mark.parametrize("decimals", [2, 4, 6])
def test_table_numbers_line_up_on_the_decimal_point(spec, decimals):
    """Right-aligned cells with the same number of places: 0.498440, never 0.49844 beside 0.581759."""
    document = handout.build(sbp.derive(sbp.load_spec(EXAMPLES / f"{spec}.yaml")), decimals=decimals)
    tables = [t for t in (document.passes[0].forward_table, *document.passes[0].gradient_tables) if t is not None]
    checked = 0
    for table in tables:
        for row in table.rows:
            for cell in row.cells[1:]:
                text = str(cell)
                if re.fullmatch(r"-?\d+\.\d+", text):  # a fixed-point number; a×10^k is set apart anyway
                    assert len(text.split(".")[1]) == decimals, (spec, text)
                    checked += 1
    places = lambda cell: len(str(cell).split(".")[1]) if re.fullmatch(r"-?\d+\.\d+", str(cell)) else None  # noqa: E731
    for row in document.passes[0].updates.rows:  # old and new share their places (more when the step is below the last)
        _, old, gradient, new = row.cells
        assert places(gradient) in (decimals, None), (spec, gradient)
        if None not in (places(old), places(new)):  # a×10^k (too few digits at these places) stands apart
            assert places(old) == places(new) and places(old) >= decimals, (spec, old, new)
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("lang", ["en", "de", "fr"])
@pytest.mark.parametrize("mode", handout.MODES)
def test_the_words_are_typeset_not_printed_as_code(mode, lang):
    """Every word comes from the language template as LaTeX: none of it may reach the page escaped ($, \\, _ shown)."""
    for name in [*HANDOUTS, "course_header.yaml"]:
        for steps in (1, 2):
            document = handout.build(sbp.derive(sbp.load_spec(EXAMPLES / name)), mode=mode, lang=lang, steps=steps)
            text = render.latex(document).partition(r"\begin{document}")[2]
            for escaped in (r"\$", r"\textbackslash{}", r"\_", r"\textasciicircum{}", "Phrase(", "None"):
                assert escaped not in text, (name, steps, escaped)
            assert not re.search(r"[\x00-\x09\x0b-\x1f]", text), (name, steps)  # a control character (\t from "\to")


def test_every_word_has_a_macro_in_the_language_template():
    """Each Phrase the document model uses names a macro of lang/en.tex.j2 (the others are checked against it)."""
    words = render.environment().get_template("lang/en.tex.j2").module
    for name in HANDOUTS:
        document = handout.build(sbp.derive(sbp.load_spec(EXAMPLES / name)), sections=[s for s in handout.SECTIONS if s != "training"])
        phrases = [label for label, _ in document.notation]
        for step in document.passes:
            tables = [step.forward_table, *step.gradient_tables, step.updates, *step.forward_grids, *step.gradient_grids]
            for table in filter(None, tables):
                phrases += [table.caption, *table.notes, *(c for c in table.header if isinstance(c, handout_tables.Phrase)),
                            *(row.note for row in table.rows if row.note)]  # fmt: skip
        assert phrases
        for phrase in phrases:
            assert callable(getattr(words, phrase.key, None)), phrase.key
            str(getattr(words, phrase.key)(*phrase.args))  # takes its arguments
        for kind in document.rules.mistakes:
            assert kind in mistakes.KINDS
            assert str(words.mistake(kind)).strip() != kind  # worded, not the fallback


def test_the_mistakes_box_lists_what_the_checker_finds_in_this_network():
    boxes = {}
    for name in ("seed_2_2_1.yaml", "classifier_2_1_1.yaml", "softmax_2_3_2.yaml"):
        derivation = sbp.derive(sbp.load_spec(EXAMPLES / name))
        boxes[name] = handout.build(derivation).rules.mistakes
        catalogued = {m.kind for m in mistakes.catalogue(mistakes.program(derivation))}
        assert set(boxes[name]) <= catalogued, name  # the box warns only of mistakes this network allows
    assert "bce_factor_kept" in boxes["classifier_2_1_1.yaml"] and "half_dropped" not in boxes["classifier_2_1_1.yaml"]
    assert "sum_forgotten" in boxes["softmax_2_3_2.yaml"]  # three hidden neurons feed two outputs
    assert "sum_forgotten" not in boxes["seed_2_2_1.yaml"]  # one output: a hidden δ has one path
