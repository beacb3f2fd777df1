"""Every catalogued mistake injected into sheets worked independently by hand (tests/hand.py).

Five networks (sigmoid 2-2-1 with ½SE, a 2-1-1 BCE classifier, a 3-2-1 tanh net, a 2-2-2 net
with two outputs and MSE, a ReLU net with a z on the kink), sheets written to 2, 3 and 4
decimals, by a student who carries the rounded values and by one who keeps every digit.
The checker must find the first wrong step, give every value the right status, name the
injected mistake (or list it among the candidates), never pass a sheet with a visible
mistake, and never state as fact a mistake that was not made.
"""

from __future__ import annotations

import random
from pathlib import Path

import hand
import pytest
import yaml

import symbackprop as sbp
from symbackprop import check, mistakes, student_sheet

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TOO_FEW_DIGITS = "too few digits to tell which mistake this is; write more decimals"
NETWORKS = {
    "seed_2_2_1": yaml.safe_load((EXAMPLES / "seed_2_2_1.yaml").read_text()),
    "classifier_2_1_1": yaml.safe_load((EXAMPLES / "classifier_2_1_1.yaml").read_text()),
    "tanh_3_2_1": dict(
        layers=[3, 2, 1], activation="tanh", loss="half_squared_error", learning_rate=0.2,
        inputs=[0.5, -0.3, 0.8], targets=[0.25],
        parameters=dict(w11=0.2, w12=-0.4, w13=0.3, w21=0.5, w22=0.1, w23=-0.2, w31=0.6, w32=-0.7, b1=0.1, b2=-0.1,
                        b3=0.05),
    ),
    "two_out_2_2_2": dict(
        layers=[2, 2, 2], activation="sigmoid", loss="mse", learning_rate=0.5, inputs=[0.35, 0.9], targets=[0.1, 0.8],
        parameters=dict(w11=0.15, w12=0.2, w21=0.25, w22=0.3, w31=0.4, w32=0.45, w41=0.5, w42=0.55, b1=0.35, b2=0.35,
                        b3=0.6, b4=0.6),
    ),
    "relu_kink": dict(  # z1 = 0.4·0.5 − 0.8·0.25 + 0 lies on ReLU's kink
        layers=[2, 2, 1], activation=["relu", "sigmoid"], loss="half_squared_error", learning_rate=0.1,
        inputs=[0.5, 0.25], targets=[1],
        parameters=dict(w11=0.4, w12=-0.8, b1=0.0, w21=0.3, w22=0.6, b2=0.1, w31=0.9, w32=-0.7, b3=0.2),
    ),
}  # fmt: skip
UPDATES = [({"update": "ascent"}, "gradient_ascent"), ({"update": "no_rate"}, "learning_rate_left_out"),
           ({"update": "none"}, "no_update"), ({"update": "eta_twice"}, "learning_rate_twice"),
           ({"bias_gradient": "zero"}, "bias_gradient"), ({"bias_gradient": "times_b"}, "bias_gradient")]  # fmt: skip
WRITING = [({"written": how}, kind) for how, kind in (("truncate", "truncated"), ("swap", "digits_swapped"),
           ("point", "decimal_point_moved"), ("minus", "minus_lost"), ("row", "wrong_row"))]  # fmt: skip
CASES = {  # network -> [(slip, the kinds the checker must name)]
    "seed_2_2_1": [
        ({"loss_scale": 2.0}, "half_dropped"), ({"slope_sign": -1.0}, "sign_flipped"),
        ({"slope": {2: "left_out"}}, "derivative_left_out"), ({"slope": {1: "left_out"}}, "derivative_left_out"),
        ({"slope": {1: "left_out", 2: "left_out"}}, "derivative_left_out"),
        ({"slope": {2: "activation"}}, "activation_for_derivative"), ({"slope": {2: "at_z"}}, "derivative_at_z"),
        ({"slope": {1: "at_z"}}, "derivative_at_z"), ({"slope": {2: "tanh_for_sigmoid"}}, "wrong_derivative"),
        ({"exp_sign": 1}, "exp_sign"), ({"exp_sign": 3}, "exp_sign"),
        ({"bias_left_out": 1}, "bias_left_out"), ({"bias_left_out": 3}, "bias_left_out"),
        ({"wrong_weight": ("z3", "w31", "w32")}, "wrong_weight"), ({"wrong_weight": ("z1", "w12", "w21")}, "wrong_weight"),
        ({"wrong_weight": ("delta1", "w31", "w32")}, "wrong_weight"),
        ({"wrong_value": (1, 2, 1)}, "wrong_value_used"), ({"updated_in_delta": 1}, "updated_weights_used"),
        ({"early": 2}, "rounded_early"),
        ({"loss_scale": 2.0, "slope": {2: "left_out"}}, ("half_dropped", "derivative_left_out")),
        *UPDATES, *WRITING,
    ],
    "classifier_2_1_1": [
        ({"slope_sign": -1.0}, "sign_flipped"), ({"bce_factor_kept": True}, "bce_factor_kept"),
        ({"log10": True}, "log10"), ({"ce_sign_dropped": True}, "ce_sign_dropped"),
        ({"slope": {1: "left_out"}}, "derivative_left_out"), ({"slope": {1: "at_z"}}, "derivative_at_z"),
        ({"exp_sign": 1}, "exp_sign"), ({"bias_left_out": 2}, "bias_left_out"),
        ({"wrong_weight": ("z1", "w11", "w12")}, "wrong_weight"), ({"wrong_value": (1, 1, 2)}, "wrong_value_used"),
        ({"updated_in_delta": 1}, "updated_weights_used"), ({"early": 2}, "rounded_early"),
        *UPDATES, *WRITING,
    ],
    "tanh_3_2_1": [
        ({"loss_scale": 2.0}, "half_dropped"), ({"slope": {1: "sigmoid_for_tanh"}}, "wrong_derivative"),
        ({"slope": {2: "sigmoid_for_tanh"}}, "wrong_derivative"), ({"slope": {1: "one_minus_a"}}, "wrong_derivative"),
        ({"slope": {1: "at_z"}}, "derivative_at_z"), ({"slope": {2: "left_out"}}, "derivative_left_out"),
        ({"bias_left_out": 2}, "bias_left_out"), ({"wrong_weight": ("z2", "w21", "w12")}, "wrong_weight"),
        ({"wrong_weight": ("delta2", "w32", "w31")}, "wrong_weight"), ({"updated_in_delta": 2}, "updated_weights_used"),
        ({"slope_sign": -1.0, "slope": {2: "left_out"}}, ("sign_flipped", "derivative_left_out")),
        *UPDATES, *WRITING,
    ],
    "two_out_2_2_2": [
        ({"sum_kept": (1, 3)}, "sum_forgotten"), ({"sum_kept": (2, 4)}, "sum_forgotten"),
        ({"mean_forgotten": True}, "mean_forgotten"), ({"slope_sign": -1.0}, "sign_flipped"),
        ({"slope": {1: "left_out"}}, "derivative_left_out"), ({"wrong_weight": ("z4", "w41", "w42")}, "wrong_weight"),
        ({"sum_kept": (1, 3), "slope": {1: "left_out"}}, ("sum_forgotten", "derivative_left_out")),
        *UPDATES[:4],
    ],
    "relu_kink": [
        ({"slope": {1: "kink_1"}}, "kink_derivative"), ({"slope": {1: "kink_half"}}, "kink_derivative"),
        ({"slope": {2: "left_out"}}, "derivative_left_out"), ({"bias_left_out": 2}, "bias_left_out"),
        ({"exp_sign": 3}, "exp_sign"), *UPDATES[:3],
    ],
}  # fmt: skip
PARAMS = [(network, slip, kind) for network, cases in CASES.items() for slip, kind in cases]


@pytest.fixture(scope="module")
def derivations():
    return {name: sbp.derive(sbp.build_spec(**spec)) for name, spec in NETWORKS.items()}


def text(value: float, decimals: int) -> str:
    written = f"{value:.{decimals}f}"
    return written.lstrip("-") if float(written) == 0 else written  # -0.000 is written 0.000


def miswritten(how: str, name: str, texts: dict[str, str], decimals: int) -> str | None:
    """`texts[name]` with a slip of writing, or None when this value cannot show it."""
    written = texts[name]
    value = float(written)
    if how == "truncate":
        return None  # needs the full value: done by the caller
    if how == "swap":
        digits = list(written)
        for i in range(len(digits) - 2, 0, -1):  # the last two neighbouring different digits, as a student swaps them
            if "." not in digits[i : i + 2] and "-" not in digits[i : i + 2] and digits[i] != digits[i + 1]:
                digits[i], digits[i + 1] = digits[i + 1], digits[i]
                return "".join(digits)
        return None
    if how == "point":
        return text(value * 10, decimals) if 0 < abs(value) < 1 else None
    if how == "minus":
        return written[1:] if value < 0 else None
    section = name.partition(".")[0] + "."
    others = [texts[o] for o in texts if o.startswith(section) and o != name and texts[o] != written]
    return others[0] if others else None


def sheet(network: str, slip: dict, decimals: int, carry: bool) -> tuple[dict[str, str], list[str]]:
    """The written sheet, and the steps whose own working the slip changed, in the order worked."""
    spec = NETWORKS[network]
    calculation = {k: v for k, v in slip.items() if k != "written"}
    computed, used = hand.work(spec, calculation, carry=decimals if carry else None)
    texts = {name: text(value, decimals) for name, value in computed.items()}
    if "written" in slip:
        how = slip["written"]
        for name, value in computed.items():
            if how == "truncate":
                digits = round(abs(value), 12)  # as worked by hand: 0.4·0.5 − 0.45 is −0.25, not −0.2499999…
                cut = f"{int(digits * 10**decimals) / 10**decimals:.{decimals}f}"
                wrong = ("-" if value < 0 else "") + cut
            else:
                wrong = miswritten(how, name, texts, decimals)
            if wrong is not None and float(wrong) != float(texts[name]) and abs(float(texts[name])) >= 10**-decimals:
                texts[name] = wrong
                return texts, [name]
        pytest.skip(f"no value on this sheet shows '{how}' at {decimals} decimals")
    # the student's own values as the checker reads them: the early rounder used other values than written
    pinned = {n: float(t) for n, t in texts.items()} if "early" in slip else used
    recomputed, _ = hand.work(spec, pinned=pinned)
    touched = [n for n in computed if abs(computed[n] - recomputed[n]) > 1e-12 * max(1.0, abs(recomputed[n]))]
    return texts, touched


def answers(texts: dict[str, str]) -> student_sheet.Answers:
    nested: dict = {}
    for name, written in texts.items():
        section, _, quantity = name.partition(".")
        if quantity:
            nested.setdefault(section, {})[quantity] = written
        else:
            nested[section] = written
    return student_sheet.from_mapping(nested)


@pytest.mark.parametrize("carry", [True, False], ids=["carrying", "full"])
@pytest.mark.parametrize("decimals", [2, 3, 4])
@pytest.mark.parametrize(("network", "slip", "kinds"), PARAMS, ids=[f"{n}-{k}-{i}" for i, (n, _, k) in enumerate(PARAMS)])
def test_the_injected_mistake_is_found_and_named(derivations, network, slip, kinds, decimals, carry):
    kinds = (kinds,) if isinstance(kinds, str) else kinds
    if "early" in slip and decimals <= slip["early"]:
        pytest.skip("rounding to the sheet's own decimals is not early")
    texts, touched = sheet(network, slip, decimals, carry)
    marking = check.check(derivations[network], answers(texts), decimals=decimals)
    exact = check.expected_values(derivations[network])
    marks = {m.name: m for m in marking.marks}
    # visible: what the student wrote is clearly not what the right working from their own written values gives
    # (by more than the rounding of one written value moves it: within that, carrying forward is as likely)
    own, _ = hand.work(NETWORKS[network], pinned={n: float(t) for n, t in texts.items()})
    order = [m.name for m in marking.marks]
    visible = [n for n in order if n in touched and abs(float(texts[n]) - own[n]) > 1.5 * 10**-decimals]
    if "written" in slip and not carry:  # the right value written wrong; from full values (a carried one's
        visible = [n for n in touched if texts[n] != text(own[n], decimals)]  # unwritten digits are unknown)
    if not visible:
        pytest.skip(f"the slip changes no written digit clearly at {decimals} decimals")

    assert not marking.ok  # a visible mistake never passes
    root = marking.root_cause
    assert root.name in touched and order.index(root.name) <= order.index(visible[0]), (root.name, root.diagnosis)
    for name, mark in marks.items():
        if name not in touched:
            assert mark.status != "wrong", (name, texts[name], mark.diagnosis)
        elif carry and name in visible:
            assert mark.status == "wrong", (name, texts[name], mark.status)
    given = float(texts[root.name])
    if 0.5 * 10**-decimals > check.MIN_RELATIVE_PRECISION * max(abs(given), abs(exact[root.name])):
        assert root.diagnosis == TOO_FEW_DIGITS  # one significant digit: naming a mistake would be a guess
    elif len(kinds) == 1:
        assert kinds[0] in root.mistakes, root.diagnosis
    else:  # two mistakes: the first step may show one of them; the δ they share shows both
        assert set(kinds) & set(root.mistakes), root.diagnosis
        assert any(set(kinds) <= set(m.mistakes) for m in marking.marks if m.name.startswith("deltas."))
    for mark in marking.marks:  # what is stated as fact was made
        if mark.certain and mark.name in touched:
            assert set(mark.mistakes) <= set(kinds), (mark.name, mark.diagnosis)


def test_every_calculation_kind_is_injected():
    injected = {k for _, _, kinds in PARAMS for k in ((kinds,) if isinstance(kinds, str) else kinds)}
    elsewhere = {"half_added",  # tests/test_mistakes.py, on a plain squared error
                 "batch_sum", "batch_divided_twice", "batch_one_example"}  # tests/test_check_batch.py
    assert injected == set(mistakes.KINDS) - elsewhere


@pytest.mark.parametrize("seed", range(12))
def test_a_random_single_mistake_is_never_misnamed_as_fact(seed):
    """Random networks and one random catalogued mistake each: a diagnosis stated as fact is the injected one."""
    rng = random.Random(seed)
    layers = [rng.randint(1, 3), rng.randint(1, 3), rng.randint(1, 2)]
    activation = [rng.choice(["sigmoid", "tanh"]), "sigmoid"]
    loss = rng.choice(["half_squared_error", "mse", "binary_cross_entropy"])
    spec = sbp.build_spec(layers=layers, activation=activation, loss=loss, learning_rate=rng.choice([0.1, 0.5]),
                          inputs=[round(rng.uniform(-1, 1), 2) for _ in range(layers[0])],
                          targets=[float(rng.randint(0, 1)) if loss == "binary_cross_entropy" else round(rng.uniform(0, 1), 2)
                                   for _ in range(layers[-1])],
                          init={"seed": seed, "decimals": 2})  # fmt: skip
    derivation = sbp.derive(spec)
    prog = mistakes.program(derivation)
    catalogue = [m for m in mistakes.catalogue(prog) if m.rounding is None]
    for mistake in rng.sample(catalogue, min(8, len(catalogue))):
        run = mistakes.Run(prog, {}, changes=mistake.changes)
        texts = {step.name: text(run.value(symbol), 4) for symbol, step in prog.steps.items()}
        marking = check.check(derivation, answers(texts))
        for mark in marking.marks:
            if mark.certain:
                assert mistake.kind in mark.mistakes, (mistake.explanation, mark.name, mark.diagnosis)
