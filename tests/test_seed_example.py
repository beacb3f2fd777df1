"""The seeds' 2-2-1 worked example: every number pinned against an independent computation."""

import math

import pytest
import sympy
import yaml
from conftest import EXAMPLES

import symbackprop as sbp

SEED = EXAMPLES / "seed_2_2_1.yaml"
W = dict(w11=0.4, w12=0.3, w21=0.6, w22=0.9, w31=0.5, w32=0.7, b1=0.1, b2=0.2, b3=0.3)
X1, X2, T, ETA = 0.5, 0.1, 0.6, 0.1


def sigma(z):
    return 1 / (1 + math.exp(-z))


def hand_calculation():
    """The example worked by hand, scalar by scalar, as the seeds do it."""
    z1 = W["w11"] * X1 + W["w12"] * X2 + W["b1"]
    z2 = W["w21"] * X1 + W["w22"] * X2 + W["b2"]
    h1, h2 = sigma(z1), sigma(z2)
    z3 = W["w31"] * h1 + W["w32"] * h2 + W["b3"]
    y = sigma(z3)
    loss = 0.5 * (y - T) ** 2
    d3 = (y - T) * y * (1 - y)
    d1 = d3 * W["w31"] * h1 * (1 - h1)
    d2 = d3 * W["w32"] * h2 * (1 - h2)
    grads = dict(w31=d3 * h1, w32=d3 * h2, b3=d3, w11=d1 * X1, w12=d1 * X2, b1=d1, w21=d2 * X1, w22=d2 * X2, b2=d2)
    forward = dict(z1=z1, z2=z2, h1=h1, h2=h2, z3=z3, y=y)
    return forward, loss, dict(delta3=d3, delta1=d1, delta2=d2), grads


@pytest.fixture(scope="module")
def solved():
    derivation = sbp.derive(sbp.load_spec(SEED))
    return derivation, sbp.solve(derivation)


def test_example_file_holds_the_seed_values():
    raw = yaml.safe_load(SEED.read_text())
    assert raw["inputs"] == [X1, X2] and raw["targets"] == [T] and raw["learning_rate"] == ETA
    assert raw["parameters"] == W
    assert raw["layers"] == [2, 2, 1] and raw["activation"] == "sigmoid" and raw["loss"] == "half_squared_error"


def test_every_number_matches_the_hand_calculation(solved):
    _, solution = solved
    forward, loss, deltas, grads = hand_calculation()
    for name, value in forward.items():
        assert solution.forward[name][0] == pytest.approx(value, rel=1e-12), name
    assert solution.loss == pytest.approx(loss, rel=1e-12)
    for name, value in deltas.items():
        assert solution.deltas[name][0] == pytest.approx(value, rel=1e-12), name
    for name, value in grads.items():
        assert solution.gradients[name] == pytest.approx(value, rel=1e-12), name
        assert solution.updated[name] == pytest.approx(W[name] - ETA * value, rel=1e-12), name


def test_rounded_values_as_printed_in_hand_worked_solutions(solved):
    # the four-decimal values a student gets for this example (z1, h1, z3, ŷ, L, two gradients, one update)
    _, solution = solved
    assert round(solution.forward["z1"][0], 4) == 0.33
    assert round(solution.forward["h1"][0], 4) == 0.5818
    assert round(solution.forward["z3"][0], 4) == 1.0412
    assert round(solution.forward["y"][0], 4) == 0.7391
    assert round(solution.loss, 4) == 0.0097
    assert round(solution.gradients["w31"], 4) == 0.0156
    assert round(solution.gradients["w11"], 4) == 0.0016
    assert round(solution.updated["w31"], 4) == 0.4984


def test_chain_for_w11_has_the_seeds_factors(solved):
    derivation, _ = solved
    y, t, z3, h1, z1, w31, x1, w11, L = sympy.symbols("y t z3 h1 z1 w31 x1 w11 L", real=True)
    (chain,) = derivation.gradients["w11"].chains
    assert [(f.of, f.wrt) for f in chain] == [(L, y), (y, z3), (z3, h1), (h1, z1), (z1, w11)]
    expressions = [f.expression for f in chain]
    assert expressions[0] - (y - t) == 0
    assert (expressions[1] - y * (1 - y)).expand() == 0
    assert expressions[2] == w31
    assert (expressions[3] - h1 * (1 - h1)).expand() == 0
    assert expressions[4] == x1


def test_delta_form_reuses_each_delta(solved):
    derivation, _ = solved
    y, t, h1, w31, x1, d1, d3 = sympy.symbols("y t h1 w31 x1 delta1 delta3", real=True)
    assert (derivation.deltas[d3].definition - (y - t) * y * (1 - y)).expand() == 0
    assert (derivation.deltas[d1].definition - d3 * w31 * h1 * (1 - h1)).expand() == 0
    assert derivation.gradients["w11"].delta_form == d1 * x1


def test_symbolic_proof_holds_for_every_parameter(solved):
    derivation, _ = solved
    assert sbp.prove(derivation) == {name: True for name in W}


def test_gradcheck_agrees(solved):
    derivation, _ = solved
    check = sbp.gradcheck(derivation)
    assert check.ok and check.max_relative_error < 1e-8
    assert {r.name for r in check.rows} == set(W)
