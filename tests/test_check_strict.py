"""The checker never passes wrong work: a ReLU kink, coarse values, no update, an all-zero sheet.

Every expected number is worked by hand below in plain Python, never taken from the engine.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import EXAMPLES

from symbackprop import api, check, cli, spec, student_sheet

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "examples" / "seed_2_2_1.yaml"
ETA = 0.1
NAMES = ("w11", "w12", "b1", "w21", "w22", "b2", "w31", "w32", "b3")
SEED_PARAMETERS = dict(w11=0.4, w12=0.3, b1=0.1, w21=0.6, w22=0.9, b2=0.2, w31=0.5, w32=0.7, b3=0.3)
RELU_PARAMETERS = dict(w11=0.4, w12=-0.8, b1=0.0, w21=0.3, w22=0.6, b2=0.1, w31=0.9, w32=-0.7, b3=0.2)
RELU_SPEC = dict(layers=[2, 2, 1], activation=["relu", "sigmoid"], loss="half_squared_error", learning_rate=ETA,
                 inputs=[0.5, 0.25], targets=[1], parameters=RELU_PARAMETERS)  # fmt: skip


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def worked(x: tuple[float, float], t: float, p: dict[str, float], hidden: str) -> dict:
    """A 2-2-1 network with a sigmoid output and ½ squared error, by hand; `hidden` is sigmoid or relu.

    ReLU's derivative at the kink is 0: ReLU'(z) = 1[z > 0].
    """
    f = sigmoid if hidden == "sigmoid" else (lambda z: max(z, 0.0))
    df = (lambda z, h: h * (1 - h)) if hidden == "sigmoid" else (lambda z, h: 1.0 if z > 0 else 0.0)
    z1 = p["w11"] * x[0] + p["w12"] * x[1] + p["b1"]
    z2 = p["w21"] * x[0] + p["w22"] * x[1] + p["b2"]
    h1, h2 = f(z1), f(z2)
    z3 = p["w31"] * h1 + p["w32"] * h2 + p["b3"]
    y = sigmoid(z3)
    d3 = (y - t) * y * (1 - y)
    d1, d2 = d3 * p["w31"] * df(z1, h1), d3 * p["w32"] * df(z2, h2)
    g = dict(w11=d1 * x[0], w12=d1 * x[1], b1=d1, w21=d2 * x[0], w22=d2 * x[1], b2=d2, w31=d3 * h1, w32=d3 * h2, b3=d3)
    return {
        "forward": {"z1": z1, "z2": z2, "h1": h1, "h2": h2, "z3": z3, "y": y},
        "loss": 0.5 * (y - t) ** 2,
        "deltas": {"delta3": d3, "delta1": d1, "delta2": d2},
        "gradients": g,
        "updated": {n: p[n] - ETA * v for n, v in g.items()},
    }


SEED_VALUES = worked((0.5, 0.1), 0.6, SEED_PARAMETERS, "sigmoid")
RELU_VALUES = worked((0.5, 0.25), 1.0, RELU_PARAMETERS, "relu")


def written(values: dict, decimals: int) -> dict:
    text = lambda v: f"{v + 0.0:.{decimals}f}"  # noqa: E731  (+ 0.0: a student writes 0.0000, not -0.0000)
    return {s: text(c) if s == "loss" else {n: text(v) for n, v in c.items()} for s, c in values.items()}


@pytest.fixture(scope="module")
def relu_spec(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "relu.json"
    path.write_text(json.dumps(RELU_SPEC))
    return path


def run_check(tmp_path: Path, capsys, spec_path: Path, answers: dict) -> tuple[int, dict]:
    """`symbackprop check --json` on `answers` (values as text, so their written digits count)."""
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers))
    code = cli.main(["check", str(spec_path), str(path), "--json"])
    out, err = capsys.readouterr()
    assert err == ""
    return code, json.loads(out)


def statuses(report: dict) -> dict[str, str]:
    return {q["name"]: q["status"] for q in report["quantities"]}


def test_the_relu_spec_puts_z1_exactly_on_the_kink():
    assert RELU_VALUES["forward"]["z1"] == 0.0
    assert f"{RELU_VALUES['deltas']['delta3']:.4f}" == "-0.1298"
    assert RELU_VALUES["deltas"]["delta1"] == 0.0  # ReLU'(0) = 0
    assert f"{RELU_VALUES['deltas']['delta3'] * RELU_PARAMETERS['w31']:.4f}" == "-0.1168"  # ReLU'(0) taken as 1


@pytest.mark.parametrize("delta1", ["-0.1168", "-0.0584", "-0.0100", "0.0500", "0.1000"])
def test_a_z_written_on_the_relu_kink_does_not_license_either_side(tmp_path, capsys, relu_spec, delta1):
    answers = {"forward": {"z1": "0.0000"}, "deltas": {"delta3": "-0.1298", "delta1": delta1}}
    code, report = run_check(tmp_path, capsys, relu_spec, answers)
    assert code == 1 and report["ok"] is False
    assert report["root_cause"]["name"] == "deltas.delta1"
    assert statuses(report) == {"forward.z1": "correct", "deltas.delta3": "correct", "deltas.delta1": "wrong"}


@pytest.mark.parametrize(("slope", "written"), [(1.0, "1"), (0.5, "½")])
def test_relu_derivative_taken_as_1_or_half_at_the_kink_is_diagnosed(tmp_path, capsys, relu_spec, slope, written):
    delta1 = f"{RELU_VALUES['deltas']['delta3'] * RELU_PARAMETERS['w31'] * slope:.4f}"  # by hand, f'(0) = slope
    answers = {"forward": {"z1": "0.0000"}, "deltas": {"delta3": "-0.1298", "delta1": delta1}}
    _, report = run_check(tmp_path, capsys, relu_spec, answers)
    mark = {q["name"]: q for q in report["quantities"]}["deltas.delta1"]
    assert mark["mistakes"][0] == "kink_derivative"
    assert mark["diagnosis"].split("; or ")[0].removeprefix("consistent with: ") == (
        f"ReLU′(0) was taken as {written} at a z of exactly 0 in hidden layer 1; the convention here is ReLU′(0) = 0")


def test_two_explanations_of_one_value_are_both_given_not_one_as_fact(tmp_path, capsys):
    # by hand: z2 = 0.6·0.5 + 0.9·0.1 + 0.2 = 0.59; with x1 for x2, 0.6·0.5 + 0.9·0.5 + 0.2 = 0.95: digits swapped too
    sheet = {"forward": {"z1": "0.3300", "z2": "0.9500"}}
    code, report = run_check(tmp_path, capsys, EXAMPLES / "seed_2_2_1.yaml", sheet)
    mark = {q["name"]: q for q in report["quantities"]}["forward.z2"]
    assert code == 1 and mark["status"] == "wrong" and mark["certain"] is False
    assert mark["mistakes"] == ["wrong_value_used", "digits_swapped"]
    assert mark["diagnosis"] == ("consistent with: x1 was used instead of x2 in z2; or two digits were swapped: "
                                 "0.9500 for 0.5900")


@pytest.mark.parametrize("decimals", [4, 6])
def test_a_correct_relu_sheet_passes(tmp_path, capsys, relu_spec, decimals):
    code, report = run_check(tmp_path, capsys, relu_spec, written(RELU_VALUES, decimals))
    assert code == 0 and set(statuses(report).values()) == {"correct"}
    assert report["counts"]["correct"] == 6 + 1 + 3 + 9 + 9


@pytest.mark.parametrize("decimals", [4, 6])
def test_a_correct_seed_sheet_passes(tmp_path, capsys, decimals):
    code, report = run_check(tmp_path, capsys, SEED, written(SEED_VALUES, decimals))
    assert code == 0 and set(statuses(report).values()) == {"correct"}
    assert report["counts"]["correct"] == 6 + 1 + 3 + 9 + 9


@pytest.mark.parametrize(("answers", "root"), [
    ({"forward": {"z1": "0.33", "h1": "0.58"}}, "forward.h1"),
    ({"deltas": {"delta3": "0.03"}}, "deltas.delta3"),
    ({"gradients": {"w31": "0.01"}}, "gradients.w31"),
    ({"forward": {"z1": "0.33", "h1": "0.58"}, "deltas": {"delta3": "0.03"}, "gradients": {"w31": "0.01"}},
     "forward.h1"),
])  # fmt: skip
def test_two_decimal_values_are_not_right_or_carried_forward(tmp_path, capsys, answers, root):
    assert f"{SEED_VALUES['forward']['h1']:.4f}" == "0.5818" and f"{SEED_VALUES['deltas']['delta3']:.4f}" == "0.0268"
    assert f"{SEED_VALUES['gradients']['w31']:.4f}" == "0.0156"
    code, report = run_check(tmp_path, capsys, SEED, answers)
    assert code == 1 and report["root_cause"]["name"] == root
    assert statuses(report)[root] == "wrong"
    assert report["root_cause"]["diagnosis"] == "too few digits to tell which mistake this is; write more decimals"


def test_a_two_decimal_value_that_is_exact_is_right(tmp_path, capsys):
    assert SEED_VALUES["forward"]["z1"] == pytest.approx(0.33, abs=1e-12)  # 0.33 is 0.3300
    code, report = run_check(tmp_path, capsys, SEED, {"forward": {"z1": "0.33"}})
    assert code == 0 and statuses(report) == {"forward.z1": "correct"}


@pytest.mark.parametrize("w31", ["0.5", "0.50", "0.5000"])
def test_an_update_that_changes_nothing_is_wrong(tmp_path, capsys, w31):
    assert f"{SEED_VALUES['updated']['w31']:.4f}" == "0.4984"
    code, report = run_check(tmp_path, capsys, SEED, {"updated": {"w31": w31}})
    assert code == 1 and report["root_cause"]["name"] == "updated.w31"


def test_a_sheet_of_old_weights_as_the_update_is_wrong(tmp_path, capsys):
    answers = {"updated": {n: f"{SEED_PARAMETERS[n]:.4f}" for n in NAMES}}
    code, report = run_check(tmp_path, capsys, SEED, answers)
    assert code == 1 and report["root_cause"]["name"] == "updated.w11"
    # w12 and w22 move by less than 0.00005, so their old values are right at four decimals
    moved = {n: f"{SEED_VALUES['updated'][n]:.4f}" != f"{SEED_PARAMETERS[n]:.4f}" for n in NAMES}
    assert [n for n in NAMES if not moved[n]] == ["w12", "w22"]
    assert statuses(report) == {f"updated.{n}": "wrong" if moved[n] else "correct" for n in NAMES}


@pytest.mark.parametrize("zero", ["0", "0.0000"])
def test_an_all_zero_sheet_is_wrong(tmp_path, capsys, zero):
    answers = {s: zero if s == "loss" else {n: zero for n in c} for s, c in SEED_VALUES.items()}
    code, report = run_check(tmp_path, capsys, SEED, answers)
    assert code == 1 and report["root_cause"]["name"] == "forward.z1"
    assert report["counts"]["correct"] == 0
    assert all(statuses(report)[f"updated.{n}"] == "wrong" for n in NAMES)  # w − η·0 is not 0


def test_an_error_worked_onwards_at_four_decimals_is_still_carried_forward(tmp_path, capsys):
    # z1 copied as 0.35; each later value worked from the student's own values as written, rounded to 4 decimals
    p, r = SEED_PARAMETERS, (lambda v: round(v, 4))  # noqa: E731
    h1, h2 = r(sigmoid(0.35)), r(SEED_VALUES["forward"]["h2"])
    z3 = r(p["w31"] * h1 + p["w32"] * h2 + p["b3"])
    y = r(sigmoid(z3))
    d3 = r((y - 0.6) * y * (1 - y))
    d1 = r(d3 * p["w31"] * h1 * (1 - h1))
    w31 = r(d3 * h1)
    answers = {"forward": {"z1": "0.35", "h1": f"{h1:.4f}", "h2": f"{h2:.4f}", "z3": f"{z3:.4f}", "y": f"{y:.4f}"},
               "deltas": {"delta3": f"{d3:.4f}", "delta1": f"{d1:.4f}"},
               "gradients": {"w11": f"{r(d1 * 0.5):.4f}", "w31": f"{w31:.4f}"},
               "updated": {"w31": f"{r(p['w31'] - ETA * w31):.4f}"}}  # fmt: skip
    code, report = run_check(tmp_path, capsys, SEED, answers)
    found = statuses(report)
    assert code == 1 and report["root_cause"]["name"] == "forward.z1"
    assert found.pop("forward.z1") == "wrong" and found.pop("forward.h2") == "correct"
    # a value that comes out the same at four decimals as the exact one (δ1 here) is simply right
    exact = {f"{s}.{n}": v for s, c in SEED_VALUES.items() if s != "loss" for n, v in c.items()}
    right = {n for n in found if abs(float(answers[n.split(".")[0]][n.split(".")[1]]) - exact[n]) <= 0.5e-4}
    assert right == {"deltas.delta1", "gradients.w11", "updated.w31"}
    assert found == {n: "correct" if n in right else "carried_forward" for n in found}


def test_the_precision_asked_for_is_an_option():
    derivation = api.derive(spec.load(SEED))
    answers = student_sheet.from_mapping({"forward": {"h1": "0.58"}})
    assert check.check(derivation, answers).marks[0].status == "wrong"
    assert check.check(derivation, answers, decimals=2).marks[0].status == "correct"
    assert check.check(derivation, answers, tolerance=0.005).marks[0].status == "correct"


def test_the_cli_asks_for_the_precision_given(tmp_path, capsys):
    sheet = tmp_path / "coarse.yaml"
    sheet.write_text("forward: {z1: 0.33, h1: 0.58}\n")  # by hand: z1 = 0.33 exactly, h1 = σ(0.33) = 0.581759…
    seed = str(EXAMPLES / "seed_2_2_1.yaml")
    assert cli.main(["check", seed, str(sheet)]) == 1  # four decimals asked by default: 0.58 says too little
    assert cli.main(["check", seed, str(sheet), "--decimals", "2"]) == 0  # two asked: 0.58 is h1 rounded
    capsys.readouterr()


def test_truncated_digits_are_named_not_blamed_on_another_mistake(tmp_path, capsys):
    # by hand: h1 = σ(0.33) = 0.5817594 → 0.5818 rounded, 0.5817 cut; δ1 = 0.0032629 → 0.0033 rounded, 0.0032 cut
    assert f"{SEED_VALUES['forward']['h1']:.4f}" == "0.5818" and f"{SEED_VALUES['deltas']['delta1']:.4f}" == "0.0033"
    sheet = {"forward": {"h1": "0.5817"}, "deltas": {"delta3": f"{SEED_VALUES['deltas']['delta3']:.4f}", "delta1": "0.0032"}}
    code, report = run_check(tmp_path, capsys, EXAMPLES / "seed_2_2_1.yaml", sheet)
    assert code == 1
    marks = {q["name"]: q for q in report["quantities"]}
    assert marks["forward.h1"]["status"] == marks["deltas.delta1"]["status"] == "wrong"
    assert marks["forward.h1"]["mistakes"] == marks["deltas.delta1"]["mistakes"] == ["truncated"]
    assert marks["deltas.delta3"]["status"] == "correct"  # 0.02682 cuts and rounds alike: nothing to blame
    assert report["root_cause"]["name"] == "forward.h1"


def test_a_rounded_value_is_not_called_truncated(tmp_path, capsys):
    code, report = run_check(tmp_path, capsys, EXAMPLES / "seed_2_2_1.yaml", written(SEED_VALUES, 4))
    assert code == 0 and all(q.get("mistakes") in (None, []) for q in report["quantities"])
