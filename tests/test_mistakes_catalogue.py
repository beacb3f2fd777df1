"""Catalogued mistakes injected into sheets worked by hand in NumPy on three networks, written to 4 decimals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

import symbackprop as sbp
from symbackprop import check, mistakes, student_sheet

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TANH_3_2_1 = dict(
    layers=[3, 2, 1], activation="tanh", loss="half_squared_error", learning_rate=0.2,
    inputs=[0.5, -0.3, 0.8], targets=[0.25],
    parameters=dict(w11=0.2, w12=-0.4, w13=0.3, w21=0.5, w22=0.1, w23=-0.2, w31=0.6, w32=-0.7,
                    b1=0.1, b2=-0.1, b3=0.05),
)  # fmt: skip
NETWORKS = {
    "seed_2_2_1": yaml.safe_load((EXAMPLES / "seed_2_2_1.yaml").read_text()),
    "classifier_2_1_1": yaml.safe_load((EXAMPLES / "classifier_2_1_1.yaml").read_text()),
    "tanh_3_2_1": TANH_3_2_1,
}
ACTIVATIONS = {  # f(z), and f'(z) in terms of a = f(z)
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda a: a * (1 - a)),
    "tanh": (np.tanh, lambda a: 1 - a**2),
}


def worked(spec: dict, *, bias_left_out: int | None = None, wrong_weight: tuple[str, str, str] | None = None,
           bce_factor_kept: bool = False, update: str = "descent") -> dict:  # fmt: skip
    """One example worked by hand, layer by layer, with one slip chosen by the keywords.

    Args:
        bias_left_out: the number of the neuron whose z is computed without its bias.
        wrong_weight: (step, weight, used): `used` taken for `weight` in step z<n> or delta<n>.
        update: "descent" (w − η·g), "none" (w) or "eta_twice" (w − η²·g).
    """
    p, eta, sizes = spec["parameters"], spec["learning_rate"], spec["layers"]
    f, derivative = ACTIVATIONS[spec["activation"]]
    depth = len(sizes) - 1
    numbers = []  # numbers[l][j]: the neuron number of neuron j of non-input layer l + 1
    for size in sizes[1:]:
        first = sum(len(n) for n in numbers) + 1
        numbers.append(list(range(first, first + size)))

    def weight(step: str, name: str) -> float:
        return p[wrong_weight[2]] if wrong_weight is not None and wrong_weight[:2] == (step, name) else p[name]

    forward, sources = {}, [np.array(spec["inputs"], dtype=float)]
    for layer in range(depth):
        a = []
        for n in numbers[layer]:
            z = sum(weight(f"z{n}", f"w{n}{k + 1}") * s for k, s in enumerate(sources[-1]))
            z += 0.0 if bias_left_out == n else p[f"b{n}"]
            forward[f"z{n}"] = z
            a.append(f(z))
            forward["y" if layer == depth - 1 else f"h{n}"] = a[-1]
        sources.append(np.array(a))
    (y,), (t,) = sources[-1], spec["targets"]
    if spec["loss"] == "half_squared_error":
        loss, delta_out = 0.5 * (y - t) ** 2, (y - t) * derivative(y)
    else:  # binary cross-entropy with a sigmoid output: σ' cancels
        loss, delta_out = -(t * np.log(y) + (1 - t) * np.log(1 - y)), y - t
        delta_out *= derivative(y) if bce_factor_kept else 1.0
    deltas = {numbers[-1][0]: delta_out}
    for layer in range(depth - 2, -1, -1):
        for k, n in enumerate(numbers[layer]):
            after = sum(weight(f"delta{n}", f"w{i}{k + 1}") * deltas[i] for i in numbers[layer + 1])
            deltas[n] = derivative(sources[layer + 1][k]) * after
    gradients = {}
    for layer in range(depth - 1, -1, -1):
        for n in numbers[layer]:
            gradients |= {f"w{n}{k + 1}": deltas[n] * s for k, s in enumerate(sources[layer])}
            gradients[f"b{n}"] = deltas[n]
    rate = {"descent": eta, "none": 0.0, "eta_twice": eta**2}[update]
    return {
        "forward": forward,
        "loss": loss,
        "deltas": {f"delta{n}": d for n, d in deltas.items()},
        "gradients": gradients,
        "updated": {name: p[name] - rate * g for name, g in gradients.items()},
    }


def written(values: dict) -> dict:
    """Every value rounded to 4 decimals, as a student writes them."""
    text = lambda v: f"{float(v):.4f}"  # noqa: E731
    return {s: text(c) if s == "loss" else {n: text(v) for n, v in c.items()} for s, c in values.items()}


def flat(sheet: dict) -> dict:
    """Values by answers-file path: forward.z1, loss, ..."""
    paths = {"loss": sheet["loss"]}
    for section in ("forward", "deltas", "gradients", "updated"):
        paths |= {f"{section}.{name}": value for name, value in sheet[section].items()}
    return paths


@pytest.fixture(scope="module")
def derivations():
    return {name: sbp.derive(sbp.build_spec(**spec)) for name, spec in NETWORKS.items()}


CASES = [
    # (network, slip, the kind the checker must name for the first wrong value)
    ("seed_2_2_1", dict(bias_left_out=1), "bias_left_out"),
    ("seed_2_2_1", dict(bias_left_out=3), "bias_left_out"),
    ("classifier_2_1_1", dict(bias_left_out=1), "bias_left_out"),
    ("classifier_2_1_1", dict(bias_left_out=2), "bias_left_out"),
    ("tanh_3_2_1", dict(bias_left_out=2), "bias_left_out"),
    ("seed_2_2_1", dict(update="none"), "no_update"),
    ("classifier_2_1_1", dict(update="none"), "no_update"),
    ("tanh_3_2_1", dict(update="none"), "no_update"),
    ("seed_2_2_1", dict(update="eta_twice"), "learning_rate_twice"),
    ("classifier_2_1_1", dict(update="eta_twice"), "learning_rate_twice"),
    ("tanh_3_2_1", dict(update="eta_twice"), "learning_rate_twice"),
    ("seed_2_2_1", dict(wrong_weight=("z3", "w31", "w32")), "wrong_weight"),
    ("seed_2_2_1", dict(wrong_weight=("z1", "w12", "w21")), "wrong_weight"),
    ("seed_2_2_1", dict(wrong_weight=("delta1", "w31", "w32")), "wrong_weight"),
    ("classifier_2_1_1", dict(wrong_weight=("z1", "w11", "w12")), "wrong_weight"),
    ("tanh_3_2_1", dict(wrong_weight=("z2", "w21", "w12")), "wrong_weight"),
    ("tanh_3_2_1", dict(wrong_weight=("delta2", "w32", "w31")), "wrong_weight"),
    ("classifier_2_1_1", dict(bce_factor_kept=True), "bce_factor_kept"),
]


@pytest.mark.parametrize(("network", "slip", "kind"), CASES, ids=[f"{c[2]}-{c[0]}-{c[1]}" for c in CASES])
def test_the_first_wrong_value_is_found_and_the_injected_kind_named(derivations, network, slip, kind):
    sheet = written(worked(NETWORKS[network], **slip))
    marking = check.check(derivations[network], student_sheet.from_mapping(sheet))
    right = flat(written(worked(NETWORKS[network])))
    first = next(m.name for m in marking.marks if flat(sheet)[m.name] != right[m.name])  # marks are in computation order
    assert marking.root_cause is not None and marking.root_cause.name == first
    assert kind in marking.root_cause.mistakes, marking.root_cause.diagnosis


def test_the_hand_calculation_agrees_with_the_engine(derivations):
    # the oracle's own check: without a slip it gives every value the engine gives
    for network, derivation in derivations.items():
        values = flat(worked(NETWORKS[network]))
        for name, exact in check.expected_values(derivation).items():
            assert values[name] == pytest.approx(exact, abs=1e-12), (network, name)


def test_a_correct_sheet_at_4_decimals_is_all_right(derivations):
    for network, derivation in derivations.items():
        assert check.check(derivation, student_sheet.from_mapping(written(worked(NETWORKS[network])))).ok, network


def test_the_diagnoses_name_the_step_and_the_values(derivations):
    def diagnosis(network: str, **slip) -> str:
        answers = student_sheet.from_mapping(written(worked(NETWORKS[network], **slip)))
        return check.check(derivations[network], answers).root_cause.diagnosis

    assert diagnosis("seed_2_2_1", bias_left_out=3) == "the bias b3 was left out of z3"
    assert diagnosis("seed_2_2_1", wrong_weight=("z1", "w12", "w21")) == "w21 was used instead of w12 in z1"
    assert diagnosis("seed_2_2_1", wrong_weight=("delta1", "w31", "w32")) == "w32 was used instead of w31 in delta1"
    assert "ŷ − t" in diagnosis("classifier_2_1_1", bce_factor_kept=True)


def test_kinds_that_do_not_apply_are_not_in_the_catalogue(derivations):
    kinds = {name: {m.kind for m in mistakes.catalogue(mistakes.program(d))} for name, d in derivations.items()}
    assert "bce_factor_kept" in kinds["classifier_2_1_1"] and "bce_factor_kept" not in kinds["seed_2_2_1"]
    rate_one = mistakes.program(sbp.derive(sbp.build_spec(**{**TANH_3_2_1, "learning_rate": 1})))
    assert "learning_rate_twice" not in {m.kind for m in mistakes.catalogue(rate_one)}  # η² = η: nothing to tell
