"""Quizzes: every number against a hand calculation, every mistake against the same slip made by hand, the formats parsed back.

The oracle is the backward pass written out below in plain Python for the two
example networks (2-2-1 sigmoid with ½ squared error, 2-1-1 sigmoid with binary
cross-entropy), on each student's numbers from `handout.variant`, the drawing
``handout --variants`` uses. Moodle's cloze blanks are read back by `parse_cloze`,
the regular expressions of Moodle's cloze parser (question/type/multianswer).
"""

from __future__ import annotations

import html
import io
import math
import re
import xml.etree.ElementTree as ET
import zipfile
from html.parser import HTMLParser

import pytest
from conftest import EXAMPLES

from symbackprop import api, handout, mistakes, quiz, quiz_html, quiz_moodle, quiz_qti, spec

SEED, VARIANTS = 7, 3
QTI = "{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}"


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def hand_2_2_1(x, t, p, eta, *, half=0.5, sign=1.0, output_derivative=True, update=+1, rate=True) -> dict[str, float]:
    """The 2-2-1 network by hand, with the slips a keyword chooses; keys as an answers file for `check`."""
    z1 = p["w11"] * x[0] + p["w12"] * x[1] + p["b1"]
    z2 = p["w21"] * x[0] + p["w22"] * x[1] + p["b2"]
    h1, h2 = sigmoid(z1), sigmoid(z2)
    z3 = p["w31"] * h1 + p["w32"] * h2 + p["b3"]
    y = sigmoid(z3)
    loss = half * (y - t[0]) ** 2
    delta3 = sign * 2 * half * (y - t[0]) * (y * (1 - y) if output_derivative else 1.0)
    delta1 = delta3 * p["w31"] * h1 * (1 - h1)
    delta2 = delta3 * p["w32"] * h2 * (1 - h2)
    grads = {"w31": delta3 * h1, "w32": delta3 * h2, "b3": delta3, "w11": delta1 * x[0], "w12": delta1 * x[1],
             "w21": delta2 * x[0], "w22": delta2 * x[1], "b1": delta1, "b2": delta2}  # fmt: skip
    values = {"forward.z1": z1, "forward.z2": z2, "forward.h1": h1, "forward.h2": h2, "forward.z3": z3, "forward.y": y,
              "loss": loss, "deltas.delta3": delta3, "deltas.delta1": delta1, "deltas.delta2": delta2}  # fmt: skip
    values |= {f"gradients.{n}": g for n, g in grads.items()}
    values |= {f"updated.{n}": p[n] - update * (eta if rate else 1.0) * g for n, g in grads.items()}
    return values


def hand_2_1_1_bce(x, t, p, eta, *, sign=1.0, factor_kept=False, update=+1, rate=True) -> dict[str, float]:
    """The 2-1-1 binary classifier by hand: with sigmoid and BCE the output δ is ŷ − t."""
    z1 = p["w11"] * x[0] + p["w12"] * x[1] + p["b1"]
    h1 = sigmoid(z1)
    z2 = p["w21"] * h1 + p["b2"]
    y = sigmoid(z2)
    loss = -(t[0] * math.log(y) + (1 - t[0]) * math.log(1 - y))
    delta2 = sign * (y - t[0]) * (y * (1 - y) if factor_kept else 1.0)
    delta1 = delta2 * p["w21"] * h1 * (1 - h1)
    grads = {"w21": delta2 * h1, "b2": delta2, "w11": delta1 * x[0], "w12": delta1 * x[1], "b1": delta1}
    values = {"forward.z1": z1, "forward.h1": h1, "forward.z2": z2, "forward.y": y, "loss": loss,
              "deltas.delta2": delta2, "deltas.delta1": delta1}  # fmt: skip
    values |= {f"gradients.{n}": g for n, g in grads.items()}
    values |= {f"updated.{n}": p[n] - update * (eta if rate else 1.0) * g for n, g in grads.items()}
    return values


NETWORKS = {
    "seed_2_2_1.yaml": (hand_2_2_1, {
        "half_dropped": dict(half=1.0), "sign_flipped": dict(sign=-1.0), "derivative_left_out": dict(output_derivative=False),
        "gradient_ascent": dict(update=-1), "learning_rate_left_out": dict(rate=False),
    }),
    "classifier_2_1_1.yaml": (hand_2_1_1_bce, {
        "sign_flipped": dict(sign=-1.0), "bce_factor_kept": dict(factor_kept=True), "gradient_ascent": dict(update=-1),
        "learning_rate_left_out": dict(rate=False),
    }),
}  # fmt: skip
# the order the handouts ask in: forward pass, loss, δ's from the output back, gradients and updates layer by layer back
ORDER = {
    "seed_2_2_1.yaml": ["forward.z1", "forward.z2", "forward.h1", "forward.h2", "forward.z3", "forward.y", "loss",
                        "deltas.delta3", "deltas.delta1", "deltas.delta2",
                        *(f"{part}.{n}" for part in ("gradients", "updated")
                          for n in ("w31", "w32", "b3", "w11", "w12", "w21", "w22", "b1", "b2"))],
    "classifier_2_1_1.yaml": ["forward.z1", "forward.h1", "forward.z2", "forward.y", "loss", "deltas.delta2", "deltas.delta1",
                              *(f"{part}.{n}" for part in ("gradients", "updated") for n in ("w21", "b2", "w11", "w12", "b1"))],
}  # fmt: skip

# Moodle's cloze patterns (question/type/multianswer/questiontype.php), a fixed-width lookbehind each for Python
ALTERNATIVE = r"(=|%(-?[0-9]+(?:[.,][0-9]*)?)%)?(.+?(?<!\\)(?<!&)(?<!&amp;)(?=[~#}]|$))(#(.*?(?<!\\)(?=[~}]|$)))?"
BLANK = re.compile(r"\{([0-9]*):(NUMERICAL|NM):(" + ALTERNATIVE + r"(?:~" + ALTERNATIVE + r")*)\}", re.S)
NUMBER = re.compile(r"^(-?(([0-9]+[.,]?[0-9]*|[.,][0-9]+)([eE][-+]?[0-9]+)?))(:(-?(([0-9]+[.,]?[0-9]*|[.,][0-9]+)([eE][-+]?[0-9]+)?)))?$")


def parse_cloze(text: str) -> list[list[dict]]:
    """Each NUMERICAL blank's answers as Moodle reads them: fraction, value, tolerance, feedback (decoded as Moodle does)."""
    blanks = []
    for match in BLANK.finditer(text):
        rest, answers = match.group(3), []
        while rest:
            alt = re.match("~?" + ALTERNATIVE, rest, re.S)
            fraction = 1.0 if alt.group(1) == "=" else float(alt.group(2)) / 100 if alt.group(2) else 0.0
            number = NUMBER.match(alt.group(3))
            assert number, f"not a number Moodle reads: {alt.group(3)!r}"
            feedback = html.unescape(alt.group(5) or "").replace("\\}", "}").replace("\\#", "#")
            answers.append({"fraction": fraction, "value": float(number.group(1)),
                            "tolerance": float(number.group(6) or 0), "feedback": feedback})  # fmt: skip
            rest = rest[len(alt.group(0)) :]
        blanks.append(answers)
    return blanks


@pytest.fixture(scope="module", params=sorted(NETWORKS))
def made(request):
    loaded = spec.load(EXAMPLES / request.param)
    derivation = api.derive(loaded)
    return request.param, loaded, quiz.build(derivation, variants=VARIANTS, seed=SEED)


def test_every_value_and_tolerance_equals_the_hand_calculation(made):
    name, loaded, document = made
    hand, _ = NETWORKS[name]
    root = ET.fromstring(quiz_moodle.xml(document))
    questions = root.findall("question[@type='cloze']")
    assert len(questions) == VARIANTS
    for number, question in enumerate(questions, start=1):
        examples, parameters = handout.variant(loaded, seed=SEED, index=number)
        expected = hand(examples[0].inputs, examples[0].targets, parameters, loaded.learning_rate)
        blanks = parse_cloze(question.find("questiontext/text").text)
        assert [b.name for b in document.variants[number - 1].blanks] == ORDER[name]
        assert len(blanks) == len(ORDER[name])
        for path, answers in zip(ORDER[name], blanks):
            right = [a for a in answers if a["fraction"] == 1.0]
            assert len(right) == 1 and answers[0] is right[0]  # first: Moodle takes the first answer that matches
            assert right[0]["value"] == pytest.approx(expected[path], rel=1e-12, abs=1e-14), path
            assert all(a["tolerance"] == pytest.approx(0.5e-4, rel=1e-12) for a in answers)
            for wrong in answers[1:]:
                assert wrong["fraction"] == 0.0
                assert abs(wrong["value"] - right[0]["value"]) > wrong["tolerance"]
            others = [a["value"] for a in answers[1:]]
            assert all(abs(a - b) > 0.5e-4 for i, a in enumerate(others) for b in others[i + 1 :])


def test_each_mistake_answer_is_the_slip_made_by_hand(made):
    name, loaded, document = made
    hand, slips = NETWORKS[name]
    words = quiz_html.Words("en")
    root = ET.fromstring(quiz_moodle.xml(document))
    checked = 0
    for variant, question in zip(document.variants, root.findall("question[@type='cloze']")):
        examples, parameters = handout.variant(loaded, seed=SEED, index=variant.number)
        right = hand(examples[0].inputs, examples[0].targets, parameters, loaded.learning_rate)
        blanks = dict(zip(ORDER[name], parse_cloze(question.find("questiontext/text").text)))
        for kind, slip in slips.items():
            wrong = hand(examples[0].inputs, examples[0].targets, parameters, loaded.learning_rate, **slip)
            for path, value in wrong.items():
                tolerance = 0.5e-4
                if abs(value - right[path]) <= tolerance:
                    continue  # this slip does not change this value (to the places asked): nothing to expect
                found = [a for a in blanks[path][1:] if abs(a["value"] - value) <= tolerance]
                assert found, f"{kind}: {path} = {value} is not among the mistake answers"
                model = next(w for w in variant.blanks[ORDER[name].index(path)].wrong if abs(w.value - value) <= tolerance)
                assert kind in {c.kind for c in model.causes}
                assert found[0]["feedback"] == str(words.causes(model.causes))
                checked += 1
    assert checked > 20


def test_same_seed_gives_the_handout_class_sets_numbers(made):
    name, loaded, document = made
    for variant in document.variants:
        examples, parameters = handout.variant(loaded, seed=SEED, index=variant.number)
        given = [float(v) for _, v in variant.data]
        assert given == [*examples[0].inputs, *examples[0].targets, *parameters.values(), loaded.learning_rate]


def test_moodle_file_has_the_question_format_shape(made):
    _, loaded, document = made
    root = ET.fromstring(quiz_moodle.xml(document))
    assert root.tag == "quiz"
    category, *questions = root.findall("question")
    assert category.get("type") == "category"
    assert category.find("info/text").text.startswith("<p>")  # HTML once escaped, by the XML only
    assert category.find("category/text").text == "$course$/top/" + loaded.title
    for question in questions:
        assert question.get("type") == "cloze"
        assert question.find("questiontext").get("format") == "html"
        assert question.find("generalfeedback").get("format") == "html"
        assert loaded.title in question.find("name/text").text
        feedback = question.find("generalfeedback/text").text
        assert feedback.count(r"\(") == feedback.count(r"\)") == len(document.variants[0].blanks)


def test_worked_solution_ends_each_line_with_the_value_rounded(made):
    name, loaded, document = made
    hand, _ = NETWORKS[name]
    root = ET.fromstring(quiz_moodle.xml(document))
    for number, question in enumerate(root.findall("question[@type='cloze']"), start=1):
        examples, parameters = handout.variant(loaded, seed=SEED, index=number)
        expected = hand(examples[0].inputs, examples[0].targets, parameters, loaded.learning_rate)
        lines = re.findall(r"<p>\\\((.*?)\\\)</p>", question.find("generalfeedback/text").text)
        assert len(lines) == len(ORDER[name])
        for path, line in zip(ORDER[name], lines):
            last = html.unescape(line).rsplit(" = ", 1)[1]
            mantissa, _, exponent = last.partition(r" \times 10^")
            shown = float(mantissa) * 10 ** int(exponent.strip("{}") or 0)
            places = len(mantissa.partition(".")[2]) - int(exponent.strip("{}") or 0)
            assert shown == pytest.approx(expected[path], abs=0.5 * 10**-places + 1e-15), (path, last)


def test_the_numbers_equal_solve_for_each_variants_spec(made):
    _, loaded, document = made
    for variant in document.variants:
        examples, parameters = handout.variant(loaded, seed=SEED, index=variant.number)
        solution = api.solve(api.derive(handout.with_numbers(loaded, examples, parameters)))
        solved = {f"forward.{k}": float(v[0]) for k, v in solution.forward.items()} | {"loss": solution.loss}
        solved |= {f"deltas.{k}": float(v[0]) for k, v in solution.deltas.items()}
        solved |= {f"gradients.{k}": v for k, v in solution.gradients.items()}
        solved |= {f"updated.{k}": v for k, v in solution.updated.items()}
        assert {b.name: b.value for b in variant.blanks} == {b.name: solved[b.name] for b in variant.blanks}


def test_tolerance_option_and_question_choice():
    loaded = spec.load(EXAMPLES / "seed_2_2_1.yaml")
    document = quiz.build(api.derive(loaded), variants=1, seed=1, questions=["update", "loss"], params=["w11", "b3"],
                          tolerance=0.01, decimals=2)  # fmt: skip
    assert [b.name for b in document.variants[0].blanks] == ["loss", "updated.b3", "updated.w11"]
    for blank in document.variants[0].blanks:
        assert blank.tolerance == 0.01
        assert all(abs(w.value - blank.value) > 0.01 for w in blank.wrong)
    two = quiz.build(api.derive(loaded), variants=1, seed=1, decimals=2)
    assert {b.tolerance for b in two.variants[0].blanks} == {0.005}


def test_every_kind_has_words_in_every_language_and_an_unknown_kind_falls_back():
    folder = quiz_html.render.shipped_templates() / quiz_html.FOLDER / "lang"
    languages = sorted(p.name.split(".")[0] for p in folder.glob("*.html.j2"))
    assert "en" in languages
    for lang in languages:
        words = quiz_html.Words(lang)
        missing = [k for k in mistakes.KINDS if not hasattr(words.module, f"mistake_{k}")]
        assert not missing, f"templates/quiz/lang/{lang}.html.j2 has no words for {missing}"
    said = quiz_html.Words("en").causes((quiz.Cause("no_such_kind", "w11 <was> used twice"),))
    assert "w11 &lt;was&gt; used twice" in said


def test_a_spec_without_a_title_gets_the_languages_default():
    raw = {"layers": [2, 1], "loss": "mse", "inputs": [0.5, 0.1], "targets": [0.6], "parameters": {"w11": 0.1, "w12": 0.2, "b1": 0.3}}
    document = quiz.build(api.derive(api.build_spec(**raw)), variants=1, lang="de")
    root = ET.fromstring(quiz_moodle.xml(document))
    default = str(quiz_html.Words("de").say("default_title"))
    assert root.find("question/category/text").text == "$course$/top/" + default
    assert root.find("question[@type='cloze']/name/text").text.startswith(default)


def test_cloze_text_survives_moodles_decoding():
    hostile = 'a } b # c ~ d \\ e " f / g &lt;script&gt; h &#123; \\} \\#'
    encoded = quiz_moodle.cloze_text(hostile)
    assert not re.search(r"(?<!\\)[~}]", encoded)  # nothing ends the feedback early
    assert html.unescape(encoded).replace("\\}", "}").replace("\\#", "#") == hostile


HOSTILE = ["<script>alert(1)</script>", "]]> & <![CDATA[", "\\(x^2\\) $$y$$ \\input{/etc/passwd}",
           "{1:NUMERICAL:=5:0} a/b ~#}", "R&D \"quoted\" 'single'", "a//b/c"]  # fmt: skip


@pytest.mark.parametrize("title", HOSTILE)
def test_hostile_titles_and_course_header_are_text(title):
    loaded = spec.load(EXAMPLES / "seed_2_2_1.yaml")
    raw = {"title": title, "layers": [2, 2, 1], "activation": "sigmoid", "loss": "half_squared_error",
           "learning_rate": 0.1, "inputs": [0.5, 0.1], "targets": [0.6], "parameters": loaded.parameters,
           "document": {"course": title, "author": title}}  # fmt: skip
    document = quiz.build(api.derive(api.build_spec(**raw)), variants=2, seed=3)
    root = ET.fromstring(quiz_moodle.xml(document))
    assert root.find("question/category/text").text == "$course$/top/" + title.replace("/", "//")
    for question in root.findall("question[@type='cloze']"):
        assert question.find("name/text").text.startswith(title)
        text = question.find("questiontext/text").text
        assert len(parse_cloze(text)) == len(document.variants[0].blanks)  # the title opened no blank
        shown = _Text()
        shown.feed(text)
        assert "script" not in shown.tags and title in "".join(shown.text)
        assert any(c == quiz_html.NOT_MATHS for c in shown.classes)
    archive = zipfile.ZipFile(io.BytesIO(quiz_qti.package(document)))
    test = ET.fromstring(archive.read(f"{quiz_qti.ASSESSMENT}/{quiz_qti.ASSESSMENT}.xml")).find(f"{QTI}assessment")
    assert test.get("title") == title
    for mattext in test.iter(f"{QTI}mattext"):
        shown = _Text()
        shown.feed(mattext.text)
        assert "script" not in shown.tags


class _Text(HTMLParser):
    """The tags, classes and text a browser would see in an HTML fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.classes = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.classes += [v for k, v in attrs if k == "class"]

    def handle_data(self, data):
        self.text.append(data)


# QTI 1.2 ASI content models (ims_qtiasiv1p2 DTD/XSD), the children this writer uses, in the order the schema allows
CONTENT = {
    "questestinterop": ["assessment"],
    "assessment": ["qtimetadata", "section"],
    "section": ["selection_ordering", "section", "item"],
    "item": ["itemmetadata", "presentation", "resprocessing", "itemfeedback"],
    "presentation": ["material", "response_str"],
    "resprocessing": ["outcomes", "respcondition"],
    "respcondition": ["conditionvar", "setvar", "displayfeedback"],
    "itemfeedback": ["flow_mat"],
    "selection": ["selection_number", "selection_extension"],
}


def test_qti_elements_come_in_the_schemas_order(made):
    _, _, document = made
    archive = zipfile.ZipFile(io.BytesIO(quiz_qti.package(document)))
    root = ET.fromstring(archive.read(f"{quiz_qti.ASSESSMENT}/{quiz_qti.ASSESSMENT}.xml"))
    for element in root.iter():
        tag = element.tag.removeprefix(QTI)
        if tag in CONTENT:
            children = [c.tag.removeprefix(QTI) for c in element]
            assert set(children) <= set(CONTENT[tag]), (tag, children)
            ranks = [CONTENT[tag].index(c) for c in children]
            # a section holds its groups or its items, after its selection rule
            assert ranks == sorted(ranks), (tag, children)


def test_qti_package_has_a_group_per_quantity_and_canvas_numerical_items(made):
    name, loaded, document = made
    hand, _ = NETWORKS[name]
    words = quiz_html.Words("en")
    archive = zipfile.ZipFile(io.BytesIO(quiz_qti.package(document)))
    manifest = ET.fromstring(archive.read("imsmanifest.xml"))
    ns = "{http://www.imsglobal.org/xsd/imsccv1p1/imscp_v1p1}"
    (resource,) = manifest.iter(f"{ns}resource")
    assert resource.get("type") == "imsqti_xmlv1p2"
    root = ET.fromstring(archive.read(resource.find(f"{ns}file").get("href")))
    assert root.tag == f"{QTI}questestinterop"
    groups = root.findall(f"{QTI}assessment/{QTI}section/{QTI}section")
    assert [g.get("title") for g in groups] == ORDER[name]
    for path, group in zip(ORDER[name], groups):
        assert group.find(f"{QTI}selection_ordering/{QTI}selection/{QTI}selection_number").text == "1"
        items = group.findall(f"{QTI}item")
        assert len(items) == VARIANTS
        for number, item in enumerate(items, start=1):
            fields = {f.find(f"{QTI}fieldlabel").text: f.find(f"{QTI}fieldentry").text
                      for f in item.iter(f"{QTI}qtimetadatafield")}  # fmt: skip
            assert fields["question_type"] == "numerical_question"
            assert item.find(f"{QTI}presentation/{QTI}response_str/{QTI}render_fib").get("fibtype") == "Decimal"
            examples, parameters = handout.variant(loaded, seed=SEED, index=number)
            value = hand(examples[0].inputs, examples[0].targets, parameters, loaded.learning_rate)[path]
            conditions = item.findall(f"{QTI}resprocessing/{QTI}respcondition")
            assert conditions[0].find(f"{QTI}conditionvar/{QTI}other") is not None
            correct = conditions[1]
            assert correct.find(f"{QTI}setvar").text == "100"
            assert float(correct.find(f".//{QTI}varequal").text) == pytest.approx(value, rel=1e-12, abs=1e-14)
            low, high = (float(correct.find(f".//{QTI}{t}").text) for t in ("vargte", "varlte"))
            assert low == pytest.approx(value - 0.5e-4, abs=1e-12) and high == pytest.approx(value + 0.5e-4, abs=1e-12)
            for wrong in conditions[2:]:
                assert wrong.find(f"{QTI}setvar") is None  # scores nothing
                low, high = (float(wrong.find(f".//{QTI}{t}").text) for t in ("vargte", "varlte"))
                assert abs((low + high) / 2 - value) > 0.5e-4
            model = document.variants[number - 1].blanks[ORDER[name].index(path)]
            said = {f.get("ident"): f.find(f".//{QTI}mattext").text for f in item.findall(f"{QTI}itemfeedback")}
            assert [said[w.find(f"{QTI}displayfeedback").get("linkrefid")] for w in conditions[2:]] == [
                str(words.causes(w.causes)) for w in model.wrong]  # fmt: skip
            feedback = set(said)
            assert {d.get("linkrefid") for d in item.iter(f"{QTI}displayfeedback")} == feedback
