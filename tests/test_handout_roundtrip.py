"""Every substituted line of every handout, read back: the printed arithmetic equals the printed value.

The reader (`latex_eval`) knows nothing of the engine: it parses the generated
LaTeX as a student reads the PDF and evaluates it in interval arithmetic, every
printed number standing for the range it may have been rounded from (half a unit
in its last place at the handout's decimals). A line passes when that range
meets the range of the value it is set equal to; rounding can then never fail a
line, and a misprint (a product that reads as one number, a wrong sign, a
missing bracket) does once it moves the value by more than the printing hides.

An equation (one numbered question, its rows in an align) is read as the chain
`lhs = a = b = … = value`; each numeric part is checked against the next plain
number after it (`= 0.33`, or the last row `&= 0.003263`). A part that names a
quantity is the symbolic stage and is skipped; a part with numbers the reader
cannot parse fails, and so does `&= A = value` with symbols left in A. The shapes
skipped without being read are listed in SKIPPED and SKIPPED_ROWS. The update
table is read too: new = old − η·g, and a nonzero g must visibly change the value.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import dataclass, field

import pytest
import yaml

import symbackprop as sbp
from symbackprop import handout, render
from conftest import EXAMPLES
import latex_eval
from latex_eval import Interval

DECIMALS = (2, 4, 6)

# parts of an equation that are read as skipped, not as numbers, and why
SKIPPED = {
    "words": (re.compile(r"\\text"), "a sentence in a formula ('8 paths, too many to list'): no arithmetic"),
    "blank": (re.compile(r"\\blank"), "the exercise sheet's space for an answer"),
    "elided sum": (re.compile(r"\\c?dots"), "a sum with terms left out (⋯) cannot be evaluated"),
}
# rows of the update table that are not read, and why
SKIPPED_ROWS = {
    "update left blank": "the exercise sheet leaves ∂L/∂w and the new value for the student",
    "frozen parameter": "the gradient is shown but not applied: new = old by design",
}
# row shapes the reader removes before reading, and why
ANNOTATION = re.compile(r"&&.*$|\\quad\s*\(n\s*=\s*\d+\)\s*$")  # a note column; "(n = 2)" naming the example
ROW_END = re.compile(r"\\\\\*?(?:\[[^\]]*\])?")
ALIGN = re.compile(r"\\begin\{align\*\}(.*?)\\end\{align\*\}", re.S)


# -- the handouts -----------------------------------------------------------------------------


def _shipped() -> list[str]:
    """Shipped examples with numbers: `inputs` or `data` in the spec itself."""
    names = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        text = yaml.safe_load(path.read_text())
        if isinstance(text, dict) and "layers" in text and ("inputs" in text or "data" in text):
            names.append(path.name)
    return names


def _seed(**changes) -> dict:
    spec = yaml.safe_load((EXAMPLES / "seed_2_2_1.yaml").read_text())
    spec.update(changes)
    return spec


# the seed network changed where the printer has other paths: a coefficient before a number (mse, squared
# error), negative values under a power and subtracted (tanh, 1 − (−0.2)², ŷ − (−0.3)), ReLU and softplus
VARIANTS = {
    "seed-mse": _seed(loss="mse"),
    "seed-squared-error": _seed(loss="squared_error"),
    "seed-tanh-negative": _seed(activation=["tanh", "tanh"], inputs=[-0.5, 0.1], targets=[-0.3],
                                parameters={**_seed()["parameters"], "w31": -0.9, "b3": -0.6}),  # fmt: skip
    "seed-relu-softplus": _seed(activation=["relu", "softplus"], parameters={**_seed()["parameters"], "w21": -0.9}),
    "two-outputs-mse": {"layers": [2, 2, 2], "activation": ["sigmoid", "linear"], "loss": "mse", "learning_rate": 0.1,
                        "data": [{"inputs": [0.5, -0.1], "targets": [0.6, -0.2]},
                                 {"inputs": [0.2, 0.8], "targets": [0.3, 0.1]}],
                        "init": {"seed": 3}},  # fmt: skip
}


@functools.cache
def _derivation(name: str):
    if name in VARIANTS:
        return sbp.derive(sbp.spec_from_dict(VARIANTS[name]))
    return sbp.derive(sbp.load_spec(EXAMPLES / name))


@functools.cache
def _latex(name: str, mode: str, decimals: int, lang: str = "en", steps: int = 1) -> str:
    return render.latex(handout.build(_derivation(name), mode=mode, decimals=decimals, lang=lang, steps=steps))


@functools.cache
def _update_heading(lang: str) -> str:
    """The update section's heading in `lang`, from the language template itself."""
    return str(render.environment().get_template(f"lang/{lang}.tex.j2").module.update_heading())


# -- reading a handout ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    text: str
    kind: str  # "number", "literal" (a plain number: what the parts before it equal), "symbolic", "skipped", "unread"
    value: Interval | None = None


@dataclass
class Reading:
    checked: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)


def _split_top_level(text: str, separator: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += {"{": 1, "}": -1}.get(c, 0)
        if c == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def _equations(tex: str) -> list[list[str]]:
    """Rows of every numbered equation, a sum continued on the next row (\\quad + …) joined to its first row."""
    equations: list[list[str]] = []
    for body in ALIGN.findall(tex):
        start = True  # rows before the first number belong to no earlier equation
        for row in ROW_END.split(body):
            row = ANNOTATION.sub("", row.strip()).strip()
            if not row:
                continue
            if "\\qnum{" in row or start:
                equations.append([])
                row = re.sub(r"\\qnum\{\d+\}", "", row)
                start = False
            continued = re.match(r"&\s*\\q?quad\s*([+-].*)$", row, re.S)
            if continued and equations[-1]:
                equations[-1][-1] += " " + continued.group(1)
            else:
                equations[-1].append(row)
    return equations


def _part(text: str, decimals: int, reading: Reading) -> Part | None:
    text = text.strip()
    if not text:
        return None
    for shape, (pattern, _why) in SKIPPED.items():
        if pattern.search(text):
            reading.skipped[shape] += 1
            return Part(text, "skipped")
    try:
        value = latex_eval.evaluate(text, decimals=decimals)
    except latex_eval.Symbolic:
        reading.skipped["symbolic"] += 1
        return Part(text, "symbolic")
    except latex_eval.ParseError as error:
        reading.failures.append(f"cannot read {text!r}: {error}")
        return Part(text, "unread")
    literal = re.fullmatch(r"-?[\d.]+(\s*\\times\s*10\^\{-?\d+\})?", text) is not None
    return Part(text, "literal" if literal else "number", value)


def read_equations(tex: str, decimals: int, reading: Reading) -> None:
    for rows in _equations(tex):
        parts: list[tuple[int, Part]] = []  # (row, part)
        for r, row in enumerate(rows):
            for text in _split_top_level(row.replace("&", " "), "="):
                part = _part(text, decimals, reading)
                if part is not None:
                    parts.append((r, part))
        for k, (_, part) in enumerate(parts):
            if part.kind != "number":
                continue
            value = next((p for _, p in parts[k + 1 :] if p.kind == "literal"), None)
            if value is None:
                reading.failures.append(f"{part.text!r} is not set equal to a value")
                continue
            reading.checked.append(part.text)
            if not part.value.overlaps(value.value):
                reading.failures.append(f"{part.text!r} reads as [{part.value.lo:.10g}, {part.value.hi:.10g}], "
                                        f"printed = {value.text}")  # fmt: skip
        for k, (r, part) in enumerate(parts[1:], start=1):
            # `&= A = 0.33`: A is the substituted stage and must be numbers only
            previous_row, previous = parts[k - 1]
            if part.kind == "literal" and previous_row == r and previous.kind == "symbolic":
                reading.failures.append(f"{previous.text!r} = {part.text}: symbols left in a substituted line")


def read_updates(tex: str, decimals: int, reading: Reading, lang: str = "en") -> None:
    """Each update table: new = old − η·g to the printed precision, and a visible change when g ≠ 0."""
    sections = re.split(r"\\(?:sub)?section\*\{" + re.escape(_update_heading(lang)) + "}", tex)[1:]
    if not sections:
        return
    eta = latex_eval.evaluate(re.search(r"\\eta\s*=\s*([^$]+)\$", sections[0]).group(1), decimals=decimals)  # said once
    for section in sections:
        _read_update(section, eta, decimals, reading)


def _read_update(section: str, eta: Interval, decimals: int, reading: Reading) -> None:
    body = section.partition(r"\endfoot")[2].partition(r"\end{longtable}")[0]
    for row in ROW_END.split(body):
        cells = [c.strip() for c in row.split("&")]
        if len(cells) < 4:
            continue
        name, old, gradient, new, note = (*cells[:4], " ".join(cells[4:]).strip())
        if any(r"\rule" in c for c in (old, gradient, new)):
            reading.skipped["update left blank"] += 1  # see SKIPPED_ROWS
            continue
        if note:
            reading.skipped["frozen parameter"] += 1
            continue
        # the new value was rounded on its own, so its own printed places bound it (at least `decimals`)
        values = [latex_eval.evaluate(c, decimals=decimals) for c in (old, gradient, new)]
        reading.checked.append(f"{name}: {old} - eta * {gradient} = {new}")
        if not (values[0] - eta * values[1]).overlaps(values[2]):
            reading.failures.append(f"update of {name}: {old} - {eta.mid:g} * {gradient} != {new}")
        if values[1].lo > 0 or values[1].hi < 0:
            if old == new:
                reading.failures.append(f"update of {name}: the gradient is {gradient} but the value stays {new}")


def read(tex: str, decimals: int, lang: str = "en") -> Reading:
    reading = Reading()
    read_equations(tex, decimals, reading)
    read_updates(tex, decimals, reading, lang)
    return reading


# -- the tests ---------------------------------------------------------------------------------------

CASES = [(name, mode, decimals) for name in [*_shipped(), *VARIANTS] for mode in handout.MODES for decimals in DECIMALS]
LANGUAGES = ("de", "fr")  # English is every case above


def test_every_example_with_numbers_is_read():
    assert set(_shipped()) == {"batch_2_2_1.yaml", "big.yaml", "classifier_2_1_1.yaml", "course_header.yaml",
                               "seed_2_2_1.yaml", "softmax_2_3_2.yaml"}  # fmt: skip


@pytest.mark.parametrize(("name", "mode", "decimals"), CASES)
def test_every_substituted_line_evaluates_to_its_printed_value(name, mode, decimals):
    reading = read(_latex(name, mode, decimals), decimals)
    assert reading.failures == []
    if mode != "exercise":
        assert len(reading.checked) >= 10  # the reader found the handout's lines, not nothing


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("mode", handout.MODES)
@pytest.mark.parametrize("name", _shipped())
def test_every_language_prints_the_same_arithmetic(name, mode, lang):
    reading = read(_latex(name, mode, 4, lang), 4, lang)
    english = read(_latex(name, mode, 4), 4)
    assert reading.failures == []
    assert reading.checked == english.checked  # the words differ, every line of numbers is there and read


@pytest.mark.parametrize("name", ["seed_2_2_1.yaml", "batch_2_2_1.yaml", "softmax_2_3_2.yaml"])
def test_later_steps_read_back_too(name):
    reading = read(_latex(name, "worked", 6, steps=3), 6)
    assert reading.failures == []
    single = read(_latex(name, "worked", 6), 6)
    assert len(reading.checked) == 3 * len(single.checked)  # each step's lines and update table, read


# -- the reader itself, on lines written here ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"0.4 \cdot 0.5 + 0.3 \cdot 0.1 + 0.1", 0.33),
        (r"\left(2 \cdot 0.739088 - 2 \cdot 0.6\right) \cdot 0.739088 \cdot \left(1 - 0.739088\right)", 0.053643),
        (r"\sigma\left(0.33\right)", 0.581759),
        (r"\frac{1}{2} \left(0.739088 - 0.6\right)^{2}", 0.009673),
        (r"1 - \left(-0.2\right)^{2}", 0.96),
        (r"0.5 - \left(-0.3\right)", 0.8),
        (r"-1 \cdot \ln{\left(0.51 \right)}", 0.673345),
        (r"\frac{e^{0.321206}}{e^{0.321206} + e^{0.270637}}", 0.512639),
        (r"2.5 \times 10^{-5} \cdot 4", 0.0001),
        (r"\left(2.5 \times 10^{-5}\right)^{2}", 6.25e-10),
        (r"\tanh^{2}{\left(0.5 \right)}", 0.213552),
        (r"\mathbb{1}\left[0.3 > 0\right] \cdot 0.5", 0.5),
    ],
)
def test_reader_evaluates_the_printed_arithmetic(text, expected):
    value = latex_eval.evaluate(text, decimals=6)
    assert value.overlaps(Interval(expected - 5e-7, expected + 5e-7))


def test_reader_reads_numbers_side_by_side_as_one_number():
    # TeX drops the space: the PDF shows 20.739088
    assert latex_eval.evaluate("2 0.739088", decimals=6).mid == pytest.approx(20.739088)


@pytest.mark.parametrize(
    "text",
    [
        r"0.5 \cdot -0.2",  # a sign after an operator
        r"\left(1 - 0.5\right) 0.3",  # a number after a factor, no operator
        r"1.4 \times 10^{-6}^{2}",  # a power of a scientific number without brackets
        r"0.5 0.3",  # two numbers that read as 0.50.3
        r"\sin\left(0.3\right)",  # a function the handouts do not print
    ],
)
def test_reader_refuses_what_a_student_could_misread(text):
    with pytest.raises(latex_eval.ParseError):
        latex_eval.evaluate(text, decimals=6)


def test_reader_tells_symbols_from_numbers():
    with pytest.raises(latex_eval.Symbolic):
        latex_eval.evaluate(r"\left(2 \hat{y} - 2 t\right)", decimals=6)


def test_a_wrong_line_fails_the_reading():
    tex = "\\begin{align*}\n\\qnum{1} z_{1} &= w_{11} x_{1} + b_{1} \\\\*\n&= 0.4 \\cdot 0.5 + 0.1 = 0.31 \\\\[6pt]\n\\end{align*}"
    reading = read(tex, 6)
    assert reading.checked == [r"0.4 \cdot 0.5 + 0.1"]
    assert len(reading.failures) == 1
