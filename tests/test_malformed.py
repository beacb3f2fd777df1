"""A corpus of malformed inputs: each gives exit status 2, one line naming the problem, no traceback."""

import json
import random

import pytest
import yaml
from conftest import EXAMPLES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symbackprop import cli

SEED_TEXT = (EXAMPLES / "seed_2_2_1.yaml").read_text()
SEED = yaml.safe_load(SEED_TEXT)


def spec_with(**changes):
    raw = {**SEED, **changes}
    return yaml.safe_dump({k: v for k, v in raw.items() if v is not None}, sort_keys=False)


def spec_without(*keys):
    return yaml.safe_dump({k: v for k, v in SEED.items() if k not in keys}, sort_keys=False)


def params(**changes):
    return {**SEED["parameters"], **changes}


# (id, spec file name, spec content, words the one-line message must contain)
SPECS = [
    ("empty file", "s.yaml", "", ["empty"]),
    ("only a comment", "s.yaml", "# nothing\n", ["empty"]),
    ("a list", "s.yaml", "- 1\n- 2\n", ["top level must be a mapping"]),
    ("a string", "s.yaml", "hello\n", ["top level must be a mapping"]),
    ("a number", "s.yaml", "42\n", ["top level must be a mapping"]),
    ("unclosed bracket", "s.yaml", "layers: [2, 2\nloss: mse\n", ["invalid YAML"]),
    ("bad indentation", "s.yaml", "layers: [2, 1]\n  loss: mse\n", ["invalid YAML"]),
    ("tab indentation", "s.yaml", "layers:\n\t- 2\n", ["invalid YAML"]),
    ("duplicate key", "s.yaml", "layers: [2, 1]\nloss: mse\nloss: mse\n", ["duplicate key 'loss'"]),
    ("duplicate parameter", "s.yaml", "layers: [1, 1]\nloss: mse\nparameters:\n  w11: 1\n  w11: 2\n", ["duplicate key 'w11'"]),
    ("binary file", "s.yaml", b"\x89PNG\r\n\x1a\n\x00\x00\xff", ["not UTF-8"]),
    ("latin-1 file", "s.yaml", "title: caf\xe9\nlayers: [1, 1]\nloss: mse\n".encode("latin-1"), ["not UTF-8"]),
    ("python tag", "s.yaml", "layers: !!python/object/apply:os.system ['true']\nloss: mse\n", ["invalid YAML"]),
    ("missing layers", "s.yaml", spec_without("layers"), ["layers", "missing"]),
    ("missing loss", "s.yaml", spec_without("loss"), ["loss", "missing"]),
    ("layers a number", "s.yaml", spec_with(layers=3), ["layers", "at least two"]),
    ("layers one entry", "s.yaml", spec_with(layers=[2]), ["layers", "at least two"]),
    ("layers empty", "s.yaml", spec_with(layers=[]), ["layers", "at least two"]),
    ("layer zero", "s.yaml", spec_with(layers=[2, 0, 1]), ["layers[1]", "positive"]),
    ("layer negative", "s.yaml", spec_with(layers=[2, -2, 1]), ["layers[1]", "positive"]),
    ("layer float", "s.yaml", spec_with(layers=[2, 2.5, 1]), ["layers[1]", "positive"]),
    ("layer string", "s.yaml", spec_with(layers=[2, "two", 1]), ["layers[1]", "positive"]),
    ("layer bool", "s.yaml", spec_with(layers=[2, True, 1]), ["layers[1]", "positive"]),
    ("huge network", "s.yaml", spec_with(layers=[5000, 5000, 1], parameters=None), ["layers", "limit", "--max-parameters"]),
    ("activation typo", "s.yaml", spec_with(activation="sigmod"), ["activation", "sigmod", "did you mean 'sigmoid'"]),
    ("activation number", "s.yaml", spec_with(activation=3), ["activation", "a name or a list"]),
    ("activation list too short", "s.yaml", spec_with(activation=["sigmoid"]), ["activation", "2 non-input layers"]),
    ("activation list too long", "s.yaml", spec_with(activation=["sigmoid"] * 3), ["activation", "2 non-input layers"]),
    ("activation list entry", "s.yaml", spec_with(activation=["sigmoid", "tanhh"]), ["activation[1]", "did you mean 'tanh'"]),
    ("softmax hidden", "s.yaml", spec_with(activation=["softmax", "sigmoid"]), ["activation[0]", "softmax", "output layer"]),
    ("loss typo", "s.yaml", spec_with(loss="half_squared"), ["loss", "did you mean"]),
    ("loss list", "s.yaml", spec_with(loss=["mse"]), ["loss", "must be one of"]),
    ("cross entropy without softmax", "s.yaml", spec_with(loss="cross_entropy"), ["loss", "softmax output"]),
    ("bce with linear output", "s.yaml", spec_with(activation=["sigmoid", "linear"], loss="binary_cross_entropy"), ["loss", "sigmoid output"]),
    ("bce target above 1", "s.yaml", spec_with(loss="binary_cross_entropy", targets=[1.5]), ["targets[0]", "between 0 and 1"]),
    ("bce target negative", "s.yaml", spec_with(loss="binary_cross_entropy", targets=[-0.1]), ["targets[0]", "between 0 and 1"]),
    ("naming typo", "s.yaml", spec_with(naming="neurons"), ["naming", "did you mean 'neuron'"]),
    ("bias typo", "s.yaml", spec_with(bias="per-neuron"), ["bias", "per_neuron"]),
    ("bias bool", "s.yaml", spec_with(bias=False), ["bias", "must be one of"]),
    ("learning rate string", "s.yaml", spec_with(learning_rate="fast"), ["learning_rate", "number"]),
    ("learning rate zero", "s.yaml", spec_with(learning_rate=0), ["learning_rate", "positive"]),
    ("learning rate negative", "s.yaml", spec_with(learning_rate=-0.1), ["learning_rate", "positive"]),
    ("learning rate inf", "s.yaml", SEED_TEXT.replace("learning_rate: 0.1", "learning_rate: .inf"), ["learning_rate", "finite"]),
    ("learning rate nan", "s.yaml", SEED_TEXT.replace("learning_rate: 0.1", "learning_rate: .nan"), ["learning_rate", "finite"]),
    ("unknown key", "s.yaml", spec_with(activations_list=["x"]), ["activations_list", "unknown key", "valid keys"]),
    ("misspelt key", "s.yaml", spec_with(lerning_rate=0.1), ["lerning_rate", "did you mean 'learning_rate'"]),
    ("inputs too short", "s.yaml", spec_with(inputs=[0.5]), ["inputs", "2 inputs"]),
    ("inputs too long", "s.yaml", spec_with(inputs=[0.5, 0.1, 0.2]), ["inputs", "2 inputs"]),
    ("inputs a number", "s.yaml", spec_with(inputs=0.5), ["inputs", "list of 2 numbers"]),
    ("inputs string entry", "s.yaml", spec_with(inputs=[0.5, "x"]), ["inputs[1]", "number"]),
    ("inputs null entry", "s.yaml", spec_with(inputs=[0.5, None]), ["inputs[1]", "number"]),
    ("inputs infinite", "s.yaml", SEED_TEXT.replace("inputs: [0.5, 0.1]", "inputs: [0.5, .inf]"), ["inputs[1]", "finite"]),
    ("inputs nan", "s.yaml", SEED_TEXT.replace("inputs: [0.5, 0.1]", "inputs: [.nan, 0.1]"), ["inputs[0]", "finite"]),
    ("targets too long", "s.yaml", spec_with(targets=[0.6, 0.1]), ["targets", "1 outputs"]),
    ("targets missing", "s.yaml", spec_without("targets"), ["targets", "missing"]),
    ("inputs missing", "s.yaml", spec_without("inputs"), ["inputs", "missing"]),
    ("data and inputs", "s.yaml", spec_with(data=[{"inputs": [1, 2], "targets": [1]}]), ["data", "not both"]),
    ("data empty", "s.yaml", spec_with(inputs=None, targets=None, data=[]), ["data", "non-empty list"]),
    ("data a mapping", "s.yaml", spec_with(inputs=None, targets=None, data={"inputs": [1, 2]}), ["data", "non-empty list"]),
    ("data entry without targets", "s.yaml", spec_with(inputs=None, targets=None, data=[{"inputs": [1, 2]}]), ["data[0]", "inputs and targets"]),
    ("data entry extra key", "s.yaml", spec_with(inputs=None, targets=None, data=[{"inputs": [1, 2], "targets": [1], "w": 1}]), ["data[0]", "exactly the keys"]),
    ("data entry wrong width", "s.yaml", spec_with(inputs=None, targets=None, data=[{"inputs": [1, 2], "targets": [1]}, {"inputs": [1], "targets": [1]}]), ["data[1].inputs", "2 inputs"]),
    ("data entry string", "s.yaml", spec_with(inputs=None, targets=None, data=["1,2,1"]), ["data[0]", "mapping"]),
    ("parameters a list", "s.yaml", spec_with(parameters=[0.1, 0.2]), ["parameters", "map parameter names"]),
    ("parameter unknown", "s.yaml", spec_with(parameters=params(w33=1)), ["parameters.w33", "no parameter"]),
    ("parameter string", "s.yaml", spec_with(parameters=params(w11="big")), ["parameters.w11", "number"]),
    ("parameter null", "s.yaml", spec_with(parameters=params(w11=None)), ["parameters.w11", "number"]),
    ("parameter bool", "s.yaml", spec_with(parameters=params(w11=True)), ["parameters.w11", "number"]),
    ("parameter infinite", "s.yaml", SEED_TEXT.replace("w11: 0.4", "w11: -.inf"), ["parameters.w11", "finite"]),
    ("parameter missing", "s.yaml", spec_with(parameters={k: v for k, v in SEED["parameters"].items() if k != "b3"}), ["parameters", "no value for b3"]),
    ("init a number", "s.yaml", spec_with(parameters=None, init=3), ["init", "mapping"]),
    ("init unknown key", "s.yaml", spec_with(parameters=None, init={"seed": 1, "sigma": 2}), ["init.sigma", "unknown key"]),
    ("init seed negative", "s.yaml", spec_with(parameters=None, init={"seed": -3}), ["init.seed", "≥ 0"]),
    ("init seed float", "s.yaml", spec_with(parameters=None, init={"seed": 1.5}), ["init.seed", "whole number"]),
    ("init decimals too many", "s.yaml", spec_with(parameters=None, init={"decimals": 40}), ["init.decimals", "0 to 15"]),
    ("init scale string", "s.yaml", spec_with(parameters=None, init={"scale": "big"}), ["init.scale", "number"]),
    ("init scale negative", "s.yaml", spec_with(parameters=None, init={"scale": -1}), ["init.scale", "positive"]),
    ("init scale huge", "s.yaml", spec_with(parameters=None, init={"scale": 1e308}), ["init.scale", "at most 1e+06"]),
    ("frozen a string", "s.yaml", spec_with(frozen="w11"), ["frozen", "list of parameter names"]),
    ("frozen unknown", "s.yaml", spec_with(frozen=["w99"]), ["frozen[0]", "w99"]),
    ("rename a list", "s.yaml", spec_with(rename=["w11"]), ["rename", "map default parameter names"]),
    ("rename unknown", "s.yaml", spec_with(rename={"w99": "a"}), ["rename.w99", "no parameter"]),
    ("rename to keyword", "s.yaml", spec_with(rename={"w11": "lambda"}, parameters=None), ["rename.w11", "reserved"]),
    ("rename to function", "s.yaml", spec_with(rename={"w11": "exp"}, parameters=None), ["rename.w11", "reserved"]),
    ("rename to intermediate", "s.yaml", spec_with(rename={"w11": "z3"}, parameters=None), ["rename.w11", "name of an input"]),
    ("rename to code", "s.yaml", spec_with(rename={"w11": "__import__('os')"}, parameters=None), ["rename.w11", "not a valid name"]),
    ("rename to dunder", "s.yaml", spec_with(rename={"w11": "x.__class__"}, parameters=None), ["rename.w11", "not a valid name"]),
    ("rename to number", "s.yaml", spec_with(rename={"w11": 5}, parameters=None), ["rename.w11", "not a valid name"]),
    ("title a list", "s.yaml", spec_with(title=["a"]), ["title", "text"]),
    ("custom activations a list", "s.yaml", spec_with(activations=["z"]), ["activations", "map new activation names"]),
    ("custom activation import", "s.yaml", spec_with(activations={"evil": "__import__('os').system('touch marker')"}, activation=["evil", "sigmoid"]), ["activations.evil", "not allowed"]),
    ("custom activation attribute", "s.yaml", spec_with(activations={"evil": "z.__class__"}, activation=["evil", "sigmoid"]), ["activations.evil", "not allowed"]),
    ("custom activation lambda", "s.yaml", spec_with(activations={"evil": "(lambda: 1)()"}, activation=["evil", "sigmoid"]), ["activations.evil", "not allowed"]),
    ("custom activation power bomb", "s.yaml", spec_with(activations={"bomb": "9**9**9"}, activation=["bomb", "sigmoid"]), ["activations.bomb", "exponent"]),
    ("custom activation big exponent", "s.yaml", spec_with(activations={"bomb": "z**1000"}, activation=["bomb", "sigmoid"]), ["activations.bomb", "exponent", "too large"]),
    ("custom activation tiny number", "s.yaml", spec_with(activations={"tiny": "log(1e-300) * z"}, activation=["tiny", "sigmoid"]), ["activations.tiny", "too small"]),
    ("custom activation combined huge", "s.yaml", spec_with(activations={"big": "exp((1e6)**8) * z"}, activation=["big", "sigmoid"]), ["activations.big", "2**53"]),
    ("custom activation combined product", "s.yaml", spec_with(activations={"big": "1e6 * 1e6 * 1e6 * z"}, activation=["big", "sigmoid"]), ["activations.big", "2**53"]),
    ("custom activation huge number", "s.yaml", spec_with(activations={"big": "z * 1e300"}, activation=["big", "sigmoid"]), ["activations.big", "too large"]),
    ("custom activation unknown function", "s.yaml", spec_with(activations={"f": "sinh(z)"}, activation=["f", "sigmoid"]), ["activations.f", "unknown function 'sinh'"]),
    ("custom activation unknown name", "s.yaml", spec_with(activations={"f": "x * z"}, activation=["f", "sigmoid"]), ["activations.f", "unknown name 'x'"]),
    ("custom activation syntax", "s.yaml", spec_with(activations={"f": "z +* 2"}, activation=["f", "sigmoid"]), ["activations.f", "not a formula"]),
    ("custom activation empty", "s.yaml", spec_with(activations={"f": ""}, activation=["f", "sigmoid"]), ["activations.f", "empty"]),
    ("custom activation number", "s.yaml", spec_with(activations={"f": 3}, activation=["f", "sigmoid"]), ["activations.f", "text"]),
    ("custom activation too long", "s.yaml", spec_with(activations={"f": "+".join(["z"] * 200)}, activation=["f", "sigmoid"]), ["activations.f", "limit"]),
    ("custom activation too deep", "s.yaml", spec_with(activations={"f": "exp(" * 30 + "z" + ")" * 30}, activation=["f", "sigmoid"]), ["activations.f", "nested"]),
    ("custom activation keyword args", "s.yaml", spec_with(activations={"f": "max(z, b=0)"}, activation=["f", "sigmoid"]), ["activations.f", "not allowed"]),
    ("custom activation wrong arity", "s.yaml", spec_with(activations={"f": "exp(z, z)"}, activation=["f", "sigmoid"]), ["activations.f", "takes 1 argument"]),
    ("custom activation shadows builtin", "s.yaml", spec_with(activations={"tanh": "z"}), ["activations.tanh", "built-in"]),
    ("custom activation bad name", "s.yaml", spec_with(activations={"my act": "z"}), ["activations.my act", "not a valid name"]),
    ("custom activation divides by zero", "s.yaml", spec_with(activations={"f": "z / 0"}, activation=["f", "sigmoid"]), ["activations.f", "divides by zero"]),
    ("custom activation string literal", "s.yaml", spec_with(activations={"f": "'z' * 3"}, activation=["f", "sigmoid"]), ["activations.f", "not allowed"]),
    ("input 1e400", "s.yaml", SEED_TEXT.replace("inputs: [0.5, 0.1]", "inputs: [0.5, 1e400]"), ["inputs[1]", "finite", "1.8e+308"]),
    ("parameter 10**400", "s.yaml", SEED_TEXT.replace("w11: 0.4", "w11: 1" + "0" * 400), ["parameters.w11", "too large", "401 digits"]),
    ("learning rate -1e400", "s.yaml", SEED_TEXT.replace("learning_rate: 0.1", "learning_rate: -1e400"), ["learning_rate", "finite"]),
    ("init scale 1e400", "s.yaml", spec_with(parameters=None, init={"seed": 1, "scale": 7.5}).replace("scale: 7.5", "scale: 1e400"), ["init.scale", "finite"]),
    ("json input 1e400", "s.json", json.dumps(SEED).replace("0.1]", "1e400]", 1), ["inputs[1]", "finite"]),
    ("alias bomb", "s.yaml", "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}' if i > 1 else '*a'] * 10)}]\n" for i in range(1, 9)) + "layers: *a8\nloss: mse\n", ["aliases", "100,000"]),
    ("recursive alias", "s.yaml", "layers: &l [2, *l]\nloss: mse\n", ["contains it"]),
    ("deep nesting", "s.yaml", "layers: " + "[" * 5000 + "]" * 5000 + "\nloss: mse\n", ["nested more than 50"]),
    ("deep json", "s.json", '{"layers": ' + "[" * 50_000 + "]" * 50_000 + ', "loss": "mse"}', ["nested too deeply"]),
    ("complex formula", "s.yaml", spec_with(activations={"f": "z + sqrt(-1)"}, activation=["f", "sigmoid"]), ["activations.f", "sqrt(-1) is not real"]),
    ("formula degree bomb", "s.yaml", spec_with(activations={"f": "(((1 + z)**8)**8)**8"}, activation=["f", "sigmoid"]), ["activations.f", "degree", "limit is 16"]),
    ("formula erf", "s.yaml", spec_with(activations={"f": "erf(z)"}, activation=["f", "sigmoid"]), ["activations.f", "unknown function 'erf'"]),
    ("rename look-alike", "s.yaml", spec_with(rename={"w11": "alpha", "w12": "alpha_"}, parameters=None), ["rename.w12", "the same as alpha"]),
    ("rename with a newline", "s.yaml", spec_with(rename={"w11": "w1\n"}, parameters=None), ["rename.w11", "not a valid name"]),
    ("json syntax", "s.json", '{"layers": [2, 1], "loss": }', ["invalid JSON"]),
    ("json duplicate", "s.json", '{"layers": [2, 1], "loss": "mse", "loss": "mse"}', ["duplicate key 'loss'"]),
    ("json array", "s.json", "[1, 2]", ["top level must be a mapping"]),
    ("json bad layer", "s.json", json.dumps({"layers": [2, "1"], "loss": "mse"}), ["layers[1]", "positive"]),
    ("toml syntax", "s.toml", "layers = [2, 1\nloss = 'mse'\n", ["invalid TOML"]),
    ("toml duplicate", "s.toml", "layers = [2, 1]\nloss = 'mse'\nloss = 'mse'\n", ["invalid TOML"]),
    ("toml bad loss", "s.toml", "layers = [2, 1]\nloss = 'mae'\n", ["loss", "did you mean 'mse'"]),
]


@pytest.mark.parametrize(("name", "content", "words"), [(f, c, w) for _, f, c, w in SPECS], ids=[i for i, *_ in SPECS])
def test_malformed_spec(tmp_path, capsys, monkeypatch, name, content, words):
    monkeypatch.chdir(tmp_path)  # a hostile formula would leave a marker file here
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for command in (["solve", str(path)], ["derive", str(path), "--json"]):
        code = cli.main(command)
        out, err = capsys.readouterr()
        assert code == 2, (command, err)
        assert err.startswith("symbackprop: error: ") and err.count("\n") == 1, err
        assert "Traceback" not in err and out == ""
        for word in words:
            assert word in err, (word, err)
    assert not (tmp_path / "marker").exists()


ANSWERS = [
    ("answers not a mapping", "- 1\n", ["mapping"]),
    ("answers unknown section", "forwards: {z1: 0.33}\n", ["forwards"]),
    ("answers unknown quantity", "forward: {z9: 0.33}\n", ["z9"]),
    ("answers not a number", "forward: {z1: abc}\n", ["z1"]),
    ("answers unknown parameter", "gradients: {w99: 0.1}\n", ["w99"]),
    ("answers binary", b"\xff\xfe\x00", ["UTF-8"]),
]


@pytest.mark.parametrize(("content", "words"), [(c, w) for _, c, w in ANSWERS], ids=[i for i, *_ in ANSWERS])
def test_malformed_answers(tmp_path, capsys, content, words):
    path = tmp_path / "answers.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code = cli.main(["check", str(EXAMPLES / "seed_2_2_1.yaml"), str(path)])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


CSVS = [
    ("csv empty", "", []),
    ("csv header only", "x1,x2,t\n", []),
    ("csv non-numeric cell", "x1,x2,t\n0.1,abc,1\n", ["abc"]),
    ("csv wrong width", "x1,x2,t\n0.1,0.2,1\n0.3,0.4\n", []),
    ("csv missing column", "x1,x2,t\n0.1,0.2,1\n", ["nope"]),
]


@pytest.mark.parametrize(("content", "words"), [(c, w) for _, c, w in CSVS], ids=[i for i, *_ in CSVS])
def test_malformed_csv(tmp_path, capsys, content, words):
    path = tmp_path / "data.csv"
    path.write_text(content)
    extra = ["--inputs", "x1,nope"] if "nope" in words else []
    code = cli.main(["train", str(EXAMPLES / "seed_2_2_1.yaml"), "--data", str(path), "--epochs", "1", *extra])
    _, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    for word in words:
        assert word in err


def test_corpus_has_at_least_100_inputs():
    assert len(SPECS) + len(ANSWERS) + len(CSVS) >= 100


def _mutations():
    leaves = st.one_of(
        st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=8), st.lists(st.integers(-2, 3), max_size=4),
    )  # fmt: skip
    return st.tuples(st.sampled_from(sorted(SEED) + ["parameters.w11", "inputs.0", "extra"]), leaves, st.randoms(use_true_random=False))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_mutations())
def test_mutated_specs_never_crash(tmp_path_factory, mutation):
    key, value, rnd = mutation
    raw = json.loads(json.dumps(SEED))
    if key == "parameters.w11":
        raw["parameters"]["w11"] = value
    elif key == "inputs.0":
        raw["inputs"][0] = value
    elif rnd.random() < 0.3:
        raw.pop(key, None)
    else:
        raw[key] = value
    path = tmp_path_factory.mktemp("m") / "spec.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    code = cli.main(["solve", str(path), "--json"])
    assert code in (0, 2)  # valid or a clean refusal; 1 would be an internal error


def test_random_byte_flips_never_crash(tmp_path, capsys):
    rnd = random.Random(7)
    original = SEED_TEXT.encode()
    for i in range(40):
        data = bytearray(original)
        for _ in range(rnd.randint(1, 4)):
            data[rnd.randrange(len(data))] = rnd.randrange(256)
        path = tmp_path / f"flip{i}.yaml"
        path.write_bytes(bytes(data))
        code = cli.main(["solve", str(path), "--json"])
        _, err = capsys.readouterr()
        assert code in (0, 2), err
        assert "Traceback" not in err


def _formulas():
    """Formulas in z from the whitelist's grammar and just beyond it: unknown functions, complex parts, bombs."""
    numbers = st.sampled_from(["0", "1", "2", "-1", "0.5", "1e6", "1e7", "1e-300", "(-1)", "1e400", "9**9"])
    functions = st.sampled_from(["exp", "log", "ln", "sqrt", "abs", "tanh", "sigmoid", "softplus", "relu", "erf", "sin"])
    exponents = st.sampled_from(["2", "3", "8", "9", "-1", "-2", "0.5", "1.5", "-0.5", "(1/3)", "z"])

    def grow(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, exponents).map(lambda t: f"({t[0]})**{t[1]}"),
            st.tuples(functions, inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(["max", "min"]), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        )  # fmt: skip

    return st.recursive(st.one_of(st.just("z"), numbers), grow, max_leaves=12)


def _names():
    clashing = ["e", "maximum", "beta", "gamma", "Sum", "re", "exp", "np", "lambda", "L", "z1", "x1_", "w_11",
                "eta", "alpha_", "sigma", "_v0", "sum", "print", "Integer", "Symbol", "inf", "nan", "pi", "E"]  # fmt: skip
    return st.one_of(st.sampled_from(clashing), st.text(st.sampled_from("aw_1Z\n\x1b\u202e é"), min_size=1, max_size=6))


def _numbers():
    return st.one_of(
        st.floats(allow_nan=True, allow_infinity=True), st.integers(-(10**400), 10**400),
        st.sampled_from(["1e400", "-1e400", "1e-400", "0x10", "1_000", "nan", ".inf", "1e5"]),
    )  # fmt: skip


NUMBER_PLACES = ["learning_rate", "inputs.0", "targets.0", "parameters.w31", "init.scale"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(_formulas(), _names(), st.sampled_from(NUMBER_PLACES), _numbers(), st.integers(0, 2))
def test_mutated_formulas_names_and_numbers_never_crash(tmp_path_factory, capsys, formula, name, place, number, which):
    """One mutation at a time (which: 0 formula, 1 name, 2 number); valid specs give strict JSON, the rest one line."""
    raw = json.loads(json.dumps(SEED))
    if which == 0:
        raw |= {"activations": {"f": formula}, "activation": ["f", "sigmoid"]}
    elif which == 1:
        raw["rename"] = {"w11": name}
        raw["parameters"][name] = raw["parameters"].pop("w11")
    elif place == "init.scale":
        raw.pop("parameters")
        raw["init"] = {"seed": 1, "scale": number}
    else:
        key, _, index = place.partition(".")
        target = raw[key] if index else raw
        target[int(index) if index.isdigit() else (index or key)] = number
    folder = tmp_path_factory.mktemp("m")
    path = folder / "spec.yaml"
    text = yaml.safe_dump(raw, allow_unicode=True)
    if which == 2 and isinstance(number, str):  # the literal as written, not YAML's quoted string
        text = text.replace(yaml.safe_dump(number).removesuffix("\n...\n").strip(), number)
    path.write_text(text)
    for command in (["solve", str(path), "--json"], ["derive", str(path), "--json", "--no-proof"]):
        code = cli.main(command)
        out, err = capsys.readouterr()
        assert code in (0, 2), err
        if code == 2:
            assert out == "" and err.count("\n") == 1 and len(err) <= 400 and "internal error" not in err, err
            assert not any(c in err for c in "\x1b\u202e"), err
        else:
            json.loads(out, parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
