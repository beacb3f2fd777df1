"""Custom formulas through every command: each allowed function end to end, complex and bomb families refused.

Oracle: the network written out in mpmath with the formula as a Python function (not
parsed by the engine), the gradients by mpmath's numerical differentiation at 30 digits.
"""

import json
import subprocess
import sys
import textwrap

import mpmath
import pytest
import sympy
import yaml
from conftest import ROOT

from symbackprop import cli, formula

mp = mpmath.mp
X, T, ETA = (0.5, -0.3), 0.6, 0.1
PARAMETERS = {"w11": 0.4, "w12": -0.3, "w21": 0.6, "w22": 0.9, "w31": 0.5, "w32": -0.7, "b1": 0.1, "b2": -0.2, "b3": 0.3}

# one formula per allowed function, and the same formula written for the oracle
FORMULAS = {
    "exp": ("exp(-z**2) + 0.5*z", lambda v: mpmath.exp(-(v**2)) + v / 2),
    "log": ("log(1 + z**2)", lambda v: mpmath.log(1 + v**2)),
    "ln": ("ln(2 + z**2) - z", lambda v: mpmath.log(2 + v**2) - v),
    "sqrt": ("sqrt(1 + z**2)", lambda v: mpmath.sqrt(1 + v**2)),
    "abs": ("z / (1 + abs(z))", lambda v: v / (1 + abs(v))),
    "tanh": ("tanh(0.8*z) + 0.1*z", lambda v: mpmath.tanh(mpmath.mpf(4) / 5 * v) + v / 10),
    "sigmoid": ("z * sigmoid(z)", lambda v: v / (1 + mpmath.exp(-v))),
    "softplus": ("softplus(z) - 0.5", lambda v: mpmath.log(1 + mpmath.exp(v)) - mpmath.mpf(1) / 2),
    "relu": ("relu(z) + 0.1*z", lambda v: max(v, 0) + v / 10),
    "max": ("max(z, 0.2*z)", lambda v: max(v, v / 5)),
    "min": ("min(z, 0.2) + 0.5*z", lambda v: min(v, mpmath.mpf(1) / 5) + v / 2),
}


def test_every_allowed_function_has_a_formula_here():
    assert set(FORMULAS) == set(formula.FUNCTIONS)


def _spec(tmp_path, text, *, hidden=True):
    raw = {"layers": [2, 2, 1], "activations": {"g": text}, "activation": ["g", "sigmoid"] if hidden else ["tanh", "g"],
           "loss": "half_squared_error", "learning_rate": ETA, "inputs": list(X), "targets": [T],
           "parameters": PARAMETERS}  # fmt: skip
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def _oracle(f):
    """Loss and gradients of the 2-2-1 network with hidden activation f, sigmoid output, ½ squared error."""
    mp.dps = 30
    names = list(PARAMETERS)

    def loss(*values):
        p = dict(zip(names, values))
        h1 = f(p["w11"] * X[0] + p["w12"] * X[1] + p["b1"])
        h2 = f(p["w21"] * X[0] + p["w22"] * X[1] + p["b2"])
        y = 1 / (1 + mpmath.exp(-(p["w31"] * h1 + p["w32"] * h2 + p["b3"])))
        return (y - T) ** 2 / 2

    at = [mpmath.mpf(repr(v)) for v in PARAMETERS.values()]
    grads = {}
    for i, name in enumerate(names):
        grads[name] = float(mpmath.diff(lambda v, i=i: loss(*at[:i], v, *at[i + 1 :]), at[i]))
    return float(loss(*at)), grads


def run(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def assert_refusal(code, out, err, *needles):
    assert code == 2, (code, out, err)
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 3 and all(len(line) <= 400 for line in lines), err
    assert "Traceback" not in err and "internal error" not in err, err
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.mark.parametrize("function", list(FORMULAS))
def test_each_function_through_every_command(tmp_path, capsys, monkeypatch, function):
    monkeypatch.chdir(tmp_path)
    text, f = FORMULAS[function]
    spec = _spec(tmp_path, text)
    loss, grads = _oracle(f)

    code, out, err = run(capsys, "solve", spec, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["loss"] == pytest.approx(loss, rel=1e-9)
    assert data["gradients"] == pytest.approx(grads, rel=1e-8, abs=1e-12)

    code, out, err = run(capsys, "derive", spec, "--json")
    assert code == 0, err
    proofs = [entry.get("proof", True) for entry in json.loads(out)["parameters"].values()]
    assert all(proofs)

    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump({"loss": round(loss, 8), "gradients": {n: round(g, 8) for n, g in grads.items()}}))
    code, out, err = run(capsys, "check", spec, str(answers), "--json")
    assert code == 0, (out, err)

    code, out, err = run(capsys, "handout", spec, "-o", str(tmp_path / "x.tex"))
    assert code == 0, err
    assert r"\operatorname{g}" in (tmp_path / "x.tex").read_text()

    code, out, err = run(capsys, "train", spec, "--json", "--epochs", "1")
    assert code == 0, err
    expected = {n: PARAMETERS[n] - ETA * g for n, g in grads.items()}
    assert json.loads(out)["parameters"] == pytest.approx(expected, rel=1e-9, abs=1e-12)

    code, out, err = run(capsys, "export", spec, "-o", str(tmp_path / "m.py"))
    assert code == 0, err
    script = f"import json, m; print(json.dumps({{k: float(v) for k, v in m.gradients({X[0]}, {X[1]}, {T}, **{PARAMETERS!r}).items()}}))"
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == pytest.approx(grads, rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("function", ["sigmoid", "sqrt", "min"])
def test_formula_as_the_output_activation(tmp_path, capsys, function):
    text, _ = FORMULAS[function]
    code, out, err = run(capsys, "derive", _spec(tmp_path, text, hidden=False), "--json")
    assert code == 0, err
    assert all(entry.get("proof", True) for entry in json.loads(out)["parameters"].values())


# formulas that are complex or undefined somewhere on the real line, and the part each message names
NOT_REAL = [
    ("z + sqrt(-1)", "sqrt(-1) is not real"),
    ("(-1)**0.5*z", "(-1) ** 0.5 is not real"),
    ("(-8)**0.25 + z", "(-8) ** 0.25 is not real"),
    ("log(-2)*z", "log(-2) is undefined"),
    ("z + log(0)", "log(0) is undefined"),
    ("log(z)", "log(z) is undefined for z ≤ 0"),
    ("sqrt(z)", "sqrt(z) is not real for z < 0"),
    ("z**0.5", "z ** 0.5 is not real for z < 0"),
    ("(z-5)**1.5", "(z - 5) ** 1.5 is not real for z < 5"),
    ("sqrt(1 - z)", "sqrt(1 - z) is not real for z > 1"),
    ("z**-1.5", "z ** (-1.5) is not real for z ≤ 0"),
    ("log(-exp(z))", "log(-exp(z)) is undefined for every z"),
    ("sqrt(-z**2 - 1)", "is not real for every z"),
    ("sqrt(exp(z) - 0.5)", "sqrt(exp(z) - 0.5) is not real at z = -1"),
    ("sqrt(z**3)", "sqrt(z ** 3) is not real at z = -1"),
    ("log(tanh(z))", "log(tanh(z)) is undefined at z = 0"),
    ("sqrt(sigmoid(z) - 0.5)", "is not real at z = -1"),
    ("sqrt(min(z, 1))", "is not real at z = -1"),
    ("log(relu(z))", "log(relu(z)) is undefined at z = 0"),
    ("log(abs(z))", "log(abs(z)) is undefined at z = 0"),
    ("sqrt(z**2 - 2*z)", "is not real at z = 1"),
    ("log(z**2 - 2*z + 0.999999)", "is undefined at z = 1;"),  # negative only for 0.999 < z < 1.001
    ("1/z", "1 / z is undefined at z = 0"),
    ("z/(z - 1)", "z / (z - 1) is undefined at z = 1"),
    ("z**-2", "z ** (-2) is undefined at z = 0"),
    ("1/tanh(z)", "1 / tanh(z) is undefined at z = 0"),
    ("1/(exp(z) - 1)", "is undefined at z = 0"),
    ("1/(z**2 - 2)", "1 / (z ** 2 - 2) is undefined near z = -1.5"),
    ("sqrt(1 + tanh(z))", "cannot be shown to be real for every real z"),  # true, but not provable here
    ("1/(2 + tanh(z))", "cannot be shown to be defined for every real z"),
]

REAL = [
    "sqrt(z**2 + 1)", "log(1 + exp(z))", "z/(1 + abs(z))", "z*sigmoid(z)", "z**3", "sqrt(z**2 - 2*z + 1)",
    "log(z**2 + 1)", "(1 + z**2)**-1.5", "sqrt(abs(z))", "sqrt(exp(z))", "log(sigmoid(z))", "log(softplus(z))",
    "sqrt(relu(z))", "1/(1 + z**2)", "1/(z**2 - z + 1)", "z**4 - z**2 + 1", "sqrt(max(z, 0))", "(z**2 + 1)**0.5",
    "(-2)**3*z", "2**-3*z", "(-2)**-2*z", "log(1 + relu(z))", "sqrt(1 + sigmoid(z))", "exp(-z**2)",
    "0.5*z*(1 + tanh(0.7978845608*(z + 0.044715*z**3)))", "min(z, 1) + max(z, -1)", "(1 + z**2)**8",
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), NOT_REAL)
def test_formulas_not_real_everywhere_are_refused_naming_the_part(text, message):
    with pytest.raises(formula.FormulaError) as caught:
        formula.parse(text)
    assert message in str(caught.value)
    assert "; " in str(caught.value)  # followed by a fix


@pytest.mark.parametrize("text", REAL)
def test_real_formulas_are_accepted(text):
    expr = formula.parse(text)
    assert expr.is_extended_real is not False and not expr.has(sympy.I)


@pytest.mark.parametrize(("text", "message"), NOT_REAL[::4])
def test_not_real_refusal_through_the_cli(tmp_path, capsys, text, message):
    code, out, err = run(capsys, "solve", _spec(tmp_path, text))
    assert_refusal(code, out, err, "activations.g: ", message)


def test_erf_is_not_offered(tmp_path, capsys):
    code, out, err = run(capsys, "solve", _spec(tmp_path, "erf(z)"))
    assert_refusal(code, out, err, "activations.g: unknown function 'erf'; allowed: exp, log")


# --- bombs: each class in a child process under a memory and a time limit ------------------------

MEMORY = 1536 * 2**20


def nest(name, depth, inner="z"):
    return f"{name}(" * depth + inner + ")" * depth


def powers(depth):
    return "(" * depth + "1+z" + "".join(")**8" for _ in range(depth))


BOMBS = {
    "nested powers": [powers(d) for d in (2, 3, 5, 6, 10)] + ["((1+z)**4)**4", "((1+z)**4)**5", "(z**2+1)**8"],
    "nested calls": [nest(f, d) for f in ("tanh", "exp", "sigmoid", "softplus") for d in (8, 9, 24)]
    + [nest("log(1+exp", 4).replace(")", "))", 4), nest("log", 24, "2+z**2")],
    "long sums and products": ["+".join(["z**2*tanh(z)"] * 12), "*".join(["tanh(z+1)"] * 30),
                               "*".join(["sigmoid(z)"] * 40), "+".join(["z"] * 60), "*".join(["(1+z)**8"] * 3)],
    "big constants": ["999999**8*z", "(999999**8)**8*z", "(0.000001**8)**8*z", "((2**8)**8)**8*z", "z*" + "999999*" * 40 + "1"],
}  # fmt: skip


@pytest.mark.parametrize("kind", list(BOMBS))
def test_formula_bombs_are_refused_or_finish_within_limits(tmp_path, kind):
    specs = []
    for i, text in enumerate(BOMBS[kind]):
        (tmp_path / str(i)).mkdir()
        specs.append(_spec(tmp_path / str(i), text))
    script = textwrap.dedent(f"""
        import contextlib, io, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({MEMORY}, {MEMORY}))
        from symbackprop import cli
        for spec in {specs!r}:
            for command in (["solve", spec], ["derive", spec, "--json"]):
                err = io.StringIO()
                with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
                    code = cli.main(command)
                print(code, command[0], spec, err.getvalue().strip().replace("\\n", " | "))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    for line in result.stdout.splitlines():
        code, _, message = line.partition(" ")
        assert code in ("0", "2"), line
        assert "internal error" not in message and "Traceback" not in message, line


def test_formula_using_z_many_times_in_a_deep_network_keeps_only_the_delta_forms(tmp_path, capsys):
    # written out, each layer would copy the one before six times over: refused before building it
    text = "z*sigmoid(z) + z**2*tanh(z) + z/(1 + z**2) + z*exp(-z**2) + z**3*sigmoid(z) + z*tanh(z)"
    raw = {"layers": [2, 2, 2, 2, 1], "activations": {"g": text}, "activation": "g", "loss": "half_squared_error",
           "inputs": [0.5, 0.1], "targets": [0.6], "init": {"seed": 1}}  # fmt: skip
    path = tmp_path / "deep.yaml"
    path.write_text(yaml.safe_dump(raw))
    code, out, err = run(capsys, "derive", str(path), "--json")
    assert code == 0, err
    assert all("expression" not in entry for entry in json.loads(out)["parameters"].values())
