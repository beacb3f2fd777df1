"""Marking a batch's sheet: each example's forward pass and δ's, the mean loss and gradients, the mistakes of means."""

from __future__ import annotations

import json
from pathlib import Path

import hand
import pytest
import yaml

import symbackprop as sbp
from symbackprop import check, cli, student_sheet
from symbackprop.errors import AnswersError

BATCH = yaml.safe_load((Path(__file__).resolve().parent.parent / "examples" / "batch_2_2_1.yaml").read_text())


def one_example(n: int) -> dict:
    example = BATCH["data"][n]
    return {**{k: v for k, v in BATCH.items() if k != "data"}, "inputs": example["inputs"], "targets": example["targets"]}


def worked(slip: dict | None = None, *, mean: str = "mean", decimals: int = 4) -> dict:
    """The batch by hand: each example worked alone (tests/hand.py), then the loss and gradients averaged."""
    each = [hand.work(one_example(n), slip)[0] for n in range(len(BATCH["data"]))]
    count = len(each)
    combine = {
        "mean": lambda values: sum(values) / count,
        "sum": sum,
        "divided_twice": lambda values: sum(values) / count**2,
        "example_2": lambda values: values[1],
    }[mean]
    text = lambda v: f"{v:.{decimals}f}"  # noqa: E731
    gradients = {name.partition(".")[2]: combine([e[name] for e in each]) for name in each[0] if name.startswith("gradients.")}
    eta = BATCH["learning_rate"]
    return {
        "forward": {name.partition(".")[2]: [text(e[name]) for e in each] for name in each[0] if name.startswith("forward.")},
        "loss": text(combine([e["loss"] for e in each])),
        "deltas": [{name.partition(".")[2]: text(e[name]) for name in e if name.startswith("deltas.")} for e in each],
        "gradients": {name: text(g) for name, g in gradients.items()},
        "updated": {name: text(BATCH["parameters"][name] - eta * g) for name, g in gradients.items()},
    }


@pytest.fixture(scope="module")
def derivation():
    return sbp.derive(sbp.build_spec(**BATCH))


def test_a_right_batch_sheet_passes_in_either_shape(derivation):
    sheet = worked()
    assert check.check(derivation, student_sheet.from_mapping(sheet)).ok
    per_example = [{name: values[n] for name, values in sheet["forward"].items()} for n in range(3)]
    assert check.check(derivation, student_sheet.from_mapping({**sheet, "forward": per_example})).ok


def test_every_quantity_of_every_example_is_marked(derivation):
    marking = check.check(derivation, student_sheet.from_mapping(worked()))
    names = [m.name for m in marking.marks]
    assert "forward.z1[3]" in names and "deltas.delta2[2]" in names and "gradients.w11" in names
    labels = {m.name: m.label for m in marking.marks}
    assert labels["forward.z1[3]"] == "z1⁽³⁾" and labels["gradients.w11"] == "∂L/∂w11"


@pytest.mark.parametrize(("mean", "kind"), [("sum", "batch_sum"), ("divided_twice", "batch_divided_twice"),
                                            ("example_2", "batch_one_example")])  # fmt: skip
def test_the_mistakes_of_a_mean_are_named(derivation, mean, kind):
    marking = check.check(derivation, student_sheet.from_mapping(worked(mean=mean, decimals=6)))
    root = marking.root_cause
    assert root.name == "loss" and root.mistakes == (kind,), root.diagnosis
    assert all(m.status == "correct" for m in marking.marks if m.name.startswith(("forward.", "deltas.")))
    wrong = [m for m in marking.marks if m.status == "wrong"]
    assert {m.name for m in wrong} == {"loss", *(f"gradients.{p}" for p in BATCH["parameters"])}
    assert all(m.mistakes == (kind,) for m in wrong), [m.diagnosis for m in wrong]
    assert all(m.status == "carried_forward" for m in marking.marks if m.name.startswith("updated."))
    if kind == "batch_one_example":
        assert "example 2" in root.diagnosis


@pytest.mark.parametrize(("slip", "kind", "first"), [
    ({"slope": {2: "left_out"}}, "derivative_left_out", "deltas.delta3[1]"),
    ({"loss_scale": 2.0}, "half_dropped", "loss"),
    ({"bias_left_out": 1}, "bias_left_out", "forward.z1[1]"),
])  # fmt: skip
def test_a_mistake_made_in_every_example_is_named(derivation, slip, kind, first):
    marking = check.check(derivation, student_sheet.from_mapping(worked(slip)))
    assert marking.root_cause.name == first and kind in marking.root_cause.mistakes, marking.root_cause.diagnosis


def test_a_batch_sheet_for_a_single_example_or_the_other_way_round_is_one_clear_error(derivation, tmp_path, capsys):
    single = sbp.derive(sbp.build_spec(**one_example(0)))
    with pytest.raises(AnswersError, match=r"forward\.z1\[1\]: one value per example was given, but the spec has one example"):
        check.check(single, student_sheet.from_mapping({"forward": {"z1": ["0.33", "0.42"]}}))
    with pytest.raises(AnswersError, match=r"forward\.z1: the spec has a batch of 3 examples: give one value per example"):
        check.check(derivation, student_sheet.from_mapping({"forward": {"z1": "0.33"}}))
    with pytest.raises(AnswersError, match=r"forward\.z1\[4\]: the spec has 3 examples; give at most one value for each"):
        check.check(derivation, student_sheet.from_mapping({"forward": {"z1": ["0.33", "0.42", "0.58", "0.1"]}}))
    with pytest.raises(AnswersError, match=r"gradients\.w11: must be one number"):
        student_sheet.from_mapping({"gradients": {"w11": ["0.1", "0.2", "0.3"]}})
    # the CLI: one line, exit 2
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"forward": {"z1": "0.33"}}))
    spec = tmp_path / "batch.yaml"
    spec.write_text(yaml.safe_dump(BATCH))
    assert cli.main(["check", str(spec), str(answers)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "batch of 3 examples" in err
