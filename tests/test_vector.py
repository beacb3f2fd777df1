"""The matrix form against the per-weight chain rule, sympy.diff, finite differences and plain NumPy."""

from pathlib import Path

import numpy as np
import pytest
import sympy

import reference
import symbackprop as sbp
from symbackprop import cli, numeric, ops, vector

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SMALL = {
    "2-2-1 sigmoid, ½ squared error": dict(layers=[2, 2, 1], loss="half_squared_error"),
    "3-2-2 tanh/softmax, cross-entropy, layer names": dict(
        layers=[3, 2, 2], activation=["tanh", "softmax"], loss="cross_entropy", naming="layer"),
    "2-3-1 relu/sigmoid, BCE, one bias per layer": dict(
        layers=[2, 3, 1], activation=["relu", "sigmoid"], loss="binary_cross_entropy", bias="per_layer"),
    "2-2-2 leaky/softplus, mse, a tied weight": dict(
        layers=[2, 2, 2], activation=["leaky_relu", "softplus"], loss="mse", naming="sequential", rename={"w2": "w1"}),
    "1-2-1 linear output, no biases": dict(layers=[1, 2, 1], activation=["sigmoid", "linear"], loss="squared_error",
                                           bias="none"),
}  # fmt: skip


def _spec(keys, *, examples=4, seed=1):
    return sbp.build_spec(**reference.random_batch(keys, examples=examples, seed=seed))


def _standard(name, z):
    """Activations from SymPy's own functions, not from symbackprop.ops."""
    return {
        "sigmoid": lambda: 1 / (1 + sympy.exp(-z)),
        "tanh": lambda: sympy.tanh(z),
        "relu": lambda: sympy.Piecewise((z, z > 0), (0, True)),
        "leaky_relu": lambda: sympy.Piecewise((z, z > 0), (z / 100, True)),
        "softplus": lambda: sympy.log(1 + sympy.exp(z)),
        "linear": lambda: z,
    }[name]()


def _independent_loss(derivation):
    """The loss of one example written out from the network's symbols with plain SymPy functions."""
    network = derivation.network
    spec = network.spec
    values = list(network.inputs)
    for l, layer in enumerate(network.layers, start=1):
        zs = [sum((w * v for w, v in zip(n.weights, values)), n.bias if n.bias is not None else 0) for n in layer]
        if spec.activations[l - 1] == "softmax":
            total = sum(sympy.exp(z) for z in zs)
            values = [sympy.exp(z) / total for z in zs]
        else:
            values = [_standard(spec.activations[l - 1], z) for z in zs]
    ts = network.targets
    squared = sum((y - t) ** 2 for y, t in zip(values, ts))
    return {
        "half_squared_error": squared / 2,
        "squared_error": squared,
        "mse": squared / len(ts),
        "binary_cross_entropy": -sum(t * sympy.log(y) + (1 - t) * sympy.log(1 - y) for y, t in zip(values, ts)),
        "cross_entropy": -sum(t * sympy.log(y) for y, t in zip(values, ts)),
    }[spec.loss]


@pytest.mark.parametrize("keys", SMALL.values(), ids=SMALL.keys())
def test_matrix_form_equals_per_weight_form_symbolically(keys):
    spec = _spec(keys)
    derivation = sbp.derive(spec, expand=True)
    proof = vector.prove(vector.derive(spec), derivation)
    assert set(proof) == set(spec.parameters)
    assert all(proof.values()), [name for name, ok in proof.items() if not ok]


@pytest.mark.parametrize("keys", SMALL.values(), ids=SMALL.keys())
def test_matrix_entries_equal_sympy_diff_of_the_written_out_loss(keys):
    spec = _spec(keys)
    derivation = sbp.derive(spec, expand=True)
    entries = vector.explicit_gradients(vector.derive(spec), derivation)
    network = derivation.network
    loss = _independent_loss(derivation)
    example = spec.examples[0]
    point = {**dict(zip(network.inputs, example.inputs)), **dict(zip(network.targets, example.targets)),
             **{p: spec.parameters[p.name] for p in network.parameters}}  # fmt: skip
    for parameter in network.parameters:
        oracle = float(sympy.diff(loss, parameter).subs(point).evalf(30))
        ours = float(ops.to_standard_sympy(entries[parameter.name]).subs(point).evalf(30))
        assert ours == pytest.approx(oracle, rel=1e-12, abs=1e-14), parameter.name


def test_equations_show_the_layer_rules():
    form = vector.derive(_spec(dict(layers=[3, 4, 2], activation=["tanh", "sigmoid"], loss="half_squared_error")))
    text = vector.text(form)
    assert "delta1 = hadamard(W2.T*delta2, fprime1)" in text
    assert "fprime1 = 1 - h1**2" in text
    assert "dLdW1 = delta1*x.T" in text and "dLdW2 = delta2*h1.T" in text
    latex = vector.latex_lines(form)
    assert r"\delta^{(1)} = \left(\left(W^{(2)}\right)^{T} \delta^{(2)}\right) \circ f_{1}'\!\left(z^{(1)}\right)" in latex
    assert r"\frac{\partial L}{\partial W^{(1)}} = \delta^{(1)} x^{T}" in latex


NUMERIC = {
    "8-8-8-8-8-1 sigmoid": dict(layers=[8, 8, 8, 8, 8, 1], loss="half_squared_error"),
    "6-5-4-3 relu/tanh/softmax": dict(layers=[6, 5, 4, 3], activation=["relu", "tanh", "softmax"], loss="cross_entropy"),
    "5-4-2 tied, per-layer bias": dict(layers=[5, 4, 2], loss="binary_cross_entropy", bias="per_layer",
                                       rename={"w12": "w11", "w61": "w11"}),
}  # fmt: skip


@pytest.mark.parametrize("keys", NUMERIC.values(), ids=NUMERIC.keys())
def test_matrix_form_equals_per_weight_form_numerically(keys):
    spec = _spec(keys, examples=7)
    per_weight = numeric.Evaluator(sbp.derive(spec)).solve(spec.examples, spec.parameters, learning_rate=0.1)
    ours = vector.solve_gradients(vector.derive(spec), spec.examples, spec.parameters)
    assert ours.keys() == per_weight.gradients.keys()
    for name, value in ours.items():
        assert value == pytest.approx(per_weight.gradients[name], rel=1e-12, abs=1e-15), name


def _numpy_mnist_loss(W1, b1, W2, b2, X, T):
    """Mean cross-entropy of a sigmoid/softmax network, written here with plain NumPy."""
    H = 1 / (1 + np.exp(-(X @ W1.T + b1)))
    Z = H @ W2.T + b2
    Z = Z - Z.max(axis=1, keepdims=True)
    log_softmax = Z - np.log(np.exp(Z).sum(axis=1, keepdims=True))
    return float(np.mean(-(T * log_softmax).sum(axis=1)))


def test_mnist_sized_gradient_matches_finite_differences_of_a_numpy_loss():
    spec = sbp.load_spec(EXAMPLES / "mnist_like.yaml")
    form = vector.derive(spec)
    evaluator = vector.VectorEvaluator(form)
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, (5, 784))
    T = np.eye(10)[rng.integers(0, 10, 5)]
    theta = evaluator.flat(spec.parameters)
    result = evaluator.gradients(X, T, theta)
    (W1, b1), (W2, b2) = evaluator.matrices(theta)
    assert result.loss == pytest.approx(_numpy_mnist_loss(W1, b1, W2, b2, X, T), rel=1e-13)
    names = form.parameter_names
    for index in rng.choice(len(names), size=8, replace=False):
        h = 1e-5
        shifted = [theta.copy(), theta.copy()]
        shifted[0][index] += h
        shifted[1][index] -= h
        plus, minus = (_numpy_mnist_loss(*sum(evaluator.matrices(s), ()), X, T) for s in shifted)
        assert result.flat[index] == pytest.approx((plus - minus) / (2 * h), rel=1e-5, abs=1e-9), names[index]


def test_mnist_sized_form_makes_no_symbol_per_weight():
    form = vector.derive(sbp.load_spec(EXAMPLES / "mnist_like.yaml"))
    symbols = {s for e in form.equations for s in (e.lhs, *e.rhs.free_symbols)}
    assert len(symbols) < 30
    assert form.layers[0].W.shape == (128, 784)


def test_cli_vector_form_prints_equations_and_proof(capsys):
    assert cli.main(["derive", str(EXAMPLES / "seed_2_2_1.yaml"), "--form", "vector"]) == 0
    out = capsys.readouterr().out
    assert "delta1 = hadamard(W2.T*delta2, fprime1)" in out
    assert "Entry by entry against the per-weight chain rule (9 parameters): all equal" in out


def test_cli_vector_form_rejects_param(capsys):
    assert cli.main(["derive", str(EXAMPLES / "seed_2_2_1.yaml"), "--form", "vector", "--param", "w11"]) == 2
    assert capsys.readouterr().err == (
        "symbackprop: error: --param: only with --form weights; the vector form shows whole layers\n"
    )


def test_saturated_layers_stay_finite_and_equal_per_weight_form():
    spec = sbp.build_spec(layers=[2, 3, 2], activation=["sigmoid", "softmax"], loss="cross_entropy",
                          init={"seed": 0}, data=[{"inputs": [900.0, -800.0], "targets": [1.0, 0.0]},
                                                  {"inputs": [-1000.0, 1000.0], "targets": [0.0, 1.0]}])  # fmt: skip
    per_weight = numeric.Evaluator(sbp.derive(spec)).solve(spec.examples, spec.parameters, learning_rate=0.1)
    with np.errstate(all="raise"):
        ours = vector.solve_gradients(vector.derive(spec), spec.examples, spec.parameters)
    for name, value in ours.items():
        assert np.isfinite(value)
        assert value == pytest.approx(per_weight.gradients[name], rel=1e-12, abs=1e-15), name


def test_custom_activations_in_matrix_form():
    spec = sbp.spec_from_dict({
        "layers": [2, 3, 2], "activations": {"swish": "z / (1 + exp(-z))", "clip": "min(max(z, -1), 1) + 0.1*z"},
        "activation": ["swish", "clip"], "loss": "half_squared_error", "init": {"seed": 0},
        "data": [{"inputs": [0.3, -0.2], "targets": [0.1, 0.5]}, {"inputs": [1.3, 0.7], "targets": [0.2, 0.9]}],
    })  # fmt: skip
    form = vector.derive(spec)
    assert "h1 = swish(z1)" in vector.text(form)
    assert all(vector.prove(form, sbp.derive(spec, expand=True)).values())


def test_cli_vector_form_json(capsys):
    import json

    assert cli.main(["derive", str(EXAMPLES / "seed_2_2_1.yaml"), "--form", "vector", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["form"] == "vector" and report["layers"] == [2, 2, 1]
    assert {"lhs": "dLdW1", "rhs": "delta1*x.T", "latex": r"\frac{\partial L}{\partial W^{(1)}} = \delta^{(1)} x^{T}",
            "note": ""} in report["equations"]  # fmt: skip
    assert report["equals_per_weight_form"] == dict.fromkeys(sbp.load_spec(EXAMPLES / "seed_2_2_1.yaml").parameters, True)
