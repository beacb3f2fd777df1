"""Every batch evaluator (vector, fused with numba or NumPy, JAX) against a plain NumPy backpropagation."""

import numpy as np
import pytest
from test_limits import numpy_backprop

from symbackprop import api, fused, jax_backend, spec, train, vector
from symbackprop.errors import SymbackpropError

NUMBA = pytest.mark.skipif(not fused.available(), reason="numba not installed (the fast extra)")
JAX = pytest.mark.skipif(not jax_backend.available(), reason="JAX not installed (the jax extra)")


def _random_network(seed):
    """Layer sizes, activations and loss drawn at random; a tied weight in every other one."""
    rng = np.random.default_rng(seed)
    layers = [int(n) for n in rng.integers(1, 5, rng.integers(3, 5))]
    hidden = [str(a) for a in rng.choice(["sigmoid", "tanh", "relu", "linear"], len(layers) - 2)]
    output, loss = [("sigmoid", "mse"), ("linear", "half_squared_error"), ("sigmoid", "binary_cross_entropy"),
                    ("softmax", "cross_entropy")][seed % 4]  # fmt: skip
    if output == "softmax":
        layers[-1] = max(layers[-1], 2)
    keys = {"layers": layers, "activation": [*hidden, output], "loss": loss, "init": {"seed": seed, "decimals": 6}}
    if seed % 2:
        keys |= {"naming": "sequential", "rename": {"w2": "w1"}} if layers[1] > 1 or layers[0] > 1 else {}
    count = 37
    X = rng.uniform(-2, 2, (count, layers[0]))
    T = rng.dirichlet(np.ones(layers[-1]), count) if output == "softmax" else rng.uniform(0, 1, (count, layers[-1]))
    data = [{"inputs": list(map(float, x)), "targets": list(map(float, t))} for x, t in zip(X, T)]
    return {**keys, "data": data}, X, T


def _kinds():
    return [pytest.param("vector"), pytest.param("fused-numpy"), pytest.param("fused", marks=NUMBA),
            pytest.param("jax", marks=JAX)]  # fmt: skip


def _evaluator(loaded, kind):
    if kind == "fused-numpy":
        return fused.FusedEvaluator(api.derive(loaded), use_numba=False)
    if kind == "fused":
        return fused.FusedEvaluator(api.derive(loaded), use_numba=True)
    return api.evaluator(loaded, kind=kind)


@pytest.mark.parametrize("kind", _kinds())
@pytest.mark.parametrize("seed", range(8))
def test_every_evaluator_gives_numpy_s_gradients(seed, kind, tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBACKPROP_CACHE", str(tmp_path))
    raw, X, T = _random_network(seed)
    loaded = spec.from_dict(raw)
    evaluator = _evaluator(loaded, kind)
    loss, gradient = evaluator.value_and_gradient(X, T, evaluator.flat(loaded.parameters))
    expected, reference = numpy_backprop(raw, loaded.parameters)
    assert loss == pytest.approx(np.mean([value for _, value, _ in expected]), rel=1e-12)
    np.testing.assert_allclose(gradient, list(reference.values()), rtol=1e-10, atol=1e-14)
    assert evaluator.as_dict(gradient).keys() == reference.keys()


def test_the_default_evaluator_of_train_and_the_api_is_the_vector_form():
    raw, X, T = _random_network(3)
    loaded = spec.from_dict(raw)
    assert isinstance(api.evaluator(loaded), vector.VectorEvaluator)
    result = train.train(loaded, train.spec_data(loaded), epochs=1, batch_size=len(X), learning_rate=0.5)
    _, reference = numpy_backprop(raw, loaded.parameters)
    stepped = {n: v - 0.5 * (0.0 if n in loaded.frozen else reference[n]) for n, v in loaded.parameters.items()}
    assert result.parameters == pytest.approx(stepped, rel=1e-12, abs=1e-14)


@pytest.mark.parametrize("kind", ["vector", "fused", pytest.param("jax", marks=JAX)])
def test_training_with_each_evaluator_takes_the_same_steps(kind, tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBACKPROP_CACHE", str(tmp_path))
    raw, _, _ = _random_network(5)
    loaded = spec.from_dict(raw)
    ours = train.train(loaded, train.spec_data(loaded), epochs=3, batch_size=8, seed=1, evaluator=kind)
    baseline = train.train(loaded, train.spec_data(loaded), epochs=3, batch_size=8, seed=1, evaluator="vector")
    assert ours.loss_history == pytest.approx(baseline.loss_history, rel=1e-12)
    assert ours.parameters == pytest.approx(baseline.parameters, rel=1e-10, abs=1e-14)


def test_an_unknown_evaluator_is_refused():
    loaded = spec.from_dict(_random_network(0)[0])
    with pytest.raises(SymbackpropError, match="evaluator: unknown kind 'gpu'; valid: vector, fused, jax"):
        api.evaluator(loaded, kind="gpu")


@NUMBA
def test_the_fused_loop_answers_with_the_vector_form_while_it_compiles_then_from_the_disk_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBACKPROP_CACHE", str(tmp_path))
    raw, X, T = _random_network(2)
    loaded = spec.from_dict(raw)
    derivation = api.derive(loaded)
    _, reference = numpy_backprop(raw, loaded.parameters)
    first = fused.FusedEvaluator(derivation)
    flat = first.flat(loaded.parameters)
    answers = [first.value_and_gradient(X, T, flat)[1]]
    compiled = first.wait().uses_numba
    answers.append(first.value_and_gradient(X, T, flat)[1])
    again = fused.FusedEvaluator(derivation)
    assert compiled and again.uses_numba  # the second one loads the machine code the first compiled
    answers.append(again.value_and_gradient(X, T, flat)[1])
    for answer in answers:
        np.testing.assert_allclose(answer, list(reference.values()), rtol=1e-10, atol=1e-14)
    assert [p.suffix for p in tmp_path.iterdir() if p.is_file()].count(".py") == 1


@NUMBA
def test_a_network_past_the_compile_limit_stays_with_the_vector_form(tmp_path, monkeypatch):
    monkeypatch.setenv("SYMBACKPROP_CACHE", str(tmp_path))
    monkeypatch.setattr(fused, "MAX_COMPILED", 3)
    raw, X, T = _random_network(0)
    loaded = spec.from_dict(raw)
    evaluator = fused.FusedEvaluator(api.derive(loaded)).wait()
    assert not evaluator.uses_numba and not any(tmp_path.iterdir())  # nothing compiled, nothing written
    _, reference = numpy_backprop(raw, loaded.parameters)
    gradient = evaluator.value_and_gradient(X, T, evaluator.flat(loaded.parameters))[1]
    np.testing.assert_allclose(gradient, list(reference.values()), rtol=1e-10, atol=1e-14)


@NUMBA
def test_without_a_cache_folder_to_write_the_vector_form_answers(tmp_path, monkeypatch):
    blocked = tmp_path / "a file"
    blocked.write_text("")
    monkeypatch.setenv("SYMBACKPROP_CACHE", str(blocked / "cache"))
    raw, X, T = _random_network(1)
    loaded = spec.from_dict(raw)
    evaluator = fused.FusedEvaluator(api.derive(loaded)).wait()
    assert not evaluator.uses_numba
    _, reference = numpy_backprop(raw, loaded.parameters)
    gradient = evaluator.value_and_gradient(X, T, evaluator.flat(loaded.parameters))[1]
    np.testing.assert_allclose(gradient, list(reference.values()), rtol=1e-10, atol=1e-14)
