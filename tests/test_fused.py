"""The fused evaluator (numba loop, NumPy fallback) against the engine's gradients."""

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop import fused, numeric

CASES = {
    "2-2-1 sigmoid": dict(layers=[2, 2, 1], loss="half_squared_error"),
    "2-3-2 softplus/softmax": dict(layers=[2, 3, 2], activation=["softplus", "softmax"], loss="cross_entropy"),
    "3-3-1 leaky/relu-free, BCE, tied": dict(layers=[3, 3, 1], activation=["leaky_relu", "sigmoid"],
                                             loss="binary_cross_entropy", rename={"w12": "w11"}),
}  # fmt: skip
BACKENDS = [False, pytest.param(True, marks=pytest.mark.skipif(not fused.available(), reason="numba not installed"))]


def _batch(layers, count=257):
    rng = np.random.default_rng(11)
    X = rng.uniform(-3, 3, (count, layers[0]))
    T = rng.dirichlet(np.ones(layers[-1]), count) if layers[-1] > 1 else rng.uniform(0, 1, (count, 1))
    return X, T


@pytest.mark.parametrize("use_numba", BACKENDS, ids=["numpy", "numba"])
@pytest.mark.parametrize("keys", CASES.values(), ids=CASES.keys())
def test_fused_equals_engine(keys, use_numba):
    spec = sbp.build_spec(**keys, init={"seed": 4, "decimals": 6})
    derivation = sbp.derive(spec)
    X, T = _batch(spec.layers)
    examples = [sbp.Example(tuple(x), tuple(t)) for x, t in zip(X, T)]
    engine = numeric.Evaluator(derivation).solve(examples, spec.parameters, learning_rate=0.1)
    evaluator = fused.FusedEvaluator(derivation, use_numba=use_numba)
    loss, flat = evaluator.value_and_gradient(X, T, evaluator.flat(spec.parameters))
    assert loss == pytest.approx(engine.loss, rel=1e-12)
    expected = np.array([engine.gradients[name] for name in evaluator.parameter_names])
    np.testing.assert_allclose(flat, expected, rtol=1e-10, atol=1e-14)


def test_formula_numba_cannot_compile_falls_back_to_numpy():
    spec = sbp.spec_from_dict({
        "layers": [2, 2, 1], "activations": {"clip": "min(max(z, -1), 1) + 0.1*z"}, "activation": ["clip", "sigmoid"],
        "loss": "half_squared_error", "init": {"seed": 0},
    })  # fmt: skip
    derivation = sbp.derive(spec)
    X, T = _batch(spec.layers, count=9)
    examples = [sbp.Example(tuple(x), tuple(t)) for x, t in zip(X, T)]
    engine = numeric.Evaluator(derivation).solve(examples, spec.parameters, learning_rate=0.1)
    evaluator = fused.FusedEvaluator(derivation)
    assert not evaluator.uses_numba  # the Heaviside in f' prints as NumPy code numba cannot type
    loss, flat = evaluator.value_and_gradient(X, T, evaluator.flat(spec.parameters))
    assert loss == pytest.approx(engine.loss, rel=1e-12)
    np.testing.assert_allclose(flat, [engine.gradients[n] for n in evaluator.parameter_names], rtol=1e-10, atol=1e-14)
