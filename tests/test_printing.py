"""The handout printer: the seeds' notation, ordering and substituted numbers."""

from __future__ import annotations

import pytest
import sympy

import symbackprop as sbp
from symbackprop import printing
from conftest import EXAMPLES


@pytest.fixture(scope="module")
def seed():
    return sbp.derive(sbp.load_spec(EXAMPLES / "seed_2_2_1.yaml"))


def symbols(network):
    return {s.name: s for s in [*network.inputs, *network.targets, *network.parameters, network.loss_symbol]
            + [x for n in network.neurons for x in (n.z, n.a, n.delta)]}


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (0.33, 6, "0.33"),
        (0.5817593768418363, 6, "0.581759"),
        (0.5817593768418363, 2, "0.58"),
        (0.4, 4, "0.4"),
        (-0.25, 4, "-0.25"),
        (2.0, 3, "2"),
        (0.0, 3, "0"),
        (-0.00001, 3, r"-1 \times 10^{-5}"),
        (0.000025, 4, r"2.5 \times 10^{-5}"),
        (-0.0000001, 6, r"-1 \times 10^{-7}"),
        (12.345678, 0, "12"),
    ],
)
def test_number_rounds_for_display_only(value, decimals, expected):
    assert printing.number(value, decimals=decimals) == expected


def test_hidden_delta_reads_like_the_seeds(seed):
    # δ1 = δ3 · w31 · h1(1 − h1): δ first, then the weight, then the values
    s = symbols(seed.network)
    assert printing.latex(seed.deltas[s["delta1"]].definition, seed.network) == r"\delta_{3} w_{31} h_{1} \left(1 - h_{1}\right)"


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda s: s["w11"] * s["x1"] + s["w12"] * s["x2"] + s["b1"], r"w_{11} x_{1} + w_{12} x_{2} + b_{1}"),
        (lambda s: s["y"] - s["t"], r"\hat{y} - t"),
        (lambda s: 1 - s["h2"], r"1 - h_{2}"),
        (lambda s: sympy.Rational(1, 2) * (s["y"] - s["t"]) ** 2, r"\frac{1}{2} \left(\hat{y} - t\right)^{2}"),
        (lambda s: s["delta3"] * s["h1"], r"\delta_{3} h_{1}"),
        (lambda s: -s["t"] * sympy.log(s["y"]), r"-t \ln{\left(\hat{y} \right)}"),
    ],
)
def test_expressions_in_the_seeds_notation(seed, build, expected):
    assert printing.latex(build(symbols(seed.network)), seed.network) == expected


def test_leibniz_chain_of_a_hidden_weight(seed):
    chain = seed.gradients["w11"].chains[0]
    partials = [printing.partial(f.of, f.wrt, seed.network) for f in chain]
    assert partials == [
        r"\frac{\partial L}{\partial \hat{y}}", r"\frac{\partial \hat{y}}{\partial z_{3}}",
        r"\frac{\partial z_{3}}{\partial h_{1}}", r"\frac{\partial h_{1}}{\partial z_{1}}",
        r"\frac{\partial z_{1}}{\partial w_{11}}",
    ]  # fmt: skip
    expressions = printing.chain([f.expression for f in chain], seed.network)
    assert expressions == r"\left(\hat{y} - t\right) \cdot \hat{y} \left(1 - \hat{y}\right) \cdot w_{31} \cdot h_{1} \left(1 - h_{1}\right) \cdot x_{1}"


def test_substitution_keeps_the_shape_and_brackets_negative_numbers(seed):
    s = symbols(seed.network)
    expr = s["w11"] * s["x1"] + s["w12"] * s["x2"] + s["b1"]
    values = {s["w11"]: 0.4, s["x1"]: -0.5, s["w12"]: -0.3, s["x2"]: 0.1, s["b1"]: -0.1}
    assert printing.latex(expr, seed.network, values=values) == (
        r"0.4 \cdot \left(-0.5\right) + \left(-0.3\right) \cdot 0.1 + \left(-0.1\right)"
    )


def test_substituted_numbers_follow_the_symbolic_order(seed):
    s = symbols(seed.network)
    values = {s["delta3"]: 0.026821, s["w31"]: 0.5, s["h1"]: 0.581759}
    text = printing.latex(seed.deltas[s["delta1"]].definition, seed.network, values=values)
    assert text == r"0.026821 \cdot 0.5 \cdot 0.581759 \cdot \left(1 - 0.581759\right)"


def test_signed_sum_subtracts_negative_terms():
    assert printing.signed_sum([0.25, -0.5, 1.0], decimals=3) == "0.25 - 0.5 + 1"
    assert printing.signed_sum([-0.25], decimals=3) == "-0.25"


def test_long_sums_are_elided(seed):
    s = symbols(seed.network)
    terms = [s["w11"] * s["x1"], s["w12"] * s["x2"], s["w21"], s["w22"], s["w31"], s["b1"]]
    assert printing.elided_sum(terms, seed.network) == r"w_{11} x_{1} + w_{12} x_{2} + \cdots + w_{31} + b_{1}"


@pytest.mark.parametrize(
    ("rename", "expected"),
    [
        ({"w11": "beta", "w12": "e"}, r"\beta x_{1} + e x_{2} + b_{1}"),
        ({"w11": "Lambda", "w12": "sum"}, r"\mathit{Lambda} x_{1} + \mathit{sum} x_{2} + b_{1}"),
        ({"w11": "w_a1", "w12": "gamma_2"}, r"w_{a1} x_{1} + \gamma_{2} x_{2} + b_{1}"),
        ({"w11": "w12", "w12": "w11"}, r"w_{12} x_{1} + w_{11} x_{2} + b_{1}"),  # swapped names keep their own LaTeX
    ],
)
def test_renamed_parameters_typeset_as_their_own_names(rename, expected):
    spec = sbp.spec_from_dict({"layers": [2, 1], "loss": "half_squared_error", "rename": rename})
    network = sbp.derive(spec).network
    neuron = network.neurons[0]
    assert printing.latex(network.z_definition(neuron), network) == expected
