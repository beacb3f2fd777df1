"""The custom-activation formula parser: what it builds, what it refuses, what it never runs."""

import subprocess
import sys

import numpy as np
import pytest
import reference
import sympy
from conftest import ROOT

import symbackprop as sbp
from symbackprop import formula
from symbackprop.ops import sigmoid

z = formula.Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("z / (1 + exp(-z))", z / (1 + sympy.exp(-z))),
        ("z * sigmoid(z)", z * sigmoid(z)),
        ("0.5 * z * (1 + tanh(0.8 * z))", sympy.Rational(1, 2) * z * (1 + sympy.tanh(sympy.Rational(4, 5) * z))),
        ("max(z, 0.1 * z)", sympy.Max(z, z / 10)),
        ("z**2 - 3*z + 1", z**2 - 3 * z + 1),
        ("sqrt(1 + z**2) - 1", sympy.sqrt(1 + z**2) - 1),
        ("-z", -z),
        ("ln(1 + exp(z))", sympy.log(1 + sympy.exp(z))),
        ("(1 + z**2) ** -1.5", (1 + z**2) ** sympy.Rational(-3, 2)),
        ("z**2 * tanh(z)", z**2 * sympy.tanh(z)),
    ],
)
def test_formulas_build_the_expected_sympy(text, expected):
    assert formula.parse(text) - expected == 0


def test_custom_activation_gradients_match_the_oracles(tmp_path):
    # swish, the example; oracle: sympy.diff of the substituted loss and NumPy differences
    raw = {"layers": [2, 2, 1], "activations": {"swish": "z / (1 + exp(-z))"}, "activation": ["swish", "sigmoid"],
           "loss": "half_squared_error", "inputs": [0.5, 0.1], "targets": [0.6], "init": {"seed": 3}}  # fmt: skip
    derivation = sbp.derive(sbp.spec_from_dict(raw))
    solution = sbp.solve(derivation)
    params = dict(derivation.network.spec.parameters)
    swish = lambda v: v / (1 + np.exp(-v))  # noqa: E731
    h = swish(np.array([[params["w11"], params["w12"]], [params["w21"], params["w22"]]]) @ [0.5, 0.1] + [params["b1"], params["b2"]])
    y = 1 / (1 + np.exp(-(params["w31"] * h[0] + params["w32"] * h[1] + params["b3"])))
    assert solution.forward["y"][0] == pytest.approx(y, rel=1e-12)
    # the reference builds swish itself, from the same formula written in SymPy here
    x1, x2 = 0.5, 0.1
    p = {n: sympy.Symbol(n) for n in params}
    sw = lambda v: v / (1 + sympy.exp(-v))  # noqa: E731
    out = 1 / (1 + sympy.exp(-(p["w31"] * sw(p["w11"] * x1 + p["w12"] * x2 + p["b1"]) + p["w32"] * sw(p["w21"] * x1 + p["w22"] * x2 + p["b2"]) + p["b3"])))
    loss = (out - 0.6) ** 2 / 2
    at = {p[n]: v for n, v in params.items()}
    for name, value in solution.gradients.items():
        assert value == pytest.approx(float(sympy.diff(loss, p[name]).subs(at)), rel=1e-10)
    assert all(sbp.prove(derivation).values())
    # the derivative of the formula appears as the local factor ∂h1/∂z1
    (chain,) = derivation.gradients["w11"].chains
    z1 = sympy.Symbol("z1", real=True)
    assert sympy.simplify(chain[3].expression - sympy.diff(z1 / (1 + sympy.exp(-z1)), z1)) == 0


def test_reference_module_is_untouched_by_custom_names():
    # guard: the oracle knows nothing of custom activations, so the test above writes swish itself
    with pytest.raises(ValueError):
        reference._np_activation("swish", 0.0)


HOSTILE = [
    "__import__('os').system('touch marker')",
    "open('marker', 'w')",
    "exec(\"open('marker','w')\")",
    "eval('1')",
    "z.__class__.__bases__[0].__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__()]",
    "(lambda: open('marker', 'w'))()",
    "getattr(z, 'x')",
    "exp.__globals__",
    "sigmoid.__init__.__globals__['os']",
    "__builtins__",
    "z if open('marker','w') else z",
    "f'{open(\"marker\",\"w\")}'",
    "exp(z)[0]",
    "{z: 1}",
    "z; import os",
    "import os",
    "z == z",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_formulas_run_nothing(tmp_path, monkeypatch, text):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(formula.FormulaError):
        formula.parse(text)
    assert not (tmp_path / "marker").exists()


BOMBS = [
    "9**9**9",
    "z**9**9",
    "(z+1)**100000",
    "2**1000",
    "1e999",
    "z" + "+z" * 5000,
    "(" * 5000 + "z" + ")" * 5000,
    "exp(" * 1000 + "z" + ")" * 1000,
    "-" * 10000 + "z",
    "99999999999999999999999999999999 * z",
    "z" * 100000,
]


def test_resource_bombs_are_refused_at_once():
    # all in one child process, bounded by a generous limit: a bomb that ran would not finish
    script = (
        "import sys; from symbackprop import formula\n"
        f"for text in {BOMBS!r}:\n"
        "    try:\n"
        "        formula.parse(text)\n"
        "    except formula.FormulaError:\n"
        "        continue\n"
        "    sys.exit('accepted: ' + text[:40])\n"
    )
    result = subprocess.run([sys.executable, "-"], input=script, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
