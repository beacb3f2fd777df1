"""Size limits: what `solve` computes by whole layers past the per-weight size, and what stays refused.

Every number is compared with a plain NumPy backpropagation written here from the
textbook rules (δ of the output from the loss, δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀδ⁽ˡ⁺¹⁾ ⊙ f'(z⁽ˡ⁾),
∂L/∂w = δ·source), with names from tests/reference.py.
"""

import json

import numpy as np
import pytest

import symbackprop as sbp
import reference
from symbackprop import api, cli, finite_diff, numeric, report, spec

CASES = {
    "2-3-1 sigmoid, mse": dict(layers=[2, 3, 1], loss="mse"),
    "3-4-2 tanh/softmax, cross-entropy, layer names": dict(
        layers=[3, 4, 2], activation=["tanh", "softmax"], loss="cross_entropy", naming="layer"),
    "2-3-2-1 relu/tanh/sigmoid, BCE, one bias per layer": dict(
        layers=[2, 3, 2, 1], activation=["relu", "tanh", "sigmoid"], loss="binary_cross_entropy", bias="per_layer"),
    "2-2-2 sigmoid/linear, ½ squared error, a tied weight, no biases": dict(
        layers=[2, 2, 2], activation=["sigmoid", "linear"], loss="half_squared_error", naming="sequential",
        rename={"w2": "w1"}, bias="none"),
}  # fmt: skip


def _raw(keys, *, examples=3, seed=2):
    return reference.random_batch(keys, examples=examples, seed=seed)


def _slope(name, z):
    return {"sigmoid": lambda: (s := 1 / (1 + np.exp(-z))) * (1 - s), "tanh": lambda: 1 - np.tanh(z) ** 2,
            "relu": lambda: (z > 0).astype(float), "linear": lambda: np.ones_like(z)}[name]()  # fmt: skip


def _output_delta(loss, activation, z, y, t):
    """∂L/∂z of the output layer, from the loss and its output activation."""
    if loss == "mse":
        return 2 * (y - t) / len(y) * _slope(activation, z)
    if loss == "half_squared_error":
        return (y - t) * _slope(activation, z)
    if loss == "cross_entropy":  # softmax: ∂L/∂z_k = y_k·Σt − t_k
        return y * t.sum() - t
    return y - t  # binary cross-entropy of a sigmoid


def numpy_backprop(raw, params):
    """Mean loss, per-neuron z, a and δ (per example) and the mean gradient of every name, in plain NumPy."""
    weights, biases = reference.weight_and_bias_names(raw["layers"], raw.get("naming", "neuron"),
                                                      raw.get("bias", "per_neuron"), raw.get("rename"))  # fmt: skip
    acts = reference._activations(raw)
    examples = reference._examples(raw)
    gradients = dict.fromkeys(params, 0.0)
    per_example = []
    for (layers, loss), (x, t) in zip(reference.numpy_forward(raw, params), examples):
        sources = [x, *(a for _, a in layers[:-1])]
        deltas = [None] * len(layers)
        deltas[-1] = _output_delta(raw["loss"], acts[-1], *layers[-1], t)
        for l in range(len(layers) - 2, -1, -1):
            W_next = np.array([[params[n] for n in row] for row in weights[l + 1]])
            deltas[l] = (W_next.T @ deltas[l + 1]) * _slope(acts[l], layers[l][0])
        for l, (rows, bias_names) in enumerate(zip(weights, biases)):
            for j, row in enumerate(rows):
                for k, name in enumerate(row):
                    gradients[name] += deltas[l][j] * sources[l][k] / len(examples)
                if bias_names[j] is not None:
                    gradients[bias_names[j]] += deltas[l][j] / len(examples)
        per_example.append((layers, loss, deltas))
    return per_example, gradients


def _vector_solution(loaded, monkeypatch):
    monkeypatch.setattr(api, "PER_WEIGHT_SOLVE", 0)  # every network is past the per-weight size
    return api.solve_checked(loaded)


@pytest.mark.parametrize("keys", CASES.values(), ids=CASES.keys())
def test_solve_by_whole_layers_gives_numpy_s_numbers(keys, monkeypatch):
    raw = _raw(keys)
    loaded = spec.from_dict(raw)
    solution, check = _vector_solution(loaded, monkeypatch)
    expected, gradients = numpy_backprop(raw, loaded.parameters)
    for name, value in gradients.items():
        assert solution.gradients[name] == pytest.approx(value, rel=1e-10, abs=1e-13), name
    assert solution.loss == pytest.approx(np.mean([loss for _, loss, _ in expected]), rel=1e-12)
    # z and a of each neuron, and its δ, per example, in the network's own order of names
    z_names = [n for n in solution.forward if n.startswith("z")]
    z_expected = np.array([np.concatenate([z for z, _ in layers]) for layers, _, _ in expected]).T
    np.testing.assert_allclose([solution.forward[n] for n in z_names], z_expected, rtol=1e-12, atol=1e-14)
    delta_expected = np.array([np.concatenate(deltas) for _, _, deltas in expected]).T
    by_layer = [len(d) for d in expected[0][2]]
    ours = list(solution.deltas.values())  # output layer first, as the chain rule goes
    back = [ours[sum(by_layer[l + 1 :]) : sum(by_layer[l:])] for l in range(len(by_layer))]
    np.testing.assert_allclose(np.concatenate(back), delta_expected, rtol=1e-10, atol=1e-14)
    for name in loaded.parameters:
        step = 0.0 if name in loaded.frozen else loaded.learning_rate * gradients[name]
        assert solution.updated[name] == pytest.approx(loaded.parameters[name] - step, rel=1e-12, abs=1e-14)
    assert check.ok


@pytest.mark.parametrize("keys", CASES.values(), ids=CASES.keys())
def test_both_ways_of_solving_report_the_same_quantities(keys, monkeypatch):
    loaded = spec.from_dict({**_raw(keys), "frozen": [next(iter(spec.from_dict(_raw(keys)).parameters))]})
    per_weight, _ = api.solve_checked(loaded)
    by_layer, _ = _vector_solution(loaded, monkeypatch)
    for field in ("forward", "deltas", "per_example_gradients"):
        ours, theirs = getattr(by_layer, field), getattr(per_weight, field)
        assert list(ours) == list(theirs), field
        for name in ours:
            np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-11, atol=1e-14, err_msg=name)
    assert list(by_layer.updated) == list(per_weight.updated)
    assert by_layer.updated[loaded.frozen[0]] == loaded.parameters[loaded.frozen[0]]


def test_solve_past_the_per_weight_limit_finishes_and_checks_a_sample(tmp_path, capsys):
    """[100, 100, 1] has 10,201 parameters: past api.PER_WEIGHT_SOLVE, so by whole layers."""
    raw = {"layers": [100, 100, 1], "loss": "mse", "init": {"seed": 3, "scale": 0.2},
           "inputs": [float(v) for v in np.linspace(-1, 1, 100)], "targets": [0.25]}  # fmt: skip
    path = tmp_path / "wide.json"
    path.write_text(json.dumps(raw))
    assert cli.main(["solve", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    loaded = spec.from_dict(raw)
    assert len(loaded.parameters) > api.PER_WEIGHT_SOLVE
    _, gradients = numpy_backprop(raw, loaded.parameters)
    assert list(result["gradients"]) == list(gradients)
    np.testing.assert_allclose(list(result["gradients"].values()), list(gradients.values()), rtol=1e-9, atol=1e-15)
    assert result["gradcheck"]["checked"] == finite_diff.MAX_CHECKED
    assert result["gradcheck"]["ok"]


def test_past_the_per_weight_derivation_limit_solve_finishes_and_derive_refuses(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(api, "MAX_PER_WEIGHT", 20)
    raw = _raw(dict(layers=[3, 4, 2], activation=["tanh", "softmax"], loss="cross_entropy"), examples=1)
    path = tmp_path / "net.json"
    path.write_text(json.dumps(raw))
    assert cli.main(["derive", str(path)]) == 2
    assert "26 parameters is more than the 20 that the per-parameter chain rule handles" in capsys.readouterr().err
    assert cli.main(["solve", str(path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    _, gradients = numpy_backprop(raw, spec.from_dict(raw).parameters)
    np.testing.assert_allclose(list(result["gradients"].values()), list(gradients.values()), rtol=1e-10, atol=1e-15)


def test_an_overflow_is_named_by_whole_layers_as_per_weight(monkeypatch):
    raw = {"layers": [1, 1, 1], "loss": "mse", "activation": ["linear", "linear"], "inputs": [1e300], "targets": [0.0],
           "parameters": {"w11": 1e10, "b1": 0.0, "w21": 1.0, "b2": 0.0}}  # fmt: skip
    loaded = spec.from_dict(raw)
    with pytest.raises(numeric.NumericError) as per_weight:
        api.solve_checked(loaded)
    with pytest.raises(numeric.NumericError) as by_layer:
        _vector_solution(loaded, monkeypatch)
    assert str(by_layer.value) == str(per_weight.value)
    assert str(by_layer.value).startswith("z1 is inf for example 1")


def test_a_hundred_thousand_explicit_parameters_load_with_their_values():
    """[784, 128, 10] given value by value (101,770 names), as an exported set of weights would be."""
    layers = [784, 128, 10]
    weights, biases = reference.weight_and_bias_names(layers)
    names = [n for rows, bs in zip(weights, biases) for row, b in zip(rows, bs) for n in (*row, b)]
    values = dict(zip(names, np.random.default_rng(0).uniform(-1, 1, len(names)).round(4)))
    loaded = spec.from_dict({"layers": layers, "activation": ["sigmoid", "softmax"], "loss": "cross_entropy",
                             "parameters": values})  # fmt: skip
    assert len(loaded.parameters) == 101_770
    assert loaded.parameters == values
    with pytest.raises(sbp.SpecError, match="parameters.w1_785"):
        spec.from_dict({"layers": layers, "loss": "mse", "parameters": {**values, "w1_785": 0.5}})


def test_derive_param_derives_only_the_asked_gradients_and_prints_what_deriving_all_prints(tmp_path, capsys):
    raw = _raw(dict(layers=[2, 3, 2, 1], loss="mse"), examples=1)
    loaded = spec.from_dict(raw)
    asked = api.derive(loaded, only=["w21", "b5"])
    full = api.derive(loaded)
    assert list(asked.gradients) == ["w21", "b5"]
    assert asked.deltas.keys() == full.deltas.keys()
    for name in asked.gradients:
        assert asked.gradients[name].delta_form == full.gradients[name].delta_form
        assert asked.gradients[name].chains == full.gradients[name].chains
    path = tmp_path / "net.json"
    path.write_text(json.dumps(raw))
    assert cli.main(["derive", str(path), "--param", "w21", "--param", "b5"]) == 0
    assert capsys.readouterr().out.rstrip("\n") == report.derivation_text(full, ["w21", "b5"])
