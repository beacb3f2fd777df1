"""Answers files, precision-aware marking, error carried forward, the check command and its exit codes."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from symbackprop import api, check, cli, spec, student_sheet
from symbackprop.errors import AnswersError, InputFileError

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "seed_2_2_1.yaml"
SEED_ANSWERS = ROOT / "examples" / "seed_answers.yaml"
X1, X2, T, ETA = 0.5, 0.1, 0.6, 0.1
W = dict(w11=0.4, w12=0.3, w21=0.6, w22=0.9, w31=0.5, w32=0.7, b1=0.1, b2=0.2, b3=0.3)


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def reference(round_to: int | None = None) -> dict:
    """The seed example by hand in plain Python; `round_to` rounds each value before it is used."""
    r = (lambda v: round(v, round_to)) if round_to is not None else (lambda v: v)
    z1 = r(W["w11"] * X1 + W["w12"] * X2 + W["b1"])
    z2 = r(W["w21"] * X1 + W["w22"] * X2 + W["b2"])
    h1, h2 = r(sigmoid(z1)), r(sigmoid(z2))
    z3 = r(W["w31"] * h1 + W["w32"] * h2 + W["b3"])
    y = r(sigmoid(z3))
    d3 = r((y - T) * y * (1 - y))
    d1, d2 = r(d3 * W["w31"] * h1 * (1 - h1)), r(d3 * W["w32"] * h2 * (1 - h2))
    g = {"w11": r(d1 * X1), "w12": r(d1 * X2), "b1": d1, "w21": r(d2 * X1), "w22": r(d2 * X2), "b2": d2,
         "w31": r(d3 * h1), "w32": r(d3 * h2), "b3": d3}  # fmt: skip
    return {
        "forward": {"z1": z1, "z2": z2, "h1": h1, "h2": h2, "z3": z3, "y": y},
        "loss": r(0.5 * (y - T) ** 2),
        "deltas": {"delta3": d3, "delta1": d1, "delta2": d2},
        "gradients": g,
        "updated": {n: r(W[n] - ETA * v) for n, v in g.items()},
    }


def written_sheet(values: dict, decimals: int) -> dict:
    text = lambda v: f"{v:.{decimals}f}"  # noqa: E731
    return {s: text(c) if s == "loss" else {n: text(v) for n, v in c.items()} for s, c in values.items()}


@pytest.fixture(scope="module")
def derivation():
    return api.derive(spec.load(SEED))


def marks(derivation, raw: dict, **options) -> dict[str, check.Mark]:
    marking = check.check(derivation, student_sheet.from_mapping(raw), **options)
    return {m.name: m for m in marking.marks}


@pytest.mark.parametrize(("text", "value", "decimals"), [
    ("0.5818", 0.5818, 4), ("0.50", 0.5, 2), ("7", 7.0, 0), ("-0.03", -0.03, 2), (".25", 0.25, 2),
    ("1.5e-3", 0.0015, 4), ("2e3", 2000.0, -3), ("1.25E+1", 12.5, 1),
])  # fmt: skip
def test_written_precision_comes_from_the_text(text, value, decimals):
    number = student_sheet.written(text)
    assert (number.value, number.decimals) == (value, decimals)


def test_text_that_is_not_a_number_is_refused():
    with pytest.raises(AnswersError, match=r"^forward.h1: 'about 0.58' is not a number; write a decimal"):
        student_sheet.written("about 0.58", where="forward.h1")


def test_a_value_agrees_at_the_precision_it_is_written_with(derivation):
    exact_h1 = reference()["forward"]["h1"]  # 0.58175937...
    assert round(exact_h1, 4) == 0.5818
    found = marks(derivation, {"forward": {"h1": "0.5818", "z1": "0.33"}})  # z1 is 0.33 exactly: 0.3300
    assert {m.status for m in found.values()} == {"correct"}
    # h2 = 0.6434: 0.6 is right at its one decimal but not at the four a question asks for
    assert marks(derivation, {"forward": {"h2": "0.6"}})["forward.h2"].status == "wrong"
    assert marks(derivation, {"forward": {"h2": "0.6"}}, decimals=1)["forward.h2"].status == "correct"
    assert marks(derivation, {"forward": {"h1": "0.5817"}})["forward.h1"].status == "wrong"
    assert marks(derivation, {"forward": {"h1": "0.58170"}})["forward.h1"].status == "wrong"


def test_an_explicit_tolerance_replaces_the_written_precision(derivation):
    assert marks(derivation, {"forward": {"h1": "0.5817"}}, tolerance=1e-3)["forward.h1"].status == "correct"
    assert marks(derivation, {"forward": {"h1": "0.58"}}, tolerance=1e-4)["forward.h1"].status == "wrong"
    with pytest.raises(AnswersError, match=r"^--tolerance: must be a positive number, got -1$"):
        marks(derivation, {"forward": {"h1": "0.58"}}, tolerance=-1.0)


def test_a_fully_correct_sheet_at_four_decimals_passes(derivation):
    marking = check.check(derivation, student_sheet.from_mapping(written_sheet(reference(), 4)))
    assert marking.ok and {m.status for m in marking.marks} == {"correct"}
    assert len(marking.marks) == 6 + 1 + 3 + 9 + 9


def test_a_sheet_worked_with_four_decimal_intermediates_passes(derivation):
    marking = check.check(derivation, student_sheet.from_mapping(written_sheet(reference(round_to=4), 4)))
    assert marking.ok
    for m in marking.marks:
        if m.status == "carried_forward":
            assert m.diagnosis.startswith("follows from your rounded")


def test_one_early_error_is_the_root_cause_and_the_rest_is_carried_forward(derivation):
    # z1 copied wrong as 0.35; everything after it worked correctly from 0.35
    z1 = 0.35
    h1 = sigmoid(z1)
    h2 = sigmoid(W["w21"] * X1 + W["w22"] * X2 + W["b2"])
    z3 = W["w31"] * h1 + W["w32"] * h2 + W["b3"]
    y = sigmoid(z3)
    d3 = (y - T) * y * (1 - y)
    d1 = d3 * W["w31"] * h1 * (1 - h1)
    raw = {"forward": {"z1": "0.35", "h1": f"{h1:.4f}", "h2": f"{h2:.4f}", "z3": f"{z3:.4f}", "y": f"{y:.4f}"},
           "loss": f"{0.5 * (y - T) ** 2:.5f}", "deltas": {"delta3": f"{d3:.5f}", "delta1": f"{d1:.6f}"},
           "gradients": {"w11": f"{d1 * X1:.6f}", "w31": f"{d3 * h1:.5f}"},
           "updated": {"w31": f"{W['w31'] - ETA * d3 * h1:.5f}"}}  # fmt: skip
    marking = check.check(derivation, student_sheet.from_mapping(raw))
    status = {m.name: m.status for m in marking.marks}
    assert status.pop("forward.z1") == "wrong" and status.pop("forward.h2") == "correct"
    assert set(status.values()) == {"carried_forward"}, status
    assert marking.root_cause.name == "forward.z1" and not marking.ok
    by_name = {m.name: m for m in marking.marks}
    assert by_name["forward.h1"].diagnosis == "follows from your z1"
    assert by_name["gradients.w31"].diagnosis == "follows from your h1, delta3"


def test_a_later_value_built_from_an_unwritten_wrong_step_is_wrong(derivation):
    # h1 correct but z3 from a wrong h2 the student did not write down: nothing to carry forward from
    found = marks(derivation, {"forward": {"h1": "0.5818", "z3": "1.1000"}})
    assert found["forward.z3"].status == "wrong"


def test_unknown_quantity_names_list_the_valid_ones(derivation):
    with pytest.raises(AnswersError) as info:
        marks(derivation, {"forward": {"y1": "0.1"}})
    assert str(info.value) == ("answers: forward.y1: no quantity named 'y1' (did you mean 'forward.y'?); "
                               "forward names: z1, z2, h1, h2, z3, y")  # fmt: skip
    with pytest.raises(AnswersError, match=r"gradients.w99: no quantity named 'w99'.*gradients names: w11, w12, "):
        marks(derivation, {"gradients": {"w99": "0.1"}})
    with pytest.raises(AnswersError, match=r"^answers: gradient: unknown section \(did you mean 'gradients'\?\); valid: "):
        student_sheet.from_mapping({"gradient": {"w11": "0.1"}})


def test_malformed_answers_are_refused():
    with pytest.raises(AnswersError, match=r"^answers: gradients.w11: must be one number"):
        student_sheet.from_mapping({"gradients": {"w11": [0.33, 0.35]}})  # a batch's gradient is one mean
    with pytest.raises(AnswersError, match=r"^answers: forward.z1\[2\]: must be one number"):
        student_sheet.from_mapping({"forward": {"z1": [0.33, [0.35]]}})
    with pytest.raises(AnswersError, match=r"^answers: forward\[1\]: must map names to numbers, one mapping per"):
        student_sheet.from_mapping({"forward": [0.33]})
    with pytest.raises(AnswersError, match=r"^answers: forward: must map names to numbers"):
        student_sheet.from_mapping({"forward": 0.33})
    with pytest.raises(AnswersError, match=r"^answers: no values given"):
        student_sheet.from_mapping({"forward": {"z1": None}, "loss": None})


def test_a_spec_without_an_example_is_refused():
    spec = api.build_spec(layers=[1, 1], loss="half_squared_error", parameters={"w11": 0.5, "b1": 0.0})
    with pytest.raises(AnswersError, match=r"^spec: check needs the example the sheet works: give the spec inputs"):
        check.check(api.derive(spec), student_sheet.from_mapping({"loss": "0.1"}))


@pytest.mark.parametrize(("name", "content"), [
    ("a.yaml", "forward:\n  h1: 0.58180\n  z2: ~\nloss: 0.0097\n"),
    ("a.json", '{"forward": {"h1": 0.58180, "z2": null}, "loss": 0.0097}'),
    ("a.toml", "loss = 0.0097\n[forward]\nh1 = 0.58180\n"),
])  # fmt: skip
def test_files_keep_the_written_precision(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    answers = student_sheet.load(path)
    assert answers == {"forward.h1": student_sheet.Written("0.58180", 0.5818, 5), "loss": student_sheet.Written("0.0097", 0.0097, 4)}


def test_unreadable_answers_files(tmp_path):
    with pytest.raises(InputFileError, match=r"no such file"):
        student_sheet.load(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("forward: {z1: 0.33\n")
    with pytest.raises(InputFileError, match=r"bad.yaml:\d+: invalid YAML"):
        student_sheet.load(tmp_path / "bad.yaml")
    (tmp_path / "twice.yaml").write_text("loss: 0.1\nloss: 0.2\n")
    with pytest.raises(AnswersError, match=r"twice.yaml:2: loss: given twice \(first on line 1\)$"):
        student_sheet.load(tmp_path / "twice.yaml")


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_exit_0_for_a_correct_sheet(tmp_path, capsys):
    path = tmp_path / "answers.json"
    path.write_text(re.sub(r'"(-?[0-9.]+)"', r"\1", json.dumps(written_sheet(reference(), 4))))  # numbers, not text
    code, out, err = run_cli(capsys, "check", str(SEED), str(path))
    assert (code, err) == (0, "")
    assert "28 correct, 0 carried forward, 0 wrong" in out and "\033[" not in out


def test_cli_exit_1_and_the_root_cause_for_the_example_sheet(capsys):
    code, out, _ = run_cli(capsys, "check", str(SEED), str(SEED_ANSWERS))
    assert code == 1
    assert "First wrong step: delta3 = 0.1391" in out and "ŷ·(1 − ŷ) was left out in the output layer" in out
    code, out, _ = run_cli(capsys, "check", str(SEED), str(SEED_ANSWERS), "--json")
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    assert report["root_cause"]["name"] == "deltas.delta3"
    entry = next(q for q in report["quantities"] if q["name"] == "deltas.delta3")
    assert set(entry) >= {"name", "given", "expected", "status", "diagnosis"}
    assert entry["status"] == "wrong" and entry["given"] == 0.1391 and entry["mistakes"] == ["derivative_left_out"]
    statuses = {q["name"]: q["status"] for q in report["quantities"]}
    assert all(statuses[n] == "carried_forward" for n in ("deltas.delta1", "gradients.w31", "updated.w11"))


def test_cli_exit_2_for_bad_input(tmp_path, capsys):
    path = tmp_path / "answers.yaml"
    path.write_text("forward: {zz1: 0.5}\n")
    code, out, err = run_cli(capsys, "check", str(SEED), str(path))
    assert (code, out) == (2, "")
    assert err == (f"symbackprop: error: {path}: forward.zz1: no quantity named 'zz1' (did you mean 'forward.z1'?); "
                   "forward names: z1, z2, h1, h2, z3, y\n")  # fmt: skip
    code, _, err = run_cli(capsys, "check", str(SEED), str(tmp_path / "none.yaml"))
    assert code == 2 and err.count("\n") == 1
    code, _, err = run_cli(capsys, "check", str(SEED), str(SEED_ANSWERS), "--tolerance", "0")
    assert code == 2 and "--tolerance: must be a positive number" in err


def test_cli_colour_only_on_a_terminal_without_no_color(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    _, out, _ = run_cli(capsys, "check", str(SEED), str(SEED_ANSWERS))
    assert "\033[31mwrong" in out
    monkeypatch.setenv("NO_COLOR", "1")
    _, out, _ = run_cli(capsys, "check", str(SEED), str(SEED_ANSWERS))
    assert "\033[" not in out


def test_solve_json_checked_against_itself_is_all_correct(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "solve", str(SEED), "--json")
    path = tmp_path / "solved.json"
    path.write_text(out)
    code, out, _ = run_cli(capsys, "check", str(SEED), str(path), "--json")
    report = json.loads(out)
    assert code == 0 and report["counts"] == {"correct": 28, "wrong": 0, "carried_forward": 0}


def test_too_few_digits_are_not_diagnosed(derivation):
    found = marks(derivation, {"forward": {"z3": "1.1"}})["forward.z3"]
    assert (found.status, found.diagnosis) == ("wrong", "too few digits to tell which mistake this is; write more decimals")


def test_the_classifier_with_cross_entropy_diagnoses_a_flipped_sign():
    derivation = api.derive(spec.load(ROOT / "examples" / "classifier_2_1_1.yaml"))
    h1 = sigmoid(0.15 * 1.0 - 0.25 * 2.0 + 0.1)
    y = sigmoid(0.8 * h1 - 0.3)
    found = marks(derivation, {"forward": {"y": f"{y:.6f}"}, "deltas": {"delta2": f"{1 - y:.6f}"}})
    assert found["forward.y"].status == "correct"
    # (t − ŷ) for (ŷ − t) is also ŷ − t with its minus lost: both are named, the working first, neither as fact
    delta = found["deltas.delta2"]
    assert delta.mistakes == ("sign_flipped", "minus_lost") and not delta.certain
    assert delta.diagnosis.startswith("consistent with: the sign of ∂L/∂ŷ is flipped; or the sign was lost")


@pytest.mark.parametrize("keys", [
    dict(layers=[2, 3, 2], activation=["relu", "softmax"], loss="cross_entropy", targets=[0, 1]),
    dict(layers=[2, 2, 1], activation=["tanh", "linear"], loss="mse", naming="layer", bias="per_layer", targets=[0.3]),
    dict(layers=[2, 2, 1], activation="sigmoid", loss="squared_error", naming="sequential", frozen=["w1"], targets=[1]),
    dict(layers=[2, 1], activation="leaky_relu", loss="half_squared_error", rename={"w12": "w11"}, targets=[2.0]),
])  # fmt: skip
def test_other_networks_check_their_own_solution_and_mark_a_changed_value(tmp_path, capsys, keys):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps({"inputs": [0.4, -0.7], "init": {"seed": 3}, **keys}))
    _, out, _ = run_cli(capsys, "solve", str(path), "--json")
    solved = json.loads(out)
    answers = tmp_path / "answers.json"
    answers.write_text(out)
    code, out, _ = run_cli(capsys, "check", str(path), str(answers), "--json")
    assert code == 0 and json.loads(out)["counts"]["wrong"] == 0
    name, value = next(iter(solved["gradients"].items()))
    solved["gradients"][name] = value + 0.5
    answers.write_text(json.dumps(solved))
    code, out, _ = run_cli(capsys, "check", str(path), str(answers), "--json")
    report = json.loads(out)
    assert code == 1 and report["root_cause"]["name"] == f"gradients.{name}"
    wrong = [q["name"] for q in report["quantities"] if q["status"] != "correct"]
    assert wrong == [f"gradients.{name}"]
