"""The finite-difference gradient check: no false alarm up to |100|, and wrong gradients still caught.

Oracle for the true gradient: a plain mpmath forward pass at 50 digits,
differentiated by mpmath's own high-precision differences (`mpmath.diff`),
written here from the documented rules, not from the engine.
"""

import random

import mpmath
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reference import weight_and_bias_names

import symbackprop as sbp
from symbackprop import finite_diff, numeric

ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "softplus", "linear", "swish", "smooth_abs", "cubic"]
CUSTOM = {"swish": "z * sigmoid(z)", "smooth_abs": "sqrt(1 + z**2)", "cubic": "z**3/1000 + z"}
LOSSES = ["half_squared_error", "squared_error", "mse", "binary_cross_entropy", "cross_entropy"]
REQUIRED_OUTPUT = {"binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}
SEED = "examples/seed_2_2_1.yaml"


def _mp_activation(name, z):
    return {
        "sigmoid": lambda: 1 / (1 + mpmath.exp(-z)),
        "tanh": lambda: mpmath.tanh(z),
        "relu": lambda: max(z, 0),
        "leaky_relu": lambda: z if z > 0 else z / 100,
        "softplus": lambda: _softplus(z),
        "linear": lambda: z,
        "swish": lambda: z / (1 + mpmath.exp(-z)),
        "smooth_abs": lambda: mpmath.sqrt(1 + z**2),
        "cubic": lambda: z**3 / 1000 + z,
    }[name]()


def _mp_loss(name, zs, ys, ts):
    # cross-entropies from the logits (the same functions): ln(1 − σ(z)) at z = 133 needs 58 digits
    if name == "binary_cross_entropy":
        return sum(t * _softplus(-z) + (1 - t) * _softplus(z) for z, t in zip(zs, ts))
    if name == "cross_entropy":
        peak = max(zs)
        log_total = peak + mpmath.log(sum(mpmath.exp(z - peak) for z in zs))
        return -sum(t * (z - log_total) for z, t in zip(zs, ts))
    squared = sum((y - t) ** 2 for y, t in zip(ys, ts))
    if name == "half_squared_error":
        return squared / 2
    if name == "squared_error":
        return squared
    assert name == "mse"
    return squared / len(ys)


def _softplus(z):
    return z + mpmath.log1p(mpmath.exp(-z)) if z > 0 else mpmath.log1p(mpmath.exp(z))


def mp_mean_loss(raw, params):
    """The mean loss at 50 digits; `params` maps names to mpf values."""
    weights, biases = weight_and_bias_names(raw["layers"])
    activations = raw["activation"]
    total = 0
    for example in raw["data"]:
        a = [mpmath.mpf(x) for x in example["inputs"]]
        for rows, bias_names, activation in zip(weights, biases, activations):
            z = [sum(params[w] * ak for w, ak in zip(row, a)) + params[b] for row, b in zip(rows, bias_names)]
            if activation == "softmax":
                e = [mpmath.exp(zj) for zj in z]
                a = [ej / sum(e) for ej in e]
            else:
                a = [_mp_activation(activation, zj) for zj in z]
        total += _mp_loss(raw["loss"], z, a, [mpmath.mpf(t) for t in example["targets"]])
    return total / len(raw["data"])


def mp_gradients(raw):
    """∂(mean loss)/∂p for every parameter, by mpmath at 50 digits, rounded to floats."""
    with mpmath.workdps(50):
        params = {k: mpmath.mpf(v) for k, v in raw["parameters"].items()}
        loss = float(mp_mean_loss(raw, params))
        gradients = {
            name: float(mpmath.diff(lambda v, name=name: mp_mean_loss(raw, {**params, name: v}), params[name]))
            for name in params
        }
    return loss, gradients


def network(rng, *, examples=None):
    """A random small network whose inputs and parameters range over ±(0.01 … 100)."""

    def number():
        return rng.choice([-1, 1]) * 10 ** rng.uniform(-2, 2)

    loss = rng.choice(LOSSES)
    n_out = rng.randint(2, 3) if loss == "cross_entropy" else rng.randint(1, 2)
    hidden = [rng.randint(1, 3) for _ in range(rng.randint(0, 2))]
    layers = [rng.randint(1, 3), *hidden, n_out]
    activation = [*(rng.choice(ACTIVATIONS) for _ in hidden), REQUIRED_OUTPUT.get(loss) or rng.choice(ACTIVATIONS)]

    def targets():
        t = [rng.random() for _ in range(n_out)]
        return [v / sum(t) for v in t] if loss == "cross_entropy" else t

    count = examples or rng.randint(1, 3)
    data = [{"inputs": [number() for _ in range(layers[0])], "targets": targets()} for _ in range(count)]
    raw = {"layers": layers, "activation": activation, "loss": loss, "data": data,
           "activations": {k: v for k, v in CUSTOM.items() if k in activation}}  # fmt: skip
    weights, biases = weight_and_bias_names(layers)
    names = [n for rows, bs in zip(weights, biases) for row, b in zip(rows, bs) for n in (*row, b)]
    return {**raw, "parameters": {n: number() for n in names}}


def evaluate(raw):
    """The engine's evaluator and solution, or None when a value leaves the floating-point range."""
    derivation = sbp.derive(sbp.spec_from_dict(raw))
    spec = derivation.network.spec
    evaluator = numeric.Evaluator(derivation)
    try:
        solution = evaluator.solve(spec.examples, spec.parameters, learning_rate=spec.learning_rate)
    except numeric.NumericError:
        return None
    return evaluator, spec, solution


def check(evaluator, spec, gradients, names=None):
    return finite_diff.gradcheck(evaluator, spec.examples, spec.parameters, gradients, names=names)


def seed_example(x1):
    spec = sbp.load_spec(SEED)
    raw = {"layers": [2, 2, 1], "activation": ["sigmoid", "sigmoid"], "loss": "half_squared_error",
           "data": [{"inputs": [x1, 1.0], "targets": list(spec.examples[0].targets)}], "parameters": dict(spec.parameters)}  # fmt: skip
    return raw


@pytest.mark.parametrize("x1", [20.0, 50.0, 100.0, -100.0])
def test_seed_network_with_a_large_input_passes_and_the_chain_rule_agrees_with_50_digits(x1):
    raw = seed_example(x1)
    evaluator, spec, solution = evaluate(raw)
    result = check(evaluator, spec, solution.gradients)
    assert result.ok, result.rows
    _, exact = mp_gradients(raw)
    for name, value in solution.gradients.items():
        # the false alarm was the check's: the chain rule is right to the loss's rounding level
        assert value == pytest.approx(exact[name], rel=1e-6, abs=1e-14 * solution.loss), name


@pytest.mark.parametrize("seed", range(24))
def test_true_gradients_pass_for_inputs_and_parameters_up_to_100(seed):
    raw = network(random.Random(seed))
    evaluated = evaluate(raw)
    if evaluated is None:
        pytest.skip("the forward pass overflows: solve refuses it before any check")
    evaluator, spec, _ = evaluated
    _, exact = mp_gradients(raw)
    result = check(evaluator, spec, exact)
    assert result.ok, [r for r in result.rows if r.relative_error >= finite_diff.TOLERANCE]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32 - 1))
def test_chain_rule_gradients_pass_for_inputs_and_parameters_up_to_100(seed):
    raw = network(random.Random(seed))
    evaluated = evaluate(raw)
    if evaluated is None:
        return
    evaluator, spec, solution = evaluated
    result = check(evaluator, spec, solution.gradients)
    assert result.ok, [r for r in result.rows if r.relative_error >= finite_diff.TOLERANCE]


def resolvable(raw, loss, exact):
    """Parameters whose true gradient stands above the loss's rounding level, by the oracle.

    |∂L/∂p|·max(|p|, 1) ≥ 1e-6·L: a relative change of 1e-4 in such a gradient moves
    L(p ± h) by far more than float64's rounding of L, so any sound check must see it.
    """
    return [name for name, g in exact.items()
            if g != 0 and abs(g) * max(abs(raw["parameters"][name]), 1.0) >= 1e-6 * abs(loss)]  # fmt: skip


@pytest.mark.parametrize("corruption", ["relative 1e-4", "sign flip"])
@pytest.mark.parametrize("seed", range(16))
def test_a_wrong_gradient_is_caught(seed, corruption):
    rng = random.Random(1000 + seed)
    raw = network(rng)
    evaluated = evaluate(raw)
    if evaluated is None:
        pytest.skip("the forward pass overflows")
    evaluator, spec, solution = evaluated
    loss, exact = mp_gradients(raw)
    names = resolvable(raw, loss, exact)
    if not names:
        pytest.skip("every gradient is below the loss's rounding level")
    for name in names:
        g = solution.gradients[name]
        wrong = g * (1 + 1e-4) if corruption == "relative 1e-4" else -g
        result = check(evaluator, spec, {**solution.gradients, name: wrong}, names=[name])
        assert result.rows[0].near_kink or not result.ok, (name, result.rows[0])


@pytest.mark.parametrize("seed", range(8))
def test_a_gradient_missing_its_input_factor_is_caught(seed):
    # ∂L/∂w_jk = δ_j·x_k for a first-layer weight: a derivation that forgets x_k reports δ_j
    raw = network(random.Random(2000 + seed), examples=1)
    evaluated = evaluate(raw)
    if evaluated is None:
        pytest.skip("the forward pass overflows")
    evaluator, spec, solution = evaluated
    loss, exact = mp_gradients(raw)
    weights, _ = weight_and_bias_names(raw["layers"])
    inputs = raw["data"][0]["inputs"]
    first_layer = [(w, inputs[k]) for row in weights[0] for k, w in enumerate(row)]
    caught = 0
    for name, x in first_layer:
        if name not in resolvable(raw, loss, exact) or abs(abs(x) - 1) < 1e-3:
            continue
        result = check(evaluator, spec, {**solution.gradients, name: solution.gradients[name] / x}, names=[name])
        assert result.rows[0].near_kink or not result.ok, (name, result.rows[0])
        caught += 1
    if not caught:
        pytest.skip("no first-layer gradient above the rounding level")


def test_the_seed_example_catches_every_corruption_of_every_gradient():
    derivation = sbp.derive(sbp.load_spec(SEED))
    spec = derivation.network.spec
    evaluator = numeric.Evaluator(derivation)
    gradients = evaluator.solve(spec.examples, spec.parameters, learning_rate=0.1).gradients
    for name, g in gradients.items():
        for wrong in (g * (1 + 1e-4), g * (1 - 1e-4), -g, 2 * g, g / 2):
            assert not check(evaluator, spec, {**gradients, name: wrong}, names=[name]).ok, (name, wrong)


def test_a_relu_kink_at_every_step_is_flagged_and_a_kink_outside_the_small_steps_is_not():
    # z1 = 100·w11 + b1 = 0.05: the first steps of w11 cross ReLU's corner, the smaller ones do not
    raw = {"layers": [1, 1, 1], "activation": ["relu", "linear"], "loss": "half_squared_error",
           "data": [{"inputs": [100.0], "targets": [0.5]}],
           "parameters": {"w11": 0.0005, "b1": 0.0, "w21": 3.0, "b2": 0.0}}  # fmt: skip
    evaluator, spec, solution = evaluate(raw)
    result = check(evaluator, spec, solution.gradients)
    assert result.near_kink == [] and result.ok
    _, exact = mp_gradients(raw)
    for row in result.rows:
        assert row.finite_difference == pytest.approx(exact[row.name], rel=1e-9)
    at_corner = {**raw, "parameters": {**raw["parameters"], "b1": -0.05}}  # z1 = 0 exactly
    evaluator, spec, solution = evaluate(at_corner)
    assert check(evaluator, spec, solution.gradients).near_kink == ["w11", "b1"]


def test_uncertainty_is_reported_and_bounds_the_true_error():
    raw = seed_example(50.0)
    evaluator, spec, _ = evaluate(raw)
    _, exact = mp_gradients(raw)
    for name in exact:
        estimate = finite_diff.finite_difference(evaluator, spec.examples, spec.parameters, name)
        assert 0 < estimate.uncertainty < 1e-12
        assert abs(estimate.value - exact[name]) <= finite_diff.SAFETY * estimate.uncertainty, name
