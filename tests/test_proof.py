"""The symbolic proof's numeric fallback: our functions evaluated at 50 digits agree with their plain-SymPy forms."""

import pytest
import sympy

import symbackprop as sbp
from symbackprop import chain, ops

Z, W = sympy.symbols("z w", real=True)


@pytest.mark.parametrize("function", [ops.sigmoid, ops.softplus, ops.relu, ops.leaky_relu, ops.step, ops.leaky_step])
def test_mpmath_kernels_equal_the_plain_sympy_forms(function):
    expr = function(W * Z + sympy.Rational(1, 3))
    difference = expr - ops.to_standard_sympy(expr)  # SymPy's own rewrite is the oracle
    assert chain._vanishes_at_random_points(difference)
    assert not chain._vanishes_at_random_points(difference + sympy.Rational(1, 10**20))


BATCH = [{"inputs": [0.3, -0.2, 0.5], "targets": [0.2, 0.8]}, {"inputs": [-0.4, 0.1, 0.6], "targets": [0.7, 0.3]}]


@pytest.mark.parametrize(("layers", "activations", "loss"), [
    ([3, 3, 3, 2], ["leaky_relu", "leaky_relu", "softmax"], "cross_entropy"),
    ([3, 3, 3, 2], ["leaky_relu", "leaky_relu", "leaky_relu"], "mse"),
    ([3, 3, 3, 2], ["relu", "softplus", "sigmoid"], "squared_error"),
])  # fmt: skip
def test_a_deep_piecewise_network_is_proved(layers, activations, loss):
    """Rewritten into nested Piecewise, the proof of these batches did not finish in minutes; now in seconds."""
    spec = sbp.spec_from_dict({"layers": layers, "activation": activations, "loss": loss, "init": {"seed": 3},
                               "data": BATCH})  # fmt: skip
    derivation = sbp.derive(spec)
    assert derivation.expanded_values is not None
    assert all(sbp.prove(derivation).values())
