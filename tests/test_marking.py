"""Marking a class: answers filled in from an independent NumPy pass, with injected mistakes, blank, missing
and unreadable sheets; the grades, the summary and the exit status are checked against counts made here."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import yaml

import symbackprop as sbp
from symbackprop import class_set, cli, marking, render
from symbackprop import spec as spec_module
from test_class_set import SEED_SPEC, by_hand, fill, template_lines, write_roster

POINTS = {"forward": 1, "loss": 1, "deltas": 3, "gradients": 2, "updated": 1}  # deltas: 3 from the spec's document.points


def gradient_ascent(raw: dict) -> dict[str, float]:
    """The student adds η·gradient instead of subtracting it; every other value is right."""
    values = by_hand(raw)
    for name in [n for n in values if n.startswith("updated.")]:
        key = name.partition(".")[2]
        values[name] = raw["parameters"][key] + raw["learning_rate"] * values[f"gradients.{key}"]
    return values


def no_sigmoid_derivative(raw: dict) -> dict[str, float]:
    """δ3 = ŷ − t (the sigmoid's derivative left out), and everything after it worked correctly from that δ3."""
    values = by_hand(raw)
    p, x = raw["parameters"], np.array(raw["inputs"], float)
    d3 = round(values["forward.y"], 4) - raw["targets"][0]
    h = np.array([values["forward.h1"], values["forward.h2"]])
    d = d3 * np.array([p["w31"], p["w32"]]) * h * (1 - h)
    grads = {"w31": d3 * h[0], "w32": d3 * h[1], "b3": d3, "w11": d[0] * x[0], "w12": d[0] * x[1], "w21": d[1] * x[0],
             "w22": d[1] * x[1], "b1": d[0], "b2": d[1]}  # fmt: skip
    values |= {"deltas.delta3": d3, "deltas.delta1": d[0], "deltas.delta2": d[1]}
    values |= {f"gradients.{k}": v for k, v in grads.items()}
    values |= {f"updated.{k}": p[k] - raw["learning_rate"] * v for k, v in grads.items()}
    return values


@pytest.fixture(scope="module")
def marked_class(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    raw = spec_module.read_mapping(SEED_SPEC) | {"document": {"points": {"deltas": 3}}}
    (folder / "spec.yaml").write_text(yaml.safe_dump(raw))
    roster = write_roster(folder / "roster.csv", [["id", "name"], ["a1", "Right Rita"], ["a2", "=Carried Carl"],
                                                  ["a3", "Uphill Ulla"], ["a4", "Blank Ben"], ["a5", "Broken Bo"],
                                                  ["a6", "Missing Mo"]])  # fmt: skip
    loaded = spec_module.load(folder / "spec.yaml")
    sheets = class_set.sheets(loaded, seed=11, roster=class_set.read_roster(roster))
    out = folder / "class"
    class_set.write(sbp.derive(loaded), out, sheets, source=raw, seed=11, pdf=False)
    answers = folder / "answers"
    answers.mkdir()
    correct, worked = {}, {}
    for stem, make in (("a1", by_hand), ("a2", no_sigmoid_derivative), ("a3", gradient_ascent)):
        student = yaml.safe_load((out / f"{stem}.yaml").read_text())
        correct[stem], worked[stem] = by_hand(student), make(student)
        template = (out / f"{stem}_answers.yaml").read_text()
        (answers / f"{stem}_answers.yaml").write_text(fill(template, {n: f"{v:.4f}" for n, v in worked[stem].items()}))
    (answers / "a4_answers.yaml").write_text((out / "a4_answers.yaml").read_text())  # handed in as it was
    (answers / "a5_answers.yaml").write_text("forward:\n  z1: 0.5\n  z1: 0.6\n")  # z1 twice: unreadable
    numbers = {name: number for name, (number, _) in template_lines((out / "a1_answers.yaml").read_text()).items()}
    return out, answers, correct, worked, numbers


def expected_points(correct: dict, worked: dict, numbers: dict, *, wrong: set[str], credit: float) -> dict[int, float]:
    """Points per question counted here: right at 4 decimals → full, an injected root mistake → 0, else carried → credit."""
    points = {}
    for name, number in numbers.items():
        full = POINTS[name.partition(".")[0]]
        if f"{worked[name]:.4f}" == f"{correct[name]:.4f}":
            points[number] = full
        else:
            points[number] = 0.0 if name in wrong else credit * full
    return points


@pytest.mark.parametrize("credit", [1.0, 0.5])
def test_grades_match_an_independent_count(marked_class, tmp_path, credit):
    out, answers, correct, worked, numbers = marked_class
    students = marking.read_class(out)
    found, unmatched = marking.answer_files([answers], students)
    results = {r.student.id: r for r in marking.mark(students, found, credit=credit)}
    maximum = sum(POINTS[n.partition(".")[0]] for n in numbers)
    assert all(r.student.max_points == maximum for r in results.values())
    updates = {n for n in numbers if n.startswith("updated.")}
    expected = {
        "a1": expected_points(correct["a1"], worked["a1"], numbers, wrong=set(), credit=credit),
        "a2": expected_points(correct["a2"], worked["a2"], numbers, wrong={"deltas.delta3"}, credit=credit),
        "a3": expected_points(correct["a3"], worked["a3"], numbers, wrong=updates, credit=credit),
    }
    for stem, points in expected.items():
        assert results[stem].status == "marked"
        assert results[stem].points == pytest.approx(points), stem
    assert results["a1"].total == maximum
    assert results["a2"].marking.root_cause.name == "deltas.delta3"
    assert "derivative_left_out" in results["a2"].marking.root_cause.mistakes
    assert results["a3"].marking.root_cause.name.startswith("updated.")
    assert [results[s].status for s in ("a4", "a5", "a6")] == ["blank", "unreadable", "missing"]
    assert all(results[s].total == 0 for s in ("a4", "a5", "a6"))
    assert results["a5"].problem.endswith("a5_answers.yaml:3: forward.z1: given twice (first on line 2)")
    assert unmatched == []

    # the grades file, read back with the csv module
    (tmp_path / "grades.csv").write_text(marking.grades_csv(list(results.values())))
    rows = {row["id"]: row for row in csv.DictReader((tmp_path / "grades.csv").open(newline=""))}
    assert rows["a2"]["name"] == "'=Carried Carl"  # a spreadsheet shows it as text
    assert float(rows["a2"]["points"]) == pytest.approx(sum(expected["a2"].values()))
    assert float(rows["a2"][f"q{numbers['deltas.delta3']}"]) == 0
    assert rows["a2"]["first_wrong"] == "deltas.delta3" and rows["a2"]["diagnosis"]
    assert rows["a4"]["status"] == "blank" and rows["a6"]["status"] == "missing" and rows["a5"]["problem"]
    assert float(rows["a1"]["max_points"]) == maximum


def test_cli_mark_json_summary_and_exit_status(marked_class, tmp_path, capsys):
    out, answers, correct, worked, numbers = marked_class
    code = cli.main(["mark", str(out), str(answers), "--json", "-o", str(tmp_path / "grades.csv"),
                     "--plot", str(tmp_path / "mistakes.png"), "--feedback", str(tmp_path / "feedback"), "--lang", "fr"])  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1  # one sheet could not be read; the others are marked all the same
    data = json.loads(captured.out)
    summary = data["summary"]
    assert summary["statuses"] == {"marked": 3, "missing": 1, "blank": 1, "unreadable": 1}
    totals = {s["id"]: s["points"] for s in data["students"]}
    assert summary["mean"] == pytest.approx(sum(totals.values()) / 6)
    assert sum(d["students"] for d in summary["distribution"]) == 6
    # the questions most often wrong, counted here: an update for a3 where +η·g and −η·g differ at 4 decimals, δ3 for a2
    wrong_updates = {n for n in numbers if n.startswith("updated.") and f"{worked['a3'][n]:.4f}" != f"{correct['a3'][n]:.4f}"}
    counted = {numbers[n]: 1 for n in wrong_updates} | {numbers["deltas.delta3"]: 1}
    assert {w["question"]: w["students"] for w in summary["most_often_wrong"]} == counted
    kinds = {m["kind"]: m["count"] for m in summary["mistakes"]}
    assert kinds["gradient_ascent"] == len(wrong_updates) and kinds["derivative_left_out"] >= 1
    assert (tmp_path / "grades.csv").is_file()
    assert (tmp_path / "mistakes.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.name for p in (tmp_path / "feedback").iterdir()) == [f"a{i}_feedback.pdf" for i in range(1, 7)]


def test_cli_mark_refuses_a_language_that_is_no_code(marked_class, tmp_path, capsys):
    out, answers, *_ = marked_class
    code = cli.main(["mark", str(out), str(answers), "--feedback", str(tmp_path / "fb"), "--lang", "../../etc"])
    assert code == 2 and "--lang: '../../etc' is not a language code" in capsys.readouterr().err
    assert not (tmp_path / "fb").exists()


def test_cli_mark_terminal_summary(marked_class, capsys):
    out, answers, *_ = marked_class
    code = cli.main(["mark", str(out), str(answers / "a1_answers.yaml"), str(answers / "a4_answers.yaml")])
    text = capsys.readouterr().out
    assert code == 0
    assert text.startswith("6 students (1 marked, 4 missing, 1 blank)")


def test_a_folder_without_a_class_set_is_refused(tmp_path, capsys):
    code = cli.main(["mark", str(tmp_path), str(tmp_path)])
    assert code == 2 and "no class.json" in capsys.readouterr().err


@pytest.mark.parametrize("credit", ["1.5", "-0.1", "nan"])
def test_a_credit_outside_0_to_1_is_refused(marked_class, capsys, credit):
    out, answers, *_ = marked_class
    code = cli.main(["mark", str(out), str(answers), "--carried-forward-credit", credit])
    assert code == 2 and "--carried-forward-credit: must be from 0 to 1" in capsys.readouterr().err


def test_feedback_pdfs_give_each_student_their_marks(marked_class, tmp_path):
    if render.backend() is None:
        pytest.skip("no LaTeX backend")
    from pypdf import PdfReader

    out, answers, correct, worked, numbers = marked_class
    students = marking.read_class(out)
    found, _ = marking.answer_files([answers], students)
    results = marking.mark(students, found, credit=0.5)
    written = marking.write_feedback(results, tmp_path / "feedback")
    assert [p.name for p in written] == [f"a{i}_feedback.pdf" for i in range(1, 7)]
    text = {p.stem.partition("_")[0]: "\n".join(page.extract_text() for page in PdfReader(str(p)).pages) for p in written}
    expected = expected_points(correct["a2"], worked["a2"], numbers, wrong={"deltas.delta3"}, credit=0.5)
    maximum = sum(POINTS[n.partition(".")[0]] for n in numbers)
    assert f"Points: {sum(expected.values()):g} of {maximum:g}" in text["a2"]
    assert f"First wrong step (question {numbers['deltas.delta3']})" in text["a2"]
    carried = [n for n, p in expected.items() if 0 < p < POINTS[[k for k, v in numbers.items() if v == n][0].partition(".")[0]]]
    assert text["a2"].count("carried forward") == len(carried) > 0
    assert f"{worked['a2']['deltas.delta3']:.4f}".replace("-", "−") in text["a2"]  # their answer, as they wrote it
    assert "right, or follows correctly" in text["a1"].replace("\n", " ")
    assert "handed in blank" in text["a4"] and "No answers file was handed in" in text["a6"]
    assert "could not be read" in text["a5"] and "given twice" in text["a5"]
    assert "Right Rita" in text["a1"] and "=Carried Carl" in text["a2"]
