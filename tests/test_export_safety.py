"""Exported modules run nothing from the spec: hostile titles, file names and names, imported for real.

Each module is written by `symbackprop export`, then imported in a fresh interpreter
(without SymPy or symbackprop) whose payloads, if any ran, would create a marker
file; the module must import, carry the title as text and give the engine's numbers.
"""

import json
import subprocess
import sys

import pytest
from test_export import RUNNER  # the exported module in a fresh interpreter without SymPy

import symbackprop as sbp
from symbackprop import cli, fused, numeric


# abs, max and exp(1) in the formula print as np.abs, np.maximum and np.e; leaky_relu as a kernel
BASE = {
    "layers": [2, 2, 2, 1],
    "activation": ["f", "leaky_relu", "sigmoid"],
    "activations": {"f": "abs(z)/4 + max(z, 0.1*z) + z*exp(1)/10"},
    "loss": "binary_cross_entropy",
    "data": [{"inputs": [0.5, -0.25], "targets": [1.0]}, {"inputs": [-1.5, 2.0], "targets": [0.0]}],
    "init": {"seed": 4, "decimals": 6},
}


def _payloads(marker):
    """Texts that would run `touch marker` if pasted into Python source in any quoting."""
    call = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    return [
        f'x"""; {call}; """',
        f"x'''; {call}; '''",
        f'"""\n{call}\n"""',
        f"'''\n{call}\n'''",
        f'")\n{call}\n("',
        f"')\n{call}\n('",
        f"\\\n{call}\n#",
        f"x\\\"\"\"; {call}; \"\"\"",
        f"{{{call}}}",
        f"x\r{call}\r",
        f"x\x0c{call}",
        f"x\u2028{call}",
    ]


HOSTILE_TEXT = [
    "\\xi and \\x",
    "\\N{BULLET} \\N{foo",
    "\\u12 \\U0001",
    "ends with a backslash \\",
    "\\",
    '"',
    "'",
    '"""',
    "'''",
    "\"'\"'\"'",
    "tab\there, nul\x00 and bell\x07",
    "Σ η ∂L/∂w 中文 😀",
    "bidi \u202e and zero\u200bwidth",
    "# a comment",
    "%s {} {0} $x",
    "a\n\nb\n",
]


def _spec_file(tmp_path, name, **keys):
    path = tmp_path / name
    path.write_text(json.dumps({**BASE, **keys}))
    return path


def _export_and_import(tmp_path, spec_path, marker, module="grad.py"):
    """Export with the CLI, import in a fresh interpreter; returns (what it printed, the spec)."""
    out_path = tmp_path / module
    assert cli.main(["export", str(spec_path), "-o", str(out_path)]) == 0
    spec = sbp.load_spec(spec_path)
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"inputs": [e.inputs for e in spec.examples], "targets": [e.targets for e in spec.examples],
                                  "parameters": spec.parameters}))  # fmt: skip
    run = subprocess.run([sys.executable, "-c", RUNNER, str(out_path), str(values)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=120)  # fmt: skip
    assert not marker.exists(), "a payload ran"
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout), spec


def _engine(spec):
    return numeric.Evaluator(sbp.derive(spec)).solve(spec.examples, spec.parameters, learning_rate=0.1)


def _assert_same_numbers(got, spec):
    engine = _engine(spec)
    assert got["loss"] == pytest.approx(engine.loss, rel=1e-12)
    assert got["parameters"] == list(spec.parameters)
    for name, value in engine.gradients.items():
        assert got["gradients"][name] == pytest.approx(value, rel=1e-12, abs=1e-15), name


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "PWNED"


def test_hostile_titles_stay_text(tmp_path, marker, capsys):
    for i, title in enumerate([*_payloads(marker), *HOSTILE_TEXT]):
        got, spec = _export_and_import(tmp_path, _spec_file(tmp_path, "spec.json", title=title), marker)
        assert got["doc"].startswith(f"Loss and gradients of {title}.\n"), repr(title)
        assert "from spec.json; needs only NumPy." in got["doc"]
        _assert_same_numbers(got, spec)
    capsys.readouterr()


def test_hostile_spec_file_names_stay_text(tmp_path, marker, capsys):
    # a file name holds anything but / and NUL
    names = [t.replace("/", "|").replace("\x00", "0") + ".json" for t in [*_payloads(marker), *HOSTILE_TEXT]]
    for name in dict.fromkeys(names):
        got, spec = _export_and_import(tmp_path, _spec_file(tmp_path, name), marker)
        assert f" from {name}; needs only NumPy." in got["doc"], repr(name)
        _assert_same_numbers(got, spec)
    capsys.readouterr()


# Valid names that are identifiers of Python, NumPy or the code symbackprop generates.
CODE_NAMES = ["e", "n", "c", "i", "X", "T", "P", "size", "chunks", "partial", "acc0", "acc1", "math", "numba",
              "numpy", "sum", "max", "min", "abs", "print", "float", "range", "loss", "gradients",
              "mean_gradients", "INPUTS", "TARGETS", "PARAMETERS", "inputs", "targets", "parameters", "columns",
              "count", "mean", "grads", "name", "value", "maximum", "where", "select", "match"]  # fmt: skip
GROUPS = [CODE_NAMES[i : i + 15] for i in range(0, len(CODE_NAMES), 15)]  # BASE has 15 parameters


@pytest.mark.parametrize("names", GROUPS, ids=[g[0] for g in GROUPS])
def test_hostile_but_valid_names_export_and_compute(names, tmp_path, marker, capsys):
    plain = sbp.spec_from_dict(BASE)
    rename = dict(zip(plain.parameters, names))
    got, spec = _export_and_import(tmp_path, _spec_file(tmp_path, "spec.json", rename=rename, title=names[0]), marker)
    # oracle: the same network with its default names, solved by the engine
    engine = _engine(plain)
    assert got["loss"] == pytest.approx(engine.loss, rel=1e-12)
    for name, value in engine.gradients.items():
        assert got["gradients"][rename.get(name, name)] == pytest.approx(value, rel=1e-12, abs=1e-15), name
    capsys.readouterr()


@pytest.mark.parametrize("use_numba", [False, pytest.param(True, marks=pytest.mark.skipif(not fused.available(),
                                                                                        reason="numba not installed"))])
def test_fused_loop_variables_cannot_be_shadowed(use_numba):
    # n, c, i, size, X, P, … are the loop's own names: as parameter names they must change nothing
    import numpy as np

    keys = {**BASE, "activation": ["tanh", "leaky_relu", "sigmoid"], "activations": {}}  # numba types every kernel
    names = ["n", "c", "i", "k", "size", "chunks", "partial", "acc0", "acc1", "X", "T", "P", "math", "np_", "range"]
    rename = dict(zip(sbp.spec_from_dict(keys).parameters, names))
    plain, spec = sbp.spec_from_dict(keys), sbp.spec_from_dict({**keys, "rename": rename})
    X = np.array([e.inputs for e in spec.examples])
    T = np.array([e.targets for e in spec.examples])
    evaluator = fused.FusedEvaluator(sbp.derive(spec), use_numba=use_numba)
    loss, flat = evaluator.gradients(X, T, evaluator.flat(spec.parameters))
    engine = _engine(plain)
    assert loss == pytest.approx(engine.loss, rel=1e-10)
    assert evaluator.parameter_names == list(spec.parameters)
    assert list(flat) == pytest.approx([engine.gradients[p] for p in plain.parameters], rel=1e-10, abs=1e-14)
