"""A user's names never change the maths: clashing names compute, read back and typeset as their own.

The oracle for every accepted name is the same network with its default names
(the numbers must agree) and SymPy's parse_expr of the JSON text with the stated
local names; a refused name must be refused with exit 2 and one line that says why.
"""

import contextlib
import io
import json
import math
import re

import pytest
import sympy
from sympy.parsing.sympy_parser import parse_expr

import symbackprop as sbp
from symbackprop import cli, formula, graph, naming

SYMPY_NAMES = ["beta", "gamma", "zeta", "Lambda", "re", "im", "Sum", "Product", "Integral", "Derivative", "Subs",
               "sin", "cos", "atan2", "factorial", "binomial", "N", "S", "O", "Q", "C", "Dummy", "Matrix", "evaluate",
               "Add", "Mul", "Pow", "simplify", "diff", "limit", "series", "Poly", "Expr", "Basic", "KroneckerDelta",
               "Indexed", "IndexedBase", "Order", "ln", "Gt", "Lt", "ITE", "floor", "ceiling", "sinh", "cosh"]  # fmt: skip
NUMPY_NAMES = ["e", "maximum", "minimum", "select", "less", "greater", "less_equal", "greater_equal", "equal", "reduce",
               "where", "inf", "numpy", "array", "asarray", "logaddexp", "log1p", "exp2", "heaviside", "multiply",
               "add", "errstate", "broadcast_to", "newaxis", "euler_gamma", "Inf", "NaN", "absolute"]  # fmt: skip
BUILTIN_NAMES = ["sum", "max", "min", "abs", "float", "int", "print", "list", "dict", "range", "len", "round", "pow",
                 "exec", "eval", "compile", "open", "type", "object", "map", "zip", "iter", "next", "all", "any",
                 "bool", "str", "repr", "getattr", "setattr", "globals", "locals", "vars", "id", "input", "match",
                 "case", "self", "cls", "builtins", "os", "sys"]  # fmt: skip
# identifiers of the code symbackprop generates (lambdify, the exported module, the numba loop)
CODE_NAMES = ["n", "c", "i", "k", "size", "chunks", "partial", "acc0", "acc1", "X", "T", "P", "math", "numba",
              "namespace", "columns", "count", "mean", "grads", "inputs", "targets", "parameters", "values", "name",
              "value", "loss", "gradients", "mean_gradients", "INPUTS", "TARGETS", "PARAMETERS", "lambdify", "cse",
              "v0", "V0", "p0", "lambdifygenerated", "Dummy_1", "sympy", "scipy", "mpmath", "mathx"]  # fmt: skip
FAMILIES = SYMPY_NAMES + NUMPY_NAMES + BUILTIN_NAMES + CODE_NAMES


def _groups(size):
    """The families in groups of up to `size` names, for naming every parameter of a network at once."""
    families = [("sympy", SYMPY_NAMES), ("numpy", NUMPY_NAMES), ("builtins", BUILTIN_NAMES), ("code", CODE_NAMES)]
    return {f"{family}-{i}": names[i : i + size] for family, names in families for i in range(0, len(names), size)}


GROUPS = _groups(12)  # NETWORK has 12 parameters
SMALL_GROUPS = _groups(7)  # and 7 with layers [2, 1, 2], whose derivation is quicker
# what SymPy or its parser write in the JSON text, and the exported module's globals: refused
REFUSED = ["exp", "log", "sqrt", "Abs", "sign", "tanh", "Max", "Min", "Heaviside", "Piecewise", "E", "pi",
           "I", "oo", "zoo", "nan", "sigmoid", "softplus", "relu", "step", "leaky_relu", "leaky_step", "Integer",
           "Float", "Rational", "Symbol", "Function", "np", "L", "lambda", "True", "None", "def"]  # fmt: skip

# A hidden custom formula whose generated code uses e, maximum, select, less, abs and exp,
# and a softmax output, whose stable form uses maximum: what a clashing name would break.
NETWORK = {
    "layers": [2, 2, 2],
    "activation": ["f", "softmax"],
    "activations": {"f": "max(z, 0.1*z) + z*exp(1)/10 + abs(z)/5"},
    "loss": "cross_entropy",
    "inputs": [0.7, -1.3],
    "targets": [0.25, 0.75],
    "init": {"seed": 3},
}


def _write(tmp_path, raw, name="spec.json"):
    path = tmp_path / name
    path.write_text(json.dumps(raw))
    return str(path)


def _run(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_refusal(code, out, err):
    assert code == 2, err
    assert out == ""
    lines = err.splitlines()
    assert 1 <= len(lines) <= 3 and all(len(line) <= 400 for line in lines), err
    assert "Traceback" not in err and "internal error" not in err
    return err


@pytest.fixture(scope="module")
def default_solution():
    spec = sbp.spec_from_dict(NETWORK)
    return spec.parameters, sbp.solve(sbp.derive(spec))


@pytest.mark.parametrize("names", GROUPS.values(), ids=GROUPS.keys())
def test_clashing_names_give_the_numbers_of_the_default_names(names, tmp_path, capsys, default_solution):
    values, oracle = default_solution
    new = dict(zip(values, names))
    raw = {**NETWORK, "rename": new, "parameters": {new.get(p, p): v for p, v in values.items()}}
    raw.pop("init")
    code, out, err = _run(capsys, "solve", _write(tmp_path, raw), "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["loss"] == pytest.approx(oracle.loss, rel=1e-12)
    assert list(got["gradients"]) == [new.get(p, p) for p in oracle.gradients]
    for p, value in oracle.gradients.items():
        assert got["gradients"][new.get(p, p)] == pytest.approx(value, rel=1e-12, abs=1e-15), p
        assert got["updated"][new.get(p, p)] == pytest.approx(oracle.updated[p], rel=1e-12, abs=1e-15), p
    assert got["gradcheck"]["ok"] is True


@pytest.mark.parametrize("name", REFUSED)
def test_a_name_that_would_be_misread_is_refused(name, tmp_path, capsys):
    err = _one_line_refusal(*_run(capsys, "solve", _write(tmp_path, {**NETWORK, "rename": {"w11": name}})))
    assert "rename.w11" in err and repr(name) in err


def test_e_beside_exp_1_is_the_parameter_not_eulers_number(tmp_path, capsys):
    # the example: one neuron a = z·e, L = ½ (a − 0)², w = 1, b = 0.5, x = 1
    raw = {"layers": [1, 1], "loss": "half_squared_error", "activation": "f", "activations": {"f": "z*exp(1)"},
           "inputs": [1.0], "targets": [0.0], "rename": {"w11": "e"}, "parameters": {"e": 1.0, "b1": 0.5}}  # fmt: skip
    code, out, err = _run(capsys, "solve", _write(tmp_path, raw), "--json")
    assert code == 0, err
    got = json.loads(out)
    a = 1.5 * math.e
    assert got["loss"] == pytest.approx(0.5 * a**2, rel=1e-14)
    assert got["gradients"]["e"] == pytest.approx(a * math.e * 1.0, rel=1e-14)


def test_e_beside_exp_1_in_the_proof_and_the_checker(tmp_path, capsys):
    """The numeric proof (mpmath code) and the checker's mistake runs compile on internal names too."""
    from symbackprop import chain

    e = sympy.Symbol("e", real=True)
    assert not chain._vanishes_at_random_points(e - sympy.E)  # e − Euler's number is not zero
    raw = {"layers": [1, 1], "loss": "half_squared_error", "activation": "f", "activations": {"f": "z*exp(1)"},
           "inputs": [1.0], "targets": [0.0], "rename": {"w11": "e"}, "parameters": {"e": 1.0, "b1": 0.5}}  # fmt: skip
    spec = _write(tmp_path, raw)
    a = 1.5 * math.e  # the output, by hand; δ = a·e, ∂L/∂e = δ·x
    answers = tmp_path / "answers.yaml"
    answers.write_text(f"forward: {{y: {a:.6f}}}\nloss: {0.5 * a * a:.6f}\ngradients: {{e: {a * math.e:.6f}}}\n")
    code, out, err = _run(capsys, "check", spec, str(answers), "--json")
    assert code == 0, out + err
    assert {q["status"] for q in json.loads(out)["quantities"]} == {"correct"}


@pytest.mark.parametrize("name", ["maximum", "select", "less", "greater", "minimum", "reduce", "where", "inf"])
def test_numpy_names_on_every_parameter_of_a_softmax_layer(name, tmp_path, capsys):
    raw = {"layers": [2, 3], "activation": "softmax", "loss": "cross_entropy", "inputs": [0.4, -0.9],
           "targets": [0.2, 0.3, 0.5], "init": {"seed": 1}}  # fmt: skip
    plain = json.loads(_run(capsys, "solve", _write(tmp_path, raw, "plain.json"), "--json")[1])
    renamed = {**raw, "rename": {p: f"{name}{i}" if i else name for i, p in enumerate(plain["gradients"])}}
    code, out, err = _run(capsys, "solve", _write(tmp_path, renamed), "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["loss"] == pytest.approx(plain["loss"], rel=1e-12)
    assert list(got["gradients"].values()) == pytest.approx(list(plain["gradients"].values()), rel=1e-12)


def _expressions(data):
    """Every expression text of `derive --json`, with where it is."""
    yield "loss", data["loss"]["expression"]
    for symbol, delta in data["deltas"].items():
        yield f"deltas.{symbol}", delta["definition"]
        for term in delta["terms"]:
            for factor in term:
                yield f"deltas.{symbol}.factor", factor["expression"]
    for name, entry in data["parameters"].items():
        yield f"{name}.delta_form", entry["delta_form"]
        if entry.get("expression") is not None:
            yield f"{name}.expression", entry["expression"]
        for chain in entry["chains"] or []:
            for factor in chain:
                yield f"{name}.factor", factor["expression"]


def _read(text, table):
    names = [n for kind in table.values() for n in kind]
    return parse_expr(text, local_dict={n: sympy.Symbol(n, real=True) for n in names})


@pytest.fixture(scope="module")
def default_json(tmp_path_factory):
    raw = {**NETWORK, "layers": [2, 1, 2]}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["derive", _write(tmp_path_factory.mktemp("default"), raw), "--json"]) == 0
    return raw, json.loads(out.getvalue())


@pytest.mark.parametrize("names", SMALL_GROUPS.values(), ids=SMALL_GROUPS.keys())
def test_derive_json_reads_back_with_the_stated_names(names, tmp_path, capsys, default_json):
    raw, plain = default_json
    values = sbp.spec_from_dict(raw).parameters
    new = dict(zip(values, names))
    code, out, err = _run(capsys, "derive", _write(tmp_path, {**raw, "rename": new}), "--json")
    assert code == 0, err
    data = json.loads(out)
    table = data["symbols"]
    assert table["parameters"] == [new.get(p, p) for p in values]
    known = {n for kind in table.values() for n in kind}
    for where, text in _expressions(data):
        expr = _read(text, table)
        assert {str(s) for s in expr.free_symbols} <= known, where
    # the oracle: each gradient read back from the default names' JSON, at the same point
    point = dict(zip(plain["symbols"]["inputs"], raw["inputs"])) | dict(zip(plain["symbols"]["targets"], raw["targets"]))
    for p, entry in plain["parameters"].items():
        expected = _read(entry["expression"], plain["symbols"])
        got = _read(data["parameters"][new.get(p, p)]["expression"], table)
        at_plain = {sympy.Symbol(n, real=True): v for n, v in (point | values).items()}
        at_new = {sympy.Symbol(new.get(n, n), real=True): v for n, v in (point | values).items()}
        assert float(got.xreplace(at_new)) == pytest.approx(float(expected.xreplace(at_plain)), rel=1e-12), p


def test_json_expression_names_are_all_reserved_or_symbols(tmp_path, capsys):
    # every word SymPy prints besides a symbol, for every function a formula may call, is a reserved name
    texts = [f"{name}(1 + z**2)" if arity == 1 else f"{name}(z, 0.1*z)" for name, (arity, _) in formula.FUNCTIONS.items()]
    for text in [*texts, "z*exp(1)", "abs(z)", "leaky_relu"]:
        raw = {**NETWORK, "layers": [2, 1, 2], "activations": {"f": text}}
        if text == "leaky_relu":
            raw = {**raw, "activation": ["leaky_relu", "softmax"], "activations": {}}
        code, out, err = _run(capsys, "derive", _write(tmp_path, raw), "--json")
        assert code == 0, (text, err)
        data = json.loads(out)
        known = {n for kind in data["symbols"].values() for n in kind}
        for where, expr_text in _expressions(data):
            words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", expr_text)) - known
            assert words <= naming.RESERVED | {"True", "False"}, (text, where, words)


@pytest.mark.parametrize("name", ["w1\n", "w1\r", "w1\r\n", "\nw1", " w1", "w1 ", "w1\t", "w1\x00", "wé", "ｗ1",
                                  "w١", "w-1", "w.1", "1w", "_w", "__import__", "", "w1\u200b", "w1\u202e"])
def test_names_that_are_not_whole_identifiers_are_refused(name, tmp_path, capsys):
    err = _one_line_refusal(*_run(capsys, "solve", _write(tmp_path, {**NETWORK, "rename": {"w11": name}})))
    assert "rename.w11" in err and "not a valid name" in err


# (rename, where, what it collides with) for LaTeX collisions
CLASHES = [
    ({"w11": "w_12"}, "rename.w11", "w12"),
    ({"w11": "w_2_1"}, None, None),  # w_{2,1}: not w_{21}, prints differently
    ({"w11": "alpha", "w12": "alpha_"}, "rename.w12", "alpha"),
    ({"w12": "alpha_", "w11": "alpha"}, "rename.w12", "alpha"),  # the later in network order is named
    ({"w11": "b_1"}, "rename.w11", "b1"),
    ({"w11": "b1_"}, "rename.w11", "b1"),
    ({"w11": "x1_"}, "rename.w11", "x1"),
    ({"w11": "x_"}, None, None),  # x, not x_{1}
    ({"w11": "t2_"}, "rename.w11", "t2"),
    ({"w11": "h1_"}, "rename.w11", "h1"),
    ({"w11": "z2_"}, "rename.w11", "z2"),
    ({"w11": "delta1_"}, "rename.w11", "delta1"),
    ({"w11": "L_"}, "rename.w11", "L"),
    ({"w11": "eta"}, "rename.w11", "the learning rate"),
    ({"w11": "eta_"}, "rename.w11", "the learning rate"),
    ({"w11": "sigma"}, "rename.w11", "sigmoid"),
    ({"w11": "ww", "w12": "ww_"}, "rename.w12", "ww"),  # \mathit{ww} twice
    ({"w11": "w7", "w12": "w_7"}, "rename.w12", "w7"),
    ({"w11": "gamma", "b1": "gamma_"}, "rename.b1", "gamma"),
]


@pytest.mark.parametrize("rename, where, other", CLASHES, ids=[str(c[0]) for c in CLASHES])
def test_two_quantities_never_typeset_the_same(rename, where, other, tmp_path, capsys):
    raw = {"layers": [2, 2, 2], "activation": "sigmoid", "loss": "half_squared_error", "inputs": [0.5, 0.1],
           "targets": [0.2, 0.9], "rename": rename}  # fmt: skip
    code, out, err = _run(capsys, "solve", _write(tmp_path, raw))
    if where is None:
        assert code == 0, err
        return
    err = _one_line_refusal(code, out, err)
    assert err.startswith("symbackprop: error: ") and f"{where}: " in err and "would print as" in err, err
    assert other in err, err


def test_leaky_slope_alpha_is_refused_only_beside_leaky_relu(tmp_path, capsys):
    raw = {"layers": [2, 2, 1], "activation": "leaky_relu", "loss": "half_squared_error", "inputs": [0.5, 0.1],
           "targets": [0.2], "rename": {"w11": "alpha"}}  # fmt: skip
    err = _one_line_refusal(*_run(capsys, "solve", _write(tmp_path, raw)))
    assert "rename.w11: 'alpha' would print as \\alpha, the same as the leaky ReLU slope α" in err
    code, _, err = _run(capsys, "solve", _write(tmp_path, {**raw, "activation": "tanh"}))
    assert code == 0, err


@pytest.mark.parametrize("naming_scheme", ["neuron", "sequential", "layer"])
def test_every_accepted_name_typesets_uniquely(naming_scheme):
    # all families at once, across a network's parameters: distinct symbols, distinct LaTeX
    layers = [10, 12, 4]  # 196 parameters, one for each name
    defaults = naming.default_parameter_names(naming.layout(tuple(layers), scheme=naming_scheme, bias="per_neuron"))
    chosen = [n for n in FAMILIES if naming.check_custom_name(n) is None]
    assert len(chosen) == len(FAMILIES) <= len(defaults)
    rename = dict(zip(defaults, chosen))
    spec = sbp.spec_from_dict({"layers": layers, "loss": "mse", "activation": "tanh", "naming": naming_scheme,
                               "rename": rename})  # fmt: skip
    network = graph.build(spec)
    latex = network.latex_names
    looks = {sym: latex[sym].replace("{", "").replace("}", "") for sym in latex}
    assert len(set(looks.values())) == len(looks)
    assert len({s.name for s in latex}) == len(latex)
