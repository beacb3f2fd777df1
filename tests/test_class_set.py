"""Class sets: a roster or a count → per student a sheet, a key, a spec, an answers template; class.csv.

The numbers are checked against a plain NumPy pass over the 2-2-1 sigmoid network written here,
reading each student's spec file with PyYAML (not with symbackprop's loader).
"""

from __future__ import annotations

import csv
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import EXAMPLES

import symbackprop as sbp
from symbackprop import check, class_set, cli, handout, render, student_sheet
from symbackprop import spec as spec_module
from symbackprop.errors import AnswersError

SEED_SPEC = EXAMPLES / "seed_2_2_1.yaml"
HOSTILE = r"Zoë \input{/etc/passwd} & 50% $x$ #1 ~_^"


def by_hand(raw: dict) -> dict[str, float]:
    """Every quantity of a 2-2-1 sigmoid network with ½ squared error, by answers-file path; plain NumPy."""
    p = raw["parameters"]
    x, t = np.array(raw["inputs"], float), float(raw["targets"][0])
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    W1, b1 = np.array([[p["w11"], p["w12"]], [p["w21"], p["w22"]]]), np.array([p["b1"], p["b2"]])
    w2, b2 = np.array([p["w31"], p["w32"]]), p["b3"]
    z = W1 @ x + b1
    h = sigmoid(z)
    z3 = w2 @ h + b2
    y = sigmoid(z3)
    d3 = (y - t) * y * (1 - y)
    d = d3 * w2 * h * (1 - h)
    grads = {"w11": d[0] * x[0], "w12": d[0] * x[1], "w21": d[1] * x[0], "w22": d[1] * x[1], "b1": d[0], "b2": d[1],
             "w31": d3 * h[0], "w32": d3 * h[1], "b3": d3}  # fmt: skip
    values = {"forward.z1": z[0], "forward.z2": z[1], "forward.h1": h[0], "forward.h2": h[1], "forward.z3": z3,
              "forward.y": y, "loss": 0.5 * (y - t) ** 2, "deltas.delta3": d3, "deltas.delta1": d[0], "deltas.delta2": d[1]}  # fmt: skip
    values |= {f"gradients.{k}": v for k, v in grads.items()}
    values |= {f"updated.{k}": p[k] - raw["learning_rate"] * v for k, v in grads.items()}
    return {k: float(v) for k, v in values.items()}


def make(folder: Path, *, roster: Path | None = None, count: int | None = None, seed: int = 7, pdf: bool = False,
         combine: bool = False) -> list[Path]:  # fmt: skip
    loaded = sbp.load_spec(SEED_SPEC)
    entries = class_set.read_roster(roster) if roster is not None else None
    sheets = class_set.sheets(loaded, seed=seed, count=count, roster=entries)
    return class_set.write(sbp.derive(loaded), folder, sheets, source=spec_module.read_mapping(SEED_SPEC), seed=seed,
                           pdf=pdf, combine=combine)  # fmt: skip


def write_roster(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        csv.writer(stream).writerows(rows)
    return path


def needs_tex():
    if render.backend() is None:
        pytest.skip("no LaTeX backend")


# -- the files -------------------------------------------------------------------------------


def test_a_count_writes_every_students_files_and_a_class_list(tmp_path):
    written = make(tmp_path, count=12)
    names = {p.name for p in written}
    stems = [f"student_{i:02d}" for i in range(1, 13)]
    expected = {f"{s}{end}" for s in stems for end in (".tex", "_key.tex", ".yaml", "_answers.yaml")} | {"class.csv", "class.json"}
    assert names == expected == {p.name for p in tmp_path.iterdir()}
    rows = list(csv.DictReader((tmp_path / "class.csv").open(newline="")))
    assert [r["id"] for r in rows] == stems
    assert [r["answers"] for r in rows] == [f"{s}_answers.yaml" for s in stems]
    assert all(r["seed"] == "7" and r["name"] == "" for r in rows)
    # the variant code is on the sheet, in the key, in the answers file and in the list, and tells students apart
    codes = [r["code"] for r in rows]
    assert len(set(codes)) == len(codes)
    for stem, code in zip(stems, codes):
        for name in (f"{stem}.tex", f"{stem}_key.tex", f"{stem}_answers.yaml"):
            assert code in (tmp_path / name).read_text(encoding="utf-8"), name
    assert r"\rule{6cm}{0.4pt}" in (tmp_path / "student_01.tex").read_text()  # a blank Name field


def test_each_students_spec_reproduces_the_numbers_of_their_key(tmp_path):
    make(tmp_path, count=4)
    for i in range(1, 5):
        raw = yaml.safe_load((tmp_path / f"student_{i}.yaml").read_text())
        examples, parameters = handout.variant(sbp.load_spec(SEED_SPEC), seed=7, index=i)
        assert raw["parameters"] == parameters and raw["inputs"] == list(examples[0].inputs)  # exactly, not to 2 decimals
        expected = by_hand(raw)
        solved = check.expected_values(sbp.derive(spec_module.load(tmp_path / f"student_{i}.yaml")))
        assert solved.keys() == expected.keys()
        for name, value in expected.items():
            assert solved[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name
        key = (tmp_path / f"student_{i}_key.tex").read_text()
        for name in ("loss", "deltas.delta1", "gradients.w22", "updated.b3"):
            assert f"{expected[name]:.6f}".rstrip("0") in key, name


def test_the_answers_template_asks_what_the_sheet_numbers_in_the_shape_check_reads(tmp_path):
    make(tmp_path, count=2)
    sheet = (tmp_path / "student_1.tex").read_text()
    template = (tmp_path / "student_1_answers.yaml").read_text()
    asked = sheet_questions(sheet)
    assert sorted(asked.values()) == list(range(1, 29))
    # the template: every one of them, blank, with that number
    assert {name: number for name, (number, _) in template_lines(template).items()} == asked
    assert set(asked) == set(check.expected_values(sbp.derive(sbp.load_spec(SEED_SPEC))))  # all check can mark
    # check reads it: blank, it has no values; filled in, each answer lands on its quantity
    with pytest.raises(AnswersError, match="no values given"):
        student_sheet.load(tmp_path / "student_1_answers.yaml")
    values = by_hand(yaml.safe_load((tmp_path / "student_1.yaml").read_text()))
    (tmp_path / "filled.yaml").write_text(fill(template, {n: f"{v:.6f}" for n, v in values.items()}))
    answers = student_sheet.load(tmp_path / "filled.yaml")
    assert {name: w.value for name, w in answers.items()} == {n: float(f"{v:.6f}") for n, v in values.items()}


def sheet_questions(sheet: str) -> dict[str, int]:
    """The sheet's question numbers and what each asks, read from its LaTeX: \\qnum{3} h_{1} and \\text{(20)}\\ w_{31}."""
    latex_names = {"z_{1}": "forward.z1", "z_{2}": "forward.z2", "h_{1}": "forward.h1", "h_{2}": "forward.h2",
                   "z_{3}": "forward.z3", r"\hat{y}": "forward.y", "L": "loss"}  # fmt: skip
    asked = {}
    for number, lhs in re.findall(r"\\qnum\{(\d+)\} ([^&]+?) &", sheet):
        if lhs.startswith(r"\delta"):
            name = "deltas.delta" + re.search(r"\d+", lhs).group()
        elif lhs.startswith(r"\frac"):
            name = "gradients." + re.search(r"\\partial ([wb])_\{(\d+)\}\}", lhs).expand(r"\1\2")
        else:
            name = latex_names[lhs]
        asked[name] = int(number)
    for number, letter, digits in re.findall(r"\\text\{\((\d+)\)\}\\ ([wb])_\{(\d+)\}", sheet):
        asked[f"updated.{letter}{digits}"] = int(number)
    return asked


def template_lines(template: str) -> dict[str, tuple[int, int]]:
    """Each blank of an answers template: its quantity's path -> (question number, line index); read line by line."""
    found, section = {}, None
    for at, line in enumerate(template.splitlines()):
        if match := re.fullmatch(r"(\w+):", line):
            section = match.group(1)
        elif match := re.fullmatch(r"loss: ~  # question (\d+)", line):
            found["loss"] = (int(match.group(1)), at)
        elif match := re.fullmatch(r"  (\w+): ~  # question (\d+)", line):
            found[f"{section}.{match.group(1)}"] = (int(match.group(2)), at)
    return found


def fill(template: str, values: dict[str, str]) -> str:
    """The template with the given answers written in place of their ~ (the rest left blank)."""
    lines = template.splitlines()
    for name, (_, at) in template_lines(template).items():
        if name in values:
            lines[at] = lines[at].replace("~", values[name], 1)
    return "\n".join(lines) + "\n"


def test_the_same_seed_writes_the_same_bytes(tmp_path):
    needs_tex()
    make(tmp_path / "a", count=2, pdf=True, combine=True)
    make(tmp_path / "b", count=2, pdf=True, combine=True)
    make(tmp_path / "c", count=2, seed=8, pdf=False)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert "class_sheets.pdf" in names and "student_1_key.pdf" in names
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "student_1.yaml").read_bytes() != (tmp_path / "c" / "student_1.yaml").read_bytes()


def test_combined_pdfs_start_each_student_on_an_odd_page(tmp_path):
    needs_tex()
    from pypdf import PdfReader

    make(tmp_path, count=3, pdf=True, combine=True)
    codes = [r["code"] for r in csv.DictReader((tmp_path / "class.csv").open(newline=""))]
    for combined, suffix in (("class_sheets.pdf", ""), ("class_keys.pdf", "_key")):
        pages = PdfReader(str(tmp_path / combined)).pages
        at = 0
        for i, code in enumerate(codes, start=1):
            own = len(PdfReader(str(tmp_path / f"student_{i}{suffix}.pdf")).pages)
            assert at % 2 == 0, (combined, i)  # page at+1 is odd: a front side
            assert f"(student {i})" in pages[at].extract_text() and code in pages[at].extract_text()
            at += own + own % 2  # a blank back after an odd count
            if own % 2 and i < len(codes):
                assert pages[at - 1].extract_text().strip() == ""
        assert len(pages) == at - (own % 2)  # no blank page after the last student


# -- the roster ------------------------------------------------------------------------------


def test_a_roster_names_files_by_id_and_prints_names_safely(tmp_path):
    roster = write_roster(tmp_path / "roster.csv", [
        ["id", "name", "email"], ["s-001", HOSTILE, "a@b"], ["S_002", "=HYPERLINK(\"http://x\")", ""], ["3", "", ""]])  # fmt: skip
    out = tmp_path / "class"
    make(out, roster=roster)
    assert {p.name for p in out.glob("*.tex")} == {"s-001.tex", "s-001_key.tex", "S_002.tex", "S_002_key.tex", "3.tex", "3_key.tex"}
    sheet = (out / "s-001.tex").read_text(encoding="utf-8")
    assert render.escape(HOSTILE) in sheet and r"\input{/etc/passwd}" not in sheet
    assert "s-001" in sheet and "(student 1)" in sheet
    assert r"\rule{6cm}{0.4pt}" in (out / "3.tex").read_text()  # no name in the roster: a blank field
    rows = list(csv.reader((out / "class.csv").open(newline="", encoding="utf-8")))
    assert rows[0][:2] == ["id", "name"]
    assert rows[1][:2] == ["s-001", HOSTILE]
    assert rows[2][:2] == ["S_002", "'=HYPERLINK(\"http://x\")"]  # a spreadsheet shows it, never runs it
    assert [r[0] for r in rows[1:]] == ["s-001", "S_002", "3"]


@pytest.mark.parametrize("cell", ["=1+2", "+1", "-cmd|' /C calc'!A0", "@SUM(A1)"])
def test_class_csv_neutralises_every_formula_start(cell):
    rows = list(csv.reader(class_set.class_csv([["a", cell]]).splitlines()))
    assert rows[1] == ["a", "'" + cell]


@pytest.mark.parametrize("rows, message", [
    ([["name"], ["Ann"]], r"roster\.csv:1: no column id; the first line names the columns, e\.g\. id,name \(found: name\)"),
    ([["id", "name"], ["../etc", "Ann"]], r"roster\.csv:2: id '\.\./etc' cannot name a file; use 1 to 40 letters"),
    ([["id", "name"], ["a b", "Ann"]], r"roster\.csv:2: id 'a b' cannot name a file"),
    ([["id", "name"], ["ok", "Ann"], ["", "Bob"]], r"roster\.csv:3: id '' cannot name a file"),
    ([["id", "name"], ["ann", "Ann"], ["x", "X"], ["ANN", "Ann B"]], r"roster\.csv:4: id 'ANN' is given twice \(first on line 2\)"),
    ([["id", "name"], ["bob_key", "Bob"]], r"roster\.csv:2: id 'bob_key' would name another file of the class set"),
    ([["id", "name"], ["class_sheets", "Bob"]], r"roster\.csv:2: id 'class_sheets' would name another file"),
    ([["id", "name"], ["a", "Ann\x1b[31m"]], r"roster\.csv:2: name: the character U\+001B \(a control character\) cannot be typeset"),
    ([["id", "name"], ["a", "Ann 😀"]], r"roster\.csv:2: name: the character '😀' \(U\+1F600\) cannot be typeset"),
    ([["id", "name"]], r"roster\.csv: no students"),
])  # fmt: skip
def test_bad_rosters_are_refused_with_file_and_line(tmp_path, rows, message):
    roster = write_roster(tmp_path / "roster.csv", rows)
    with pytest.raises(class_set.RosterError, match=message):
        class_set.read_roster(roster)


def test_cli_roster_error_is_one_line_and_exit_2(tmp_path, capsys):
    roster = write_roster(tmp_path / "roster.csv", [["id", "name"], ["a/b", "Ann"]])
    code = cli.main(["handout", str(SEED_SPEC), "-o", str(tmp_path / "out"), "--students", str(roster)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "roster.csv:2: id 'a/b' cannot name a file" in err
    assert not (tmp_path / "out").exists()


def test_cli_refuses_a_roster_and_a_count_together(tmp_path, capsys):
    roster = write_roster(tmp_path / "roster.csv", [["id", "name"], ["a", "Ann"]])
    code = cli.main(["handout", str(SEED_SPEC), "-o", str(tmp_path / "out"), "--students", str(roster), "--variants", "2"])
    assert code == 2 and "--variants: not with --students" in capsys.readouterr().err


def test_cli_class_set_from_a_roster(tmp_path, capsys):
    shutil.copy(EXAMPLES / "roster.csv", tmp_path / "roster.csv")
    code = cli.main(["handout", str(SEED_SPEC), "-o", str(tmp_path / "class"), "--students", str(tmp_path / "roster.csv"),
                     "--seed", "3"])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    ids = [row["id"] for row in csv.DictReader((EXAMPLES / "roster.csv").open(newline="", encoding="utf-8"))]
    listed = list(csv.DictReader((tmp_path / "class" / "class.csv").open(newline="", encoding="utf-8")))
    assert [r["id"] for r in listed] == ids
    assert all((tmp_path / "class" / r["answers"]).is_file() and (tmp_path / "class" / r["sheet"]).is_file() for r in listed)


def test_one_tex_pass_from_the_first_students_files_gives_the_pdf_of_two_full_passes(tmp_path):
    if shutil.which("pdflatex") is None:
        pytest.skip("no pdflatex")
    make(tmp_path / "class", count=3, pdf=True)
    for name in ("student_3", "student_3_key"):
        tex = (tmp_path / "class" / f"{name}.tex").read_text(encoding="utf-8")
        twice = render.compile_pdf(tex, tmp_path / f"{name}.pdf", command=["pdflatex"])  # from scratch, two passes
        assert twice.read_bytes() == (tmp_path / "class" / f"{name}.pdf").read_bytes(), name


def test_cli_combine_needs_a_class_set(tmp_path, capsys):
    code = cli.main(["handout", str(SEED_SPEC), "-o", str(tmp_path / "h.pdf"), "--combine"])
    assert code == 2 and "--combine: only used with --variants N or --students roster.csv" in capsys.readouterr().err
