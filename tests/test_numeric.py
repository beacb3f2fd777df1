"""Numerical stability at saturation and batch means, against closed forms."""

import math
import warnings

import numpy as np
import pytest

import symbackprop as sbp


def solve(raw):
    derivation = sbp.derive(sbp.spec_from_dict(raw))
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        return sbp.solve(derivation)


@pytest.mark.parametrize("z", [1000.0, -1000.0])
@pytest.mark.parametrize("t", [0.0, 1.0, 0.25])
def test_sigmoid_cross_entropy_is_finite_and_correct_at_large_z(z, t):
    # one neuron, linear input weight 1 and bias 0: the output logit is exactly z
    raw = {"layers": [1, 1], "activation": "sigmoid", "loss": "binary_cross_entropy", "inputs": [z], "targets": [t],
           "parameters": {"w11": 1.0, "b1": 0.0}}  # fmt: skip
    solution = solve(raw)
    y = 1.0 if z > 0 else 0.0
    # closed forms: L = softplus(z) - t·z, ∂L/∂z = σ(z) - t
    expected_loss = max(z, 0) - t * z + math.log1p(math.exp(-abs(z)))
    assert solution.loss == pytest.approx(expected_loss, rel=1e-12)
    assert solution.forward["y"][0] == y
    assert solution.gradients["b1"] == pytest.approx(y - t, abs=1e-12)
    assert solution.gradients["w11"] == pytest.approx((y - t) * z, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("z", [1000.0, -1000.0])
def test_softmax_cross_entropy_is_finite_at_large_z(z):
    raw = {"layers": [1, 2], "activation": "softmax", "loss": "cross_entropy", "inputs": [1.0], "targets": [1, 0],
           "parameters": {"w11": z, "w21": 0.0, "b1": 0.0, "b2": 0.0}}  # fmt: skip
    solution = solve(raw)
    expected_loss = max(z, 0) - z + math.log1p(math.exp(-abs(z)))  # -ln softmax_1 = ln(1 + e^{-z})
    assert solution.loss == pytest.approx(expected_loss, rel=1e-12)
    p1 = 1.0 if z > 0 else 0.0
    assert solution.gradients["b1"] == pytest.approx(p1 - 1, abs=1e-12)
    assert solution.gradients["b2"] == pytest.approx(1 - p1, abs=1e-12)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softplus"])
def test_every_activation_is_finite_at_extreme_inputs(activation):
    for z in (1000.0, -1000.0):
        raw = {"layers": [1, 1, 1], "activation": [activation, "linear"], "loss": "half_squared_error",
               "inputs": [z], "targets": [0.0], "parameters": {"w11": 1.0, "b1": 0.0, "w21": 1.0, "b2": 0.0}}  # fmt: skip
        solution = solve(raw)
        values = [*solution.gradients.values(), solution.loss, *solution.forward.values()]
        assert all(np.all(np.isfinite(v)) for v in values)


def test_batch_gradient_is_the_mean_of_single_example_gradients():
    base = {"layers": [2, 2, 1], "loss": "half_squared_error", "init": {"seed": 3}}
    examples = [([0.1, 0.9], [1.0]), ([0.8, -0.3], [0.0]), ([-0.5, 0.5], [0.5])]
    batch = solve({**base, "data": [{"inputs": x, "targets": t} for x, t in examples]})
    singles = [solve({**base, "inputs": x, "targets": t}) for x, t in examples]
    for name, value in batch.gradients.items():
        assert value == pytest.approx(np.mean([s.gradients[name] for s in singles]), rel=1e-12)
    assert batch.loss == pytest.approx(np.mean([s.loss for s in singles]), rel=1e-12)


@pytest.mark.parametrize(
    ("loss", "output", "targets"),
    [
        ("half_squared_error", "sigmoid", [0.2]),
        ("squared_error", "tanh", [0.2]),
        ("mse", "softplus", [0.2]),
        ("binary_cross_entropy", "sigmoid", [0.2]),
        ("cross_entropy", "softmax", [0.2, 0.8]),
    ],
)
@pytest.mark.parametrize("z", [1000.0, -1000.0])
def test_every_loss_is_finite_and_matches_finite_differences_at_saturation(loss, output, targets, z):
    n_out = len(targets)
    raw = {"layers": [1, n_out], "activation": output, "loss": loss, "inputs": [z], "targets": targets,
           "parameters": {**{f"w{1 + k}1": 1.0 - 2 * k for k in range(n_out)}, **{f"b{1 + k}": 0.0 for k in range(n_out)}}}  # fmt: skip
    solution = solve(raw)
    assert np.isfinite(solution.loss)
    assert all(np.isfinite(v) for v in solution.gradients.values())
    check = sbp.gradcheck(sbp.derive(sbp.spec_from_dict(raw)))
    assert check.ok, check.rows


def test_overflow_names_the_first_quantity_that_left_the_range(capsys):
    raw = {"layers": [1, 1, 1], "activation": ["linear", "linear"], "loss": "squared_error", "inputs": [1e200], "targets": [0.0],
           "parameters": {"w11": 1.0, "b1": 0.0, "w21": 1e200, "b2": 0.0}}  # fmt: skip
    derivation = sbp.derive(sbp.spec_from_dict(raw))
    with pytest.raises(sbp.SymbackpropError) as caught:
        sbp.solve(derivation)
    # z1 = 1e200 is finite; z2 = 1e400 is the first value past float64's range
    assert str(caught.value).startswith("z2 is inf for example 1, the first quantity to leave the floating-point range")


def test_finite_differences_across_a_relu_kink_are_flagged_not_failed():
    # z1 = w11·x1 + b1 = 0 exactly: ReLU's corner; w21 and b2 do not move z1
    raw = {"layers": [1, 1, 1], "activation": ["relu", "linear"], "loss": "half_squared_error", "inputs": [1.0], "targets": [0.5],
           "parameters": {"w11": 0.5, "b1": -0.5, "w21": 1.0, "b2": 0.0}}  # fmt: skip
    check = sbp.gradcheck(sbp.derive(sbp.spec_from_dict(raw)))
    assert check.near_kink == ["w11", "b1"]
    assert check.ok
    rows = {r.name: r for r in check.rows}
    # the one-sided slopes differ, so the stencil's value is not the convention's 0
    assert rows["w11"].chain_rule == 0.0 and rows["w11"].finite_difference != 0.0
    away = sbp.gradcheck(sbp.derive(sbp.spec_from_dict({**raw, "parameters": {**raw["parameters"], "b1": -0.2}})))
    assert away.near_kink == [] and away.ok
