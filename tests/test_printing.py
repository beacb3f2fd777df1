"""The handout printer: the seeds' notation, ordering and substituted numbers."""

from __future__ import annotations

import pytest
import sympy

import symbackprop as sbp
from symbackprop import printing
from conftest import EXAMPLES
import latex_eval


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


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (0.0000014, 6, r"1.4 \times 10^{-6}"),  # not 0.000001: one digit, 30 % off
        (0.012, 2, r"1.2 \times 10^{-2}"),  # not 0.01
        (-0.012, 2, r"-1.2 \times 10^{-2}"),
        (0.00000123456789, 6, r"1.23457 \times 10^{-6}"),  # the decimals' worth of significant digits
        (0.0000123456789, 6, "0.000012"),  # two significant digits at 6 places: fixed point
        (0.0031, 2, r"3.1 \times 10^{-3}"),  # at least two significant digits, even at 2 places
        (0.33, 1, r"3.3 \times 10^{-1}"),
        (0.05, 2, "0.05"),  # exact: one digit says all there is
        (0.01, 2, "0.01"),
        (0.0496, 2, "0.05"),  # 0.05 is already 0.0496 to two significant digits
        (0.0496, 6, "0.0496"),
        (0.012, 3, "0.012"),  # two significant digits in fixed point: no need for more
        (3.4, 0, "3"),  # values from 1 up keep their whole digits
    ],
)
def test_number_too_small_for_its_places_is_scientific(value, decimals, expected):
    assert printing.number(value, decimals=decimals) == expected


@pytest.mark.parametrize(
    ("value", "unlike", "decimals", "expected"),
    [
        (0.39999999, 0.4, 6, "0.39999999"),  # w − η·g with η·g = 1e-8: the new value shows the step
        (0.4, 0.39999999, 6, "0.4"),  # the old value, at the same places, needs none of them
        (0.399674, 0.4, 2, "0.3997"),
        (0.2699999, 0.27, 6, "0.2699999"),
        (0.496879, 0.5, 6, "0.496879"),  # a step the places already show: nothing added
        (0.5, 0.5, 2, "0.5"),  # a frozen parameter: equal values print equal
    ],
)
def test_number_unlike_a_neighbour_shows_the_difference(value, unlike, decimals, expected):
    assert printing.number(value, decimals=decimals, unlike=unlike) == expected


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


# y = ŷ = −0.2, t = 0.6, w = w11 = −0.3, x = x1 = 0.5, h = h1 = 1.4e-6
_VALUES = {"y": -0.2, "t": 0.6, "w11": -0.3, "x1": 0.5, "h1": 1.4e-6}


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda s: 2 * s["y"] - 2 * s["t"], r"2 \cdot \left(-0.2\right) - 2 \cdot 0.6"),  # was 2 0.6: "20.6"
        (lambda s: 2 * s["x1"], r"2 \cdot 0.5"),
        (lambda s: 3 * s["x1"] * s["y"], r"3 \cdot 0.5 \cdot \left(-0.2\right)"),
        (lambda s: -2 * s["w11"], r"-2 \cdot \left(-0.3\right)"),
        (lambda s: s["y"] / 2, r"\frac{1}{2} \cdot \left(-0.2\right)"),
        (lambda s: 2 * s["x1"] ** 2, r"2 \cdot 0.5^{2}"),
        (lambda s: s["w11"] * s["x1"], r"\left(-0.3\right) \cdot 0.5"),
        (lambda s: s["x1"] - s["w11"], r"0.5 - \left(-0.3\right)"),
        (lambda s: 1 - s["y"] ** 2, r"1 - \left(-0.2\right)^{2}"),
        (lambda s: s["h1"] ** 2, r"\left(1.4 \times 10^{-6}\right)^{2}"),
        (lambda s: 2 * s["h1"], r"2 \cdot 1.4 \times 10^{-6}"),
        # a coefficient before a bracket or a function reads as a product already
        (lambda s: sympy.Rational(1, 2) * (s["y"] - s["t"]) ** 2, r"\frac{1}{2} \left(\left(-0.2\right) - 0.6\right)^{2}"),
        (lambda s: 2 * sympy.tanh(s["x1"]), r"2 \tanh{\left(0.5 \right)}"),
        (lambda s: -s["t"] * sympy.log(s["x1"]), r"-0.6 \cdot \ln{\left(0.5 \right)}"),
    ],
)
def test_substituted_products_have_an_operator(seed, build, expected):
    s = symbols(seed.network)
    expr = build(s)
    values = {s[name]: v for name, v in _VALUES.items()}
    text = printing.latex(expr, seed.network, values=values)
    assert text == expected
    # and it reads back as the expression's value (an independent reader, not the printer)
    exact = float(expr.xreplace({k: sympy.Float(v) for k, v in values.items()}))
    assert latex_eval.evaluate(text, decimals=6).overlaps(latex_eval.Interval(exact, exact))


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (lambda s: 2 * s["y"] - 2 * s["t"], r"2 \hat{y} - 2 t"),
        (lambda s: s["y"] / 2, r"\frac{1}{2} \hat{y}"),
        (lambda s: 3 * s["x1"] * s["y"], r"3 x_{1} \hat{y}"),
    ],
)
def test_symbolic_products_stay_juxtaposed(seed, build, expected):
    assert printing.latex(build(symbols(seed.network)), seed.network) == expected
