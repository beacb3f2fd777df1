"""The exported NumPy module: runs without SymPy, imports only NumPy, and matches the engine."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symbackprop as sbp
from symbackprop import cli, export, finite_diff, numeric

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

SPECS = {
    "seed 2-2-1": None,
    "3-2-2 tanh/softmax": dict(layers=[3, 2, 2], activation=["tanh", "softmax"], loss="cross_entropy", naming="layer"),
    "2-3-1 relu/sigmoid BCE, bias per layer": dict(layers=[2, 3, 1], activation=["relu", "sigmoid"],
                                                   loss="binary_cross_entropy", bias="per_layer"),
    "2-2-2 leaky/softplus mse, tied": dict(layers=[2, 2, 2], activation=["leaky_relu", "softplus"], loss="mse",
                                          naming="sequential", rename={"w2": "w1"}),
    "8-8-8-8-8-1": dict(layers=[8, 8, 8, 8, 8, 1], loss="half_squared_error"),
}  # fmt: skip

# Runs the module in a fresh interpreter where importing SymPy fails.
RUNNER = """
import importlib.util, json, sys
sys.modules["sympy"] = None
sys.modules["symbackprop"] = None
spec = importlib.util.spec_from_file_location("grad", sys.argv[1])
grad = importlib.util.module_from_spec(spec)
spec.loader.exec_module(grad)
data = json.load(open(sys.argv[2]))
loss, gradients = grad.mean_gradients(data["inputs"], data["targets"], data["parameters"])
print(json.dumps({"doc": grad.__doc__, "loss": loss, "gradients": gradients, "parameters": list(grad.PARAMETERS)}))
"""


def _spec(keys):
    if keys is None:
        return sbp.load_spec(EXAMPLES / "seed_2_2_1.yaml")
    rng = np.random.default_rng(5)
    n_in, n_out = keys["layers"][0], keys["layers"][-1]
    data = [{"inputs": [float(v) for v in rng.uniform(-2, 2, n_in)],
             "targets": [float(v) for v in (rng.dirichlet(np.ones(n_out)) if n_out > 1 else rng.uniform(0, 1, 1))]}
            for _ in range(6)]  # fmt: skip
    return sbp.build_spec(**keys, init={"seed": 2, "decimals": 8}, data=data)


@pytest.mark.parametrize("keys", SPECS.values(), ids=SPECS.keys())
def test_exported_module_matches_engine_without_sympy(keys, tmp_path):
    spec = _spec(keys)
    derivation = sbp.derive(spec)
    module = tmp_path / "grad.py"
    module.write_text(export.module_source(derivation))
    values = tmp_path / "values.json"
    values.write_text(json.dumps({"inputs": [e.inputs for e in spec.examples], "targets": [e.targets for e in spec.examples],
                                  "parameters": spec.parameters}))  # fmt: skip
    run = subprocess.run([sys.executable, "-c", RUNNER, str(module), str(values)], capture_output=True, text=True,
                         check=True, cwd=tmp_path)  # fmt: skip
    got = json.loads(run.stdout)
    engine = numeric.Evaluator(derivation).solve(spec.examples, spec.parameters, learning_rate=0.1)
    assert got["loss"] == pytest.approx(engine.loss, rel=1e-12, abs=1e-12)
    assert got["gradients"].keys() == engine.gradients.keys()
    for name, value in got["gradients"].items():
        assert value == pytest.approx(engine.gradients[name], rel=1e-12, abs=1e-12), name


def test_exported_gradients_match_finite_differences_of_exported_loss(tmp_path):
    spec = _spec(SPECS["3-2-2 tanh/softmax"])
    namespace = {}
    exec(export.module_source(sbp.derive(spec)), namespace)
    X = np.array([e.inputs for e in spec.examples])
    T = np.array([e.targets for e in spec.examples])
    _, gradients = namespace["mean_gradients"](X, T, spec.parameters)

    def loss_at(name, offset):
        values = {**spec.parameters, name: spec.parameters[name] + offset}
        return namespace["mean_gradients"](X, T, values)[0]

    for name in spec.parameters:
        h = 1e-4
        estimate = (8 * (loss_at(name, h) - loss_at(name, -h)) - (loss_at(name, 2 * h) - loss_at(name, -2 * h))) / (12 * h)
        assert finite_diff.relative_error(gradients[name], estimate) < 1e-8, name


def test_exported_module_imports_only_numpy():
    source = export.module_source(sbp.derive(_spec(SPECS["2-2-2 leaky/softplus mse, tied"])))
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported == {"numpy"}


def test_exported_module_defines_only_the_kernels_it_calls():
    source = export.module_source(sbp.derive(_spec(None)))
    assert "def sigmoid(z):" in source
    assert "def relu(" not in source and "def softplus(" not in source


def test_cli_export_writes_module(tmp_path, capsys):
    target = tmp_path / "grad.py"
    assert cli.main(["export", str(EXAMPLES / "seed_2_2_1.yaml"), "-o", str(target)]) == 0
    assert capsys.readouterr().out == f"wrote {target}\n"
    assert "def gradients(x1, x2, t, w11, w12, w21, w22, b1, b2, w31, w32, b3):" in target.read_text()


def test_cli_export_refuses_a_network_too_wide_to_write_per_weight(capsys):
    assert cli.main(["export", str(EXAMPLES / "mnist_like.yaml")]) == 2
    assert capsys.readouterr().err == (
        "symbackprop: error: export: 101,770 parameters is more than the 5,000 that export writes one line each "
        "(--max-parameters N raises it; derive --form vector shows whole layers)\n"
    )


def test_custom_activation_exports():
    keys = {"layers": [2, 2, 1], "loss": "half_squared_error", "init": {"seed": 0},
            "data": [{"inputs": [0.3, -0.2], "targets": [0.1]}, {"inputs": [1.3, 0.7], "targets": [0.9]}]}  # fmt: skip
    spec = sbp.spec_from_dict({**keys, "activations": {"swish": "z / (1 + exp(-z))"}, "activation": ["swish", "sigmoid"]})
    derivation = sbp.derive(spec)
    namespace = {}
    exec(export.module_source(derivation), namespace)
    loss, gradients = namespace["mean_gradients"]([e.inputs for e in spec.examples], [e.targets for e in spec.examples],
                                                  spec.parameters)  # fmt: skip
    engine = numeric.Evaluator(derivation).solve(spec.examples, spec.parameters, learning_rate=0.1)
    assert loss == pytest.approx(engine.loss, rel=1e-12)
    for name, value in gradients.items():
        assert value == pytest.approx(engine.gradients[name], rel=1e-12, abs=1e-15), name


def test_module_docstring_is_the_title_as_text():
    spec = sbp.load_spec(EXAMPLES / "seed_2_2_1.yaml")
    source = export.module_source(sbp.derive(spec), source="seed_2_2_1.yaml")
    assert ast.get_docstring(ast.parse(source), clean=False) == (
        f"Loss and gradients of {spec.title}.\n\n"
        "Network 2-2-1, activations sigmoid, sigmoid, loss half_squared_error.\n"
        f"Generated by symbackprop {sbp.__version__} from seed_2_2_1.yaml; needs only NumPy.\n"
        "Every argument is a number or a NumPy array with one entry per example.\n"
    )
