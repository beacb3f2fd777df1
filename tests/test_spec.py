"""Spec loading and validation: formats, names, defaults and one-line errors."""

import json

import pytest
import yaml
from conftest import EXAMPLES

import symbackprop as sbp
from symbackprop import naming, spec
from symbackprop.errors import InputFileError, SpecError

SEED = yaml.safe_load((EXAMPLES / "seed_2_2_1.yaml").read_text())


def with_(**changes):
    raw = {**SEED, **changes}
    return {k: v for k, v in raw.items() if v is not None}


def test_yaml_json_and_toml_give_the_same_spec(tmp_path):
    (tmp_path / "s.json").write_text(json.dumps(SEED))
    params = ", ".join(f"{k} = {v}" for k, v in SEED["parameters"].items())
    (tmp_path / "s.toml").write_text(
        f'title = "{SEED["title"]}"\nlayers = [2, 2, 1]\nactivation = "sigmoid"\nloss = "half_squared_error"\n'
        f"learning_rate = 0.1\ninputs = [0.5, 0.1]\ntargets = [0.6]\nparameters = {{ {params} }}\n"
    )
    from_yaml = sbp.load_spec(EXAMPLES / "seed_2_2_1.yaml")
    assert sbp.load_spec(tmp_path / "s.json") == from_yaml
    assert sbp.load_spec(tmp_path / "s.toml") == from_yaml
    assert sbp.build_spec(**SEED) == from_yaml


def test_defaults():
    s = spec.from_dict({"layers": [2, 2, 1], "loss": "mse"})
    assert s.activations == ("sigmoid", "sigmoid") and s.naming == "neuron" and s.bias == "per_neuron"
    assert s.learning_rate == 0.1 and s.examples == () and s.frozen == ()
    assert list(s.parameters) == ["w11", "w12", "w21", "w22", "b1", "b2", "w31", "w32", "b3"]


def test_init_draws_reproducibly_and_keeps_given_values():
    a = spec.from_dict({"layers": [2, 3, 1], "loss": "mse", "init": {"seed": 7}})
    b = spec.from_dict({"layers": [2, 3, 1], "loss": "mse", "init": {"seed": 7}})
    c = spec.from_dict({"layers": [2, 3, 1], "loss": "mse", "init": {"seed": 8}})
    d = spec.from_dict({"layers": [2, 3, 1], "loss": "mse", "init": {"seed": 7}, "parameters": {"w11": 5.0}})
    assert a.parameters == b.parameters != c.parameters
    assert d.parameters["w11"] == 5.0
    assert {k: v for k, v in d.parameters.items() if k != "w11"} == {k: v for k, v in a.parameters.items() if k != "w11"}
    assert all(abs(v) <= 1 and round(v, 2) == v for v in a.parameters.values())


@pytest.mark.parametrize(
    ("layers", "scheme", "bias", "names"),
    [
        ([2, 2, 1], "neuron", "per_neuron", "w11 w12 w21 w22 b1 b2 w31 w32 b3"),
        ([2, 2, 1], "sequential", "per_neuron", "w1 w2 w3 w4 b1 b2 w5 w6 b3"),
        ([2, 2, 1], "layer", "per_neuron", "W1_1_1 W1_1_2 W1_2_1 W1_2_2 b1_1 b1_2 W2_1_1 W2_1_2 b2_1"),
        ([2, 2, 1], "neuron", "per_layer", "w11 w12 w21 w22 b1 w31 w32 b2"),
        ([2, 2, 1], "sequential", "per_layer", "w1 w2 w3 w4 b1 w5 w6 b2"),
        ([2, 2, 1], "neuron", "none", "w11 w12 w21 w22 w31 w32"),
        ([1, 10, 1], "neuron", "none", "w11 w21 w31 w41 w51 w61 w71 w81 w91 w10_1 w11_1 w11_2 w11_3 w11_4 w11_5 w11_6 w11_7 w11_8 w11_9 w11_10"),
    ],
)
def test_parameter_names_follow_the_documented_schemes(layers, scheme, bias, names):
    s = spec.from_dict({"layers": layers, "loss": "mse", "naming": scheme, "bias": bias})
    assert " ".join(s.parameters) == names


def test_latex_names():
    lay = naming.layout((3, 12, 2), scheme="neuron", bias="per_neuron")
    assert lay.weights[0][11][2].latex == "w_{12,3}"
    assert lay.weights[1][0][10].latex == "w_{13,11}"
    assert lay.activations[1][0].latex == r"\hat{y}_{1}"
    layer = naming.layout((2, 2, 1), scheme="layer", bias="per_neuron")
    assert layer.weights[1][0][1].latex == "W^{(2)}_{12}"
    assert layer.pre_activations[0][1].ascii == "z1_2"


def test_rename_ties_and_names_parameters():
    s = spec.from_dict({**SEED, "rename": {"w22": "w11", "b3": "beta"}, "parameters": None, "init": {"seed": 1}})
    assert "w22" not in s.parameters and "beta" in s.parameters and "b3" not in s.parameters


ERRORS = [
    (with_(layers=[2]), "layers: must be a list of at least two layer sizes, input layer first, e.g. [2, 2, 1]"),
    (with_(layers=[2, 0, 1]), "layers[1]: must be a positive whole number of neurons, got 0"),
    (with_(layers=[2, "x", 1]), "layers[1]: must be a positive whole number of neurons, got 'x'"),
    (with_(activation="sigmod"),
     "activation: unknown value 'sigmod' (did you mean 'sigmoid'?); valid: sigmoid, tanh, relu, leaky_relu, linear, softplus, softmax"),
    (with_(activation=["sigmoid"]), "activation: has 1 names but the network has 2 non-input layers"),
    (with_(activation=["softmax", "sigmoid"]), "activation[0]: softmax is only allowed on the output layer"),
    (with_(loss="cross_entropy"), "loss: cross_entropy needs a softmax output layer, but the output activation is sigmoid"),
    (with_(loss="mae"),
     "loss: unknown value 'mae' (did you mean 'mse'?); valid: half_squared_error, squared_error, mse, binary_cross_entropy, cross_entropy"),
    (with_(inputs=[0.5]), "inputs: has 1 values but the network has 2 inputs"),
    (with_(targets=[0.6, 1]), "targets: has 2 values but the network has 1 outputs"),
    (with_(inputs=[0.5, "a"]), "inputs[1]: must be a number, got a string"),
    (with_(inputs=[0.5, float("nan")]), "inputs[1]: must be a finite number, got nan"),
    (with_(learning_rate=-1), "learning_rate: must be positive, got -1"),
    (with_(lerning_rate=0.1), "lerning_rate: unknown key (did you mean 'learning_rate'?); valid keys: "
     "title, layers, activation, loss, naming, bias, learning_rate, inputs, targets, data, parameters, init, frozen, rename, activations, document"),
    (with_(parameters={**SEED["parameters"], "w13": 1}),
     "parameters.w13: no parameter has this name (did you mean 'w32'?); parameters: w11, w12, w21, w22, b1, b2, w31, w32, b3"),
    (with_(parameters={"w11": 1}), "parameters: no value for w12, w21, w22, b1, b2, w31, w32, b3; give them or add init: {seed: 0} to draw them"),
    (with_(frozen=["w99"]), "frozen[0]: no parameter named 'w99'; parameters: w11, w12, w21, w22, b1, b2, w31, w32, b3"),
    (with_(naming="layers"), "naming: unknown value 'layers' (did you mean 'layer'?); valid: neuron, sequential, layer"),
    (with_(data=[{"inputs": [1, 2], "targets": [1]}]), "data: give either inputs and targets (one example) or data (a batch), not both"),
    (with_(inputs=None, targets=None, data=[{"inputs": [1, 2]}]), "data[0]: must be a mapping with exactly the keys inputs and targets"),
    (with_(loss="binary_cross_entropy", targets=[2]), "targets[0]: binary_cross_entropy needs targets between 0 and 1, got 2"),
    (with_(rename={"w22": "exp"}), "rename.w22: 'exp' is reserved (a Python keyword or a function name)"),
    (with_(rename={"w22": "h1"}), "rename.w22: 'h1' is the name of an input, target, output, z, h or delta"),
    (with_(rename={"w22": "a b"}), "rename.w22: 'a b' is not a valid name (a letter, then letters, digits or _)"),
    (with_(title=3), "title: must be text, got a number"),
    ({"layers": [2, 1]}, "loss: missing; every spec needs 'layers' and 'loss'"),
    (with_(init={"seed": -1}, parameters=None), "init.seed: must be a whole number ≥ 0, got -1"),
    (with_(layers=[2000, 2000, 1]), "layers: 4,004,001 parameters is more than the limit of 2,000,000 (--max-parameters N raises it)"),
]


@pytest.mark.parametrize(("raw", "message"), ERRORS, ids=[m.split(":")[0] for _, m in ERRORS])
def test_errors_name_the_place_and_what_is_valid(raw, message):
    with pytest.raises(SpecError) as caught:
        spec.from_dict(raw)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty; a spec needs at least 'layers' and 'loss'"),
        ("- 1\n- 2\n", "the top level must be a mapping of keys (layers, loss, ...), not a list"),
        ("layers: [2, 1\n", "invalid YAML"),
    ],
)
def test_file_errors(tmp_path, content, message):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(InputFileError) as caught:
        spec.load(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"layers: [2, 1]\nloss: \xff\xfe\n")
    with pytest.raises(InputFileError, match="not UTF-8 text"):
        spec.load(path)
