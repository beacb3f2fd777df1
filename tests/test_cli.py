"""The command line: solve and derive output, the JSON contracts, exit codes."""

import argparse
import json
import re
import shutil
import subprocess
import sys

import pytest
import sympy
from conftest import EXAMPLES, ROOT
from sympy.parsing.sympy_parser import parse_expr
from test_seed_example import ETA, W, hand_calculation

from symbackprop import cli

SEED = str(EXAMPLES / "seed_2_2_1.yaml")


def run(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_solve_json_contract(capsys):
    code, out, err = run(capsys, "solve", SEED, "--json")
    assert code == 0 and err == ""
    data = json.loads(out)
    forward, loss, deltas, grads = hand_calculation()
    assert data["loss"] == pytest.approx(loss, rel=1e-12)
    assert data["forward"] == pytest.approx(forward, rel=1e-12)
    assert data["gradients"] == pytest.approx(grads, rel=1e-12)
    assert data["updated"] == pytest.approx({n: W[n] - ETA * g for n, g in grads.items()}, rel=1e-12)
    assert data["gradcheck"]["ok"] is True and data["gradcheck"]["max_rel_error"] < 1e-8


def test_solve_table_shows_every_quantity(capsys):
    code, out, _ = run(capsys, "solve", SEED, "--decimals", "4")
    assert code == 0
    for text in ["z1", "0.3300", "h1", "0.5818", "0.7391", "L = 0.0097", "w31", "0.0156", "0.4984", "ok"]:
        assert text in out


def test_derive_json_expression_reads_back_and_equals_sympy_diff(capsys):
    code, out, _ = run(capsys, "derive", SEED, "--json")
    assert code == 0
    data = json.loads(out)
    # oracle: the seed network written out by hand here, differentiated by SymPy
    x1, x2, t = sympy.symbols("x1 x2 t")
    p = {n: sympy.Symbol(n) for n in W}
    s = lambda z: 1 / (1 + sympy.exp(-z))  # noqa: E731
    h1 = s(p["w11"] * x1 + p["w12"] * x2 + p["b1"])
    h2 = s(p["w21"] * x1 + p["w22"] * x2 + p["b2"])
    y = s(p["w31"] * h1 + p["w32"] * h2 + p["b3"])
    loss = (y - t) ** 2 / 2
    point = {x1: 0.5, x2: 0.1, t: 0.6, **{p[n]: v for n, v in W.items()}}
    for name, entry in data["parameters"].items():
        table = entry["symbols"]
        names = table["inputs"] + table["targets"] + table["parameters"]
        expr = parse_expr(entry["expression"], local_dict={n: sympy.Symbol(n) for n in names})
        assert {str(s) for s in expr.free_symbols} <= set(names)
        assert float(expr.subs(point)) == pytest.approx(float(sympy.diff(loss, p[name]).subs(point)), rel=1e-12)
        assert entry["proof"] is True
    w11 = data["parameters"]["w11"]
    assert [(f["of"], f["wrt"]) for f in w11["chains"][0]] == [("L", "y"), ("y", "z3"), ("z3", "h1"), ("h1", "z1"), ("z1", "w11")]
    assert w11["delta_form"] == "delta1*x1"
    assert set(data["deltas"]) == {"delta1", "delta2", "delta3"}
    assert data["activations"]["layer 1"] == {"name": "sigmoid", "definition": "h1 = sigmoid(z1)", "derivative": "dh1/dz1 = h1*(1 - h1)"}
    assert data["loss"] == {"name": "half_squared_error", "expression": "(-t + y)**2/2"}


def test_derive_text_for_one_parameter(capsys):
    code, out, _ = run(capsys, "derive", SEED, "--param", "w11")
    assert code == 0
    assert "∂L/∂y · ∂y/∂z3 · ∂z3/∂h1 · ∂h1/∂z1 · ∂z1/∂w11" in out
    assert "∂L/∂w31" not in out
    assert "loss half_squared_error: L = (-t + y)**2/2" in out
    assert "layer 2, sigmoid: y = sigmoid(z3) (first neuron), dy/dz3 = y*(1 - y)" in out


def test_output_cut_short_by_the_reader_is_not_an_error():
    # the deep example's derivation is far longer than a pipe's buffer
    command = f"{sys.executable} -m symbackprop derive {EXAMPLES / 'big.yaml'} | head -1"
    result = subprocess.run(command, shell=True, capture_output=True, text=True, cwd=ROOT)
    assert result.stdout.strip() == "Deep example: an 8-8-8-8-8-1 sigmoid network" and result.stderr == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["derive", SEED, "--param", "w1"], "--param: no parameter named 'w1' (did you mean 'w31'?)"),
        (["solve", "nope.yaml"], "nope.yaml: no such file"),
        (["solve"], "the following arguments are required: spec"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(capsys, args, message):
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_bad_spec_names_the_key(capsys, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("layers: [2, 2, 1]\nactivation: sigmod\nloss: mse\n")
    code, _, err = run(capsys, "solve", str(path))
    assert code == 2
    assert err.strip() == (
        f"symbackprop: error: {path}:2: activation: unknown value 'sigmod' (did you mean 'sigmoid'?); "
        "valid: sigmoid, tanh, relu, leaky_relu, linear, softplus, softmax"
    )


def test_solve_without_data_says_what_is_missing(capsys, tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("layers: [2, 1]\nloss: mse\n")
    code, _, err = run(capsys, "solve", str(path))
    assert code == 2 and "inputs: missing" in err


def test_python_dash_m_and_console_script():
    result = subprocess.run([sys.executable, "-m", "symbackprop", "solve", SEED, "--json"], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0 and json.loads(result.stdout)["gradcheck"]["ok"]
    script = shutil.which("symbackprop")
    if script:
        version = subprocess.run([script, "--version"], capture_output=True, text=True)
        assert version.returncode == 0 and version.stdout.startswith("symbackprop ")


def test_every_example_in_the_help_names_files_that_exist():
    parser = cli._parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    named = [path for command in commands.values()
             for path in re.findall(r"examples/\w+\.\w+", command.description or "")]  # fmt: skip
    assert named, "no command's help names an example file"
    missing = [path for path in named if not (ROOT / path).is_file()]
    assert missing == [], missing
