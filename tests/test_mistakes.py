"""Each catalogued mistake, injected into the seeds' 2-2-1 example by an independent hand calculation."""

from __future__ import annotations

import math
import random
import re
from pathlib import Path

import pytest

from symbackprop import api, check, mistakes, student_sheet

SPEC = dict(
    layers=[2, 2, 1], activation="sigmoid", loss="half_squared_error", learning_rate=0.1,
    inputs=[0.5, 0.1], targets=[0.6],
    parameters=dict(w11=0.4, w12=0.3, w21=0.6, w22=0.9, w31=0.5, w32=0.7, b1=0.1, b2=0.2, b3=0.3),
)  # fmt: skip
X1, X2, T, ETA = 0.5, 0.1, 0.6, 0.1
P = SPEC["parameters"]
DERIVATIVES = {
    "right": lambda z, a: a * (1 - a),
    "left_out": lambda z, a: 1.0,
    "sigma": lambda z, a: a,
    "at_z": lambda z, a: z * (1 - z),
}


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


def worked(*, half=0.5, sign=1.0, output_derivative="right", hidden_derivative="right", z1_inputs=(X1, X2),
           w31_source="h1", delta1_weight="original", update="descent", round_to=None) -> dict:  # fmt: skip
    """The seeds' example worked by hand in plain Python, with one slip chosen by the keywords."""
    r = (lambda v: round(v, round_to)) if round_to is not None else (lambda v: v)
    z1 = r(P["w11"] * z1_inputs[0] + P["w12"] * z1_inputs[1] + P["b1"])
    z2 = r(P["w21"] * X1 + P["w22"] * X2 + P["b2"])
    h1, h2 = r(sigmoid(z1)), r(sigmoid(z2))
    z3 = r(P["w31"] * h1 + P["w32"] * h2 + P["b3"])
    y = r(sigmoid(z3))
    loss = r(half * (y - T) ** 2)
    delta3 = r(sign * 2 * half * (y - T) * DERIVATIVES[output_derivative](z3, y))
    g = {"w31": r(delta3 * (z1 if w31_source == "z1" else h1)), "w32": r(delta3 * h2), "b3": delta3}
    w31 = P["w31"] - ETA * g["w31"] if delta1_weight == "updated" else P["w31"]
    delta1 = r(delta3 * w31 * DERIVATIVES[hidden_derivative](z1, h1))
    delta2 = r(delta3 * P["w32"] * DERIVATIVES[hidden_derivative](z2, h2))
    g |= {"w11": r(delta1 * X1), "w12": r(delta1 * X2), "b1": delta1, "w21": r(delta2 * X1), "w22": r(delta2 * X2), "b2": delta2}
    step = {"descent": lambda p, d: p - ETA * d, "ascent": lambda p, d: p + ETA * d, "no_eta": lambda p, d: p - d}[update]
    return {
        "forward": {"z1": z1, "z2": z2, "h1": h1, "h2": h2, "z3": z3, "y": y},
        "loss": loss,
        "deltas": {"delta3": delta3, "delta1": delta1, "delta2": delta2},
        "gradients": g,
        "updated": {name: step(P[name], value) for name, value in g.items()},
    }


def sheet(values: dict, decimals: int, *, only: tuple[str, ...] | None = None) -> dict:
    """Values written as text with `decimals` places, as a student writes them."""
    text = lambda v: f"{v:.{decimals}f}"  # noqa: E731
    result = {}
    for section, content in values.items():
        if only is not None and section not in only:
            continue
        result[section] = text(content) if section == "loss" else {n: text(v) for n, v in content.items()}
    return result


@pytest.fixture(scope="module")
def derivation():
    return api.derive(api.build_spec(**SPEC))


def mark(derivation, values: dict, decimals: int = 6, **options) -> check.Marking:
    return check.check(derivation, student_sheet.from_mapping(sheet(values, decimals, **options)))


def wrong(marking: check.Marking) -> set[str]:
    return {m.name for m in marking.marks if m.status == "wrong"}


CASES = [
    # (slip, the quantities it makes wrong, the kind the checker must name)
    (dict(half=1.0), {"loss", "deltas.delta3"}, "half_dropped"),
    (dict(sign=-1.0), {"deltas.delta3"}, "sign_flipped"),
    (dict(output_derivative="left_out"), {"deltas.delta3"}, "derivative_left_out"),
    (dict(hidden_derivative="left_out"), {"deltas.delta1", "deltas.delta2"}, "derivative_left_out"),
    (dict(output_derivative="sigma"), {"deltas.delta3"}, "activation_for_derivative"),
    (dict(hidden_derivative="sigma"), {"deltas.delta1", "deltas.delta2"}, "activation_for_derivative"),
    (dict(output_derivative="at_z"), {"deltas.delta3"}, "derivative_at_z"),
    (dict(z1_inputs=(X1, X1)), {"forward.z1"}, "wrong_value_used"),
    (dict(w31_source="z1"), {"gradients.w31"}, "wrong_value_used"),
    (dict(delta1_weight="updated"), {"deltas.delta1"}, "updated_weights_used"),
    (dict(update="ascent"), {f"updated.{p}" for p in P}, "gradient_ascent"),
    (dict(update="no_eta"), {f"updated.{p}" for p in P}, "learning_rate_left_out"),
]


@pytest.mark.parametrize(("slip", "affected", "kind"), CASES, ids=[c[2] + "-" + str(c[0]) for c in CASES])
def test_each_mistake_marks_exactly_the_affected_quantities_and_is_named(derivation, slip, affected, kind):
    marking = mark(derivation, worked(**slip))
    assert wrong(marking) == affected
    for m in marking.marks:
        if m.name in affected:
            assert kind in m.mistakes, (m.name, m.diagnosis)
        else:
            assert m.status in ("correct", "carried_forward"), (m.name, m.status, m.diagnosis)
    assert marking.root_cause is not None and marking.root_cause.name == next(iter(
        n for n in [m.name for m in marking.marks] if n in affected))  # fmt: skip


def test_later_quantities_after_a_mistake_are_carried_forward(derivation):
    marking = mark(derivation, worked(sign=-1.0))
    status = {m.name: m.status for m in marking.marks}
    assert {status[n] for n in ("deltas.delta1", "gradients.w11", "gradients.w31", "updated.w31")} == {"carried_forward"}
    assert status["forward.y"] == "correct"
    assert "delta3" in next(m for m in marking.marks if m.name == "deltas.delta1").diagnosis


def test_the_diagnosis_names_the_values_involved(derivation):
    by_name = {m.name: m for m in mark(derivation, worked(z1_inputs=(X1, X1))).marks}
    assert by_name["forward.z1"].diagnosis == "x1 was used instead of x2 in z1"
    by_name = {m.name: m for m in mark(derivation, worked(w31_source="z1")).marks}
    assert by_name["gradients.w31"].diagnosis == "z1 was used instead of h1 in ∂L/∂w31"
    by_name = {m.name: m for m in mark(derivation, worked(output_derivative="left_out")).marks}
    assert "ŷ·(1 − ŷ) was left out in the output layer" in by_name["deltas.delta3"].diagnosis


def test_half_dropped_is_found_without_intermediate_values(derivation):
    marking = mark(derivation, worked(half=1.0), only=("gradients",))
    assert wrong(marking) == {f"gradients.{p}" for p in P}
    assert all(m.mistakes == ("half_dropped",) for m in marking.marks)


def test_activation_derivative_left_out_everywhere_is_found_from_the_gradients_alone(derivation):
    marking = mark(derivation, worked(output_derivative="left_out", hidden_derivative="left_out"), only=("gradients",))
    w11 = next(m for m in marking.marks if m.name == "gradients.w11")
    assert w11.mistakes == ("derivative_left_out",) and "in every layer" in w11.diagnosis


def test_intermediate_rounding_says_how_many_digits(derivation):
    # every intermediate rounded to 2 decimals, the final products written with 6
    rounded = worked(round_to=2)
    f, d = rounded["forward"], rounded["deltas"]
    gradients = {"w31": d["delta3"] * f["h1"], "w32": d["delta3"] * f["h2"], "b3": d["delta3"],
                 "w11": d["delta1"] * X1, "w12": d["delta1"] * X2, "b1": d["delta1"],
                 "w21": d["delta2"] * X1, "w22": d["delta2"] * X2, "b2": d["delta2"]}  # fmt: skip
    exact = worked()["gradients"]
    marking = mark(derivation, {"gradients": gradients})
    off = {f"gradients.{n}" for n, v in gradients.items() if abs(round(v, 6) - exact[n]) > 5e-7}
    assert off and wrong(marking) == off
    for m in marking.marks:
        if m.status == "wrong":
            assert "rounded_early" in m.mistakes and "rounded to 2 decimals" in m.diagnosis


def test_a_value_no_mistake_explains_says_so(derivation):
    marking = check.check(derivation, student_sheet.from_mapping({"forward": {"h1": "0.9123"}}))
    (only,) = marking.marks
    assert only.status == "wrong" and only.diagnosis == "no known mistake explains this" and only.mistakes == ()


def test_random_values_are_rarely_explained(derivation):
    # a guard against a catalogue so loose that it explains anything
    rng = random.Random(0)
    explained = 0
    for _ in range(20):
        answers = student_sheet.from_mapping({"gradients": {"w11": f"{rng.uniform(-0.05, 0.05):.6f}"}})
        explained += bool(check.check(derivation, answers).marks[0].mistakes)
    assert explained <= 1


def test_every_kind_in_the_catalogue_is_known(derivation):
    catalogue = mistakes.catalogue(mistakes.program(derivation))
    assert {m.kind for m in catalogue} <= set(mistakes.KINDS)
    not_here = {
        "half_added", "mean_forgotten",  # squared_error and mse
        "bce_factor_kept", "log10", "ce_sign_dropped",  # cross-entropy
        "sum_forgotten",  # a hidden layer before two or more neurons
        "kink_derivative",  # ReLU
        "batch_sum", "batch_divided_twice", "batch_one_example",  # a batch
        "truncated", "digits_swapped", "decimal_point_moved", "minus_lost", "wrong_row",  # read from the digits
    }  # fmt: skip
    assert {m.kind for m in catalogue} == set(mistakes.KINDS) - not_here


def test_half_added_to_a_plain_squared_error():
    spec = api.build_spec(**{**SPEC, "loss": "squared_error"})
    derivation = api.derive(spec)
    values = worked(half=0.5)  # ½(ŷ − t)² where (ŷ − t)² was asked for
    marking = mark(derivation, values, only=("forward", "loss", "deltas"))
    assert wrong(marking) == {"loss", "deltas.delta3"}
    assert all(m.mistakes == ("half_added",) for m in marking.marks if m.status == "wrong")


def test_the_readme_lists_every_kind_of_mistake_and_no_other():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    table = readme.split("<!-- mistakes:", 1)[1].split("<!-- end of mistakes -->", 1)[0]
    listed = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    assert sorted(listed) == sorted(mistakes.KINDS) and len(listed) == len(set(listed))
