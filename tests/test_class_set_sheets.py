"""A class set's sheet and key: points per question and in all, answer room sized to the key's working, the
key's answer table numbered as the sheet, the spec's document.points, and no overfull line in any language."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

import symbackprop as sbp
from symbackprop import class_set, render
from symbackprop import spec as spec_module
from symbackprop.errors import SpecError
from test_class_set import SEED_SPEC, by_hand, sheet_questions, write_roster

POINTS = {"deltas": 3, "updated": 0.5}  # the spec's overrides; the rest keep the defaults below
DEFAULTS = {"forward": 1, "loss": 1, "deltas": 2, "gradients": 2, "updated": 1}


def class_with_points(tmp_path: Path, points: dict | None = POINTS, *, roster: Path | None = None, lang: str = "en",
                      pdf: bool = False) -> Path:  # fmt: skip
    raw = spec_module.read_mapping(SEED_SPEC)
    if points is not None:
        raw["document"] = {"points": points}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    loaded = spec_module.load(path)
    entries = class_set.read_roster(roster) if roster else None
    sheets = class_set.sheets(loaded, seed=5, count=None if roster else 2, roster=entries)
    class_set.write(sbp.derive(loaded), tmp_path / "class", sheets, source=raw, seed=5, pdf=pdf, lang=lang)
    return tmp_path / "class"


def test_points_per_question_and_in_all_follow_the_spec(tmp_path):
    folder = class_with_points(tmp_path)
    sheet, key = (folder / "student_1.tex").read_text(), (folder / "student_1_key.tex").read_text()
    asked = sheet_questions(sheet)
    points = {name: (DEFAULTS | POINTS)[name.partition(".")[0]] for name in asked}
    total = sum(points.values())
    assert total == 6 * 1 + 1 + 3 * 3 + 9 * 2 + 9 * 0.5
    assert f"Total: {total:g} points" in sheet and f"Total: {total:g} points" in key
    for name, number in asked.items():
        if name.startswith("updated."):
            continue  # the update table says it once for all its rows
        shown = f"{points[name]:g} pt{'s' if points[name] != 1 else ''}"
        assert re.search(rf"\\qnum\{{{number}\}} [^\n]*\\blank\\qquad\\text\{{\\small \[{shown}\]\}}", sheet), name
    assert "[0.5 points each]" in sheet
    assert "Total" not in (folder / "student_1.yaml").read_text()  # the student's spec keeps the points, not words
    assert yaml.safe_load((folder / "student_1.yaml").read_text())["document"] == {"points": POINTS}
    assert r"\fancyhead" not in sheet  # points alone make no course header


def test_the_keys_answer_table_is_numbered_as_the_sheet_with_the_exact_values(tmp_path):
    folder = class_with_points(tmp_path)
    for i in (1, 2):
        sheet, key = (folder / f"student_{i}.tex").read_text(), (folder / f"student_{i}_key.tex").read_text()
        asked = {number: name for name, number in sheet_questions(sheet).items()}
        values = by_hand(yaml.safe_load((folder / f"student_{i}.yaml").read_text()))
        table = key[key.index(r"\begin{longtable}{r >{$}l<{$} >{$}r<{$} r}"):]
        rows = re.findall(r"^(\d+) & (.+?) & (\S+) & (\S+) \\\\$", table[: table.index(r"\end{longtable}")], re.M)
        assert [int(r[0]) for r in rows] == sorted(asked)
        for number, _, value, points in rows:
            name = asked[int(number)]
            assert float(value) == pytest.approx(values[name], abs=5e-7), name
            assert float(points) == (DEFAULTS | POINTS)[name.partition(".")[0]]
        assert key.index(r"\end{longtable}") < key.index(r"\section*{The network}")  # the table comes first


def test_answer_room_follows_the_keys_working(tmp_path):
    folder = class_with_points(tmp_path, None)
    sheet, key = (folder / "student_1.tex").read_text(), (folder / "student_1_key.tex").read_text()
    asked = sheet_questions(sheet)
    for name in [n for n in asked if n.split(".")[0] in ("deltas", "gradients")]:
        number = asked[name]
        block = re.search(rf"\\qnum\{{{number}\}}(.*?)\\end\{{align\*\}}", key, re.S).group(1)
        rows = block.count("\\\\") + 1
        room = float(re.search(rf"\\qnum\{{{number}\}}[^\n]*\n\\end\{{align\*\}}\n\\vspace\{{([\d.]+)em\}}", sheet).group(1))
        assert abs(room / 2.2 - rows) <= 1, (name, rows, room)
    assert room >= 2.2 * 4  # a hidden weight's gradient: paths, factors, numbers, δ form, value


@pytest.mark.parametrize("points, message", [
    ({"delta": 2}, r"document\.points\.delta: unknown kind of question \(did you mean 'deltas'\?\); valid: forward, loss, "
                   r"deltas, gradients, updated"),
    ({"deltas": -1}, r"document\.points\.deltas: must be"),
    ({"deltas": 101}, r"document\.points\.deltas: must be at most 100 points, got 101"),
    ({"deltas": "two"}, r"document\.points\.deltas: must be a number"),
    ([2], r"document\.points: must map kinds of question to points"),
])  # fmt: skip
def test_bad_points_are_refused_by_key_path(points, message):
    with pytest.raises(SpecError, match=message):
        spec_module.from_dict({**spec_module.read_mapping(SEED_SPEC), "document": {"points": points}})


@pytest.mark.parametrize("lang", ["en", "de", "fr"])
def test_sheets_and_keys_have_no_overfull_line_in_any_language(tmp_path, lang):
    if shutil.which("pdflatex") is None:
        pytest.skip("no pdflatex to read the log of")
    long_name = "Maximiliane Konstanze Wilhelmine von Hohenzollern-Sigmaringen"
    roster = write_roster(tmp_path / "roster.csv", [["id", "name"], ["x" * 40, long_name]])
    folder = class_with_points(tmp_path, None, roster=roster, lang=lang)
    for stem in ("x" * 40, "x" * 40 + "_key"):
        build = tmp_path / f"build-{stem[-4:]}"
        build.mkdir()
        (build / "handout.tex").write_text((folder / f"{stem}.tex").read_text(encoding="utf-8"), encoding="utf-8")
        for _ in range(2):
            done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "handout.tex"], cwd=build,
                                  capture_output=True, check=False)  # fmt: skip
            assert done.returncode == 0, done.stdout[-2000:]
        log = (build / "handout.log").read_text(encoding="utf-8", errors="replace")
        assert "Overfull \\hbox" not in log, re.findall(r"Overfull \\hbox.*\n.*", log)[:3]
        assert render.escape(long_name) in (folder / f"{stem}.tex").read_text(encoding="utf-8")
