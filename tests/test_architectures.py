"""Chain-rule gradients on many architectures against two independent oracles.

Oracle 1: sympy.diff of the fully substituted loss, built in tests/reference.py with
standard SymPy functions. Oracle 2: central finite differences of a plain NumPy
forward pass, also in tests/reference.py. Plus the engine's own symbolic proof.
"""

import numpy as np
import pytest
import reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import symbackprop as sbp

RNG = np.random.default_rng(1234)


def make(layers, activation, loss, *, batch=1, naming="neuron", bias="per_neuron", rename=None, frozen=(), seed=0):
    """A spec mapping with reproducible random inputs, targets and parameters."""
    rng = np.random.default_rng(seed)
    n_out = layers[-1]

    def targets():
        if loss == "cross_entropy":
            t = rng.uniform(0.05, 1, n_out)
            return list(t / t.sum())
        if loss == "binary_cross_entropy":
            return list(rng.uniform(0.05, 0.95, n_out))
        return list(rng.uniform(-1, 1, n_out))

    data = [{"inputs": list(rng.uniform(-1, 1, layers[0])), "targets": targets()} for _ in range(batch)]
    raw = {"layers": list(layers), "activation": activation, "loss": loss, "naming": naming, "bias": bias,
           "learning_rate": 0.25, "frozen": list(frozen)}  # fmt: skip
    if rename:
        raw["rename"] = rename
    if batch == 1:
        raw["inputs"], raw["targets"] = data[0]["inputs"], data[0]["targets"]
    else:
        raw["data"] = data
    weights, biases = reference.weight_and_bias_names(layers, naming, bias, rename)
    names = dict.fromkeys([w for layer in weights for row in layer for w in row] + [b for layer in biases for b in layer if b])
    # magnitudes away from 0 keep ReLU kinks out of the finite-difference stencils
    raw["parameters"] = {n: float(rng.choice([-1, 1]) * rng.uniform(0.2, 1.0)) for n in names}
    return raw


def assert_matches_oracles(raw, *, exact=True):
    spec = sbp.spec_from_dict(raw)
    derivation = sbp.derive(spec)
    solution = sbp.solve(derivation)
    params = dict(spec.parameters)
    assert list(solution.gradients) == list(params)
    assert solution.loss == pytest.approx(reference.numpy_mean_loss(raw, params), rel=1e-10, abs=1e-14)
    fd = reference.numpy_fd_gradients(raw, params)
    for name, value in solution.gradients.items():
        assert value == pytest.approx(fd[name], rel=1e-6, abs=1e-8), name
    if exact:
        oracle = reference.sympy_gradients(raw, params)
        for name, value in solution.gradients.items():
            assert value == pytest.approx(oracle[name], rel=1e-10, abs=1e-13), name
        if derivation.expanded_values is not None:
            assert all(sbp.prove(derivation).values())
    for name in params:
        expected = params[name] if name in spec.frozen else params[name] - 0.25 * solution.gradients[name]
        assert solution.updated[name] == pytest.approx(expected, rel=1e-14)
    return derivation, solution


ACTIVATIONS = ["sigmoid", "tanh", "relu", "leaky_relu", "linear", "softplus"]


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("layers", [[2, 1], [2, 2, 1], [3, 2, 2], [2, 3, 2, 1]])
def test_every_activation_and_depth(activation, layers):
    assert_matches_oracles(make(layers, activation, "half_squared_error", seed=len(layers)))


@pytest.mark.parametrize("loss", ["half_squared_error", "squared_error", "mse"])
@pytest.mark.parametrize("batch", [1, 3])
def test_regression_losses(loss, batch):
    assert_matches_oracles(make([2, 3, 2], ["tanh", "linear"], loss, batch=batch, seed=7))


@pytest.mark.parametrize("batch", [1, 4])
def test_binary_cross_entropy(batch):
    derivation, _ = assert_matches_oracles(make([2, 1, 1], "sigmoid", "binary_cross_entropy", batch=batch, seed=3))
    import sympy

    y, t = sympy.symbols("y t", real=True)
    output_delta = next(iter(derivation.deltas.values())).definition
    assert sympy.simplify(output_delta - (y - t)) == 0  # the famous cancellation


@pytest.mark.parametrize("batch", [1, 3])
def test_softmax_cross_entropy(batch):
    assert_matches_oracles(make([3, 2, 3], ["sigmoid", "softmax"], "cross_entropy", batch=batch, seed=5))


def test_softmax_with_squared_error_has_a_term_per_output():
    derivation, _ = assert_matches_oracles(make([2, 2, 2], ["tanh", "softmax"], "half_squared_error", seed=11))
    (chain_count,) = {len(derivation.gradients["w11"].chains)}
    assert chain_count == 4  # 2 outputs × 2 output neurons, through hidden neuron 1


def test_two_outputs_sum_over_paths():
    derivation, _ = assert_matches_oracles(make([2, 2, 2], "sigmoid", "half_squared_error", seed=12))
    chains = derivation.gradients["w11"].chains
    assert len(chains) == 2
    assert [f.of.name for f in chains[0]] == ["L", "y1", "z3", "h1", "z1"]
    assert [f.of.name for f in chains[1]] == ["L", "y2", "z4", "h1", "z1"]


@pytest.mark.parametrize("naming", ["neuron", "sequential", "layer"])
@pytest.mark.parametrize("bias", ["per_neuron", "per_layer", "none"])
def test_naming_and_bias_modes(naming, bias):
    assert_matches_oracles(make([2, 2, 2, 1], "sigmoid", "half_squared_error", naming=naming, bias=bias, seed=21))


def test_neurons_numbered_past_nine():
    raw = make([3, 12, 1], "tanh", "half_squared_error", seed=4)
    derivation, _ = assert_matches_oracles(raw, exact=False)
    assert {"w12_3", "w13_11", "b13"} <= set(derivation.gradients)


def test_tied_parameters_sum_over_every_place():
    raw = make([2, 2, 1], "sigmoid", "half_squared_error", rename={"w22": "w11", "w21": "w12", "b2": "shared"}, seed=8)
    derivation, _ = assert_matches_oracles(raw)
    assert len(derivation.gradients["w11"].occurrences) == 2
    assert len(derivation.gradients["w11"].chains) == 2
    assert "w22" not in derivation.gradients


def test_frozen_parameters_are_not_updated():
    raw = make([2, 2, 1], "sigmoid", "half_squared_error", frozen=["w11", "b3"], seed=9)
    _, solution = assert_matches_oracles(raw)
    assert solution.updated["w11"] == raw["parameters"]["w11"]
    assert solution.gradients["w11"] != 0


def test_mixed_activations_depth_four():
    assert_matches_oracles(make([2, 2, 2, 2, 1], ["relu", "tanh", "softplus", "sigmoid"], "squared_error", batch=2, seed=13))


hidden = st.sampled_from(ACTIVATIONS)


@st.composite
def networks(draw):
    depth = draw(st.integers(1, 3))
    layers = [draw(st.integers(1, 3)) for _ in range(depth + 1)]
    loss = draw(st.sampled_from(["half_squared_error", "squared_error", "mse", "binary_cross_entropy", "cross_entropy"]))
    acts = [draw(hidden) for _ in range(depth)]
    if loss == "binary_cross_entropy":
        acts[-1] = "sigmoid"
    if loss == "cross_entropy":
        acts[-1] = "softmax"
        layers[-1] = max(layers[-1], 2)
    return make(layers, acts, loss, batch=draw(st.integers(1, 2)), naming=draw(st.sampled_from(["neuron", "sequential", "layer"])),
                bias=draw(st.sampled_from(["per_neuron", "per_layer", "none"])), seed=draw(st.integers(0, 10_000)))  # fmt: skip


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_random_small_networks(raw):
    assert_matches_oracles(raw)
