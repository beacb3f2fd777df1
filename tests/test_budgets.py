"""Work is bounded before it is done: bombs are refused inside a memory and time limit, numbers at the edges are refused
by name, results that leave the floating-point range stop with exit 2, and --json is strict JSON."""

import json
import math
import os
import resource
import subprocess
import sys

import pytest
import yaml
from conftest import EXAMPLES

from symbackprop import api, check, cli, files, handout

SEED = yaml.safe_load((EXAMPLES / "seed_2_2_1.yaml").read_text())
MEMORY_LIMIT = 1536 * 2**20
TIME_LIMIT = 120  # seconds; a guard for the child, not a measurement


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run_limited(*argv: str, cwd=None) -> subprocess.CompletedProcess:
    """The CLI in a child process under the memory limit, stopped at the time limit."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "symbackprop", *argv], capture_output=True, text=True, cwd=cwd,
                          env=env, preexec_fn=_limited, timeout=TIME_LIMIT)  # fmt: skip


def assert_refused(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 400, result.stderr[:2000]
    assert lines[0].startswith("symbackprop: error: ") and "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])


def laughs(levels: int, width: int = 10) -> str:
    """A YAML alias bomb: `levels` lists of `width` aliases of the list before, a few hundred bytes."""
    lines = [f"a0: &a0 [{', '.join(['1'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


SPEC_BOMBS = {
    "alias bomb in layers": (laughs(9) + "layers: *a8\nloss: mse\n", ["aliases", "100,000"]),
    "alias bomb in data": (laughs(9) + "layers: [2, 1]\nloss: mse\ndata: *a8\n", ["aliases", "100,000"]),
    "alias bomb in the title": (laughs(9) + "layers: [2, 1]\nloss: mse\ntitle: *a8\n", ["aliases"]),
    "recursive alias": ("layers: &a [2, *a]\nloss: mse\n", ["contains it"]),
    "recursive mapping": ("a: &a {b: *a}\nlayers: [2, 1]\nloss: mse\n", ["contains it"]),
    "too many aliases": ("x: &x 1\nlayers: [2, 1]\nloss: mse\ntitle: [" + ", ".join(["*x"] * 1200) + "]\n", ["1000 aliases"]),
    "deep YAML flow nesting": ("layers: " + "[" * 100_000 + "]" * 100_000 + "\nloss: mse\n", ["nested more than 50"]),
    "deep YAML block nesting": ("layers:\n" + "".join("  " * i + "- \n" for i in range(2000)) + "loss: mse\n", ["nested"]),
}


@pytest.mark.parametrize("name", SPEC_BOMBS)
def test_yaml_bombs_in_a_spec_are_refused_inside_the_limits(tmp_path, name):
    content, words = SPEC_BOMBS[name]
    path = tmp_path / "bomb.yaml"
    path.write_text(content)
    for command in ("solve", "derive"):
        assert_refused(run_limited(command, str(path)), "bomb.yaml", *words)


@pytest.mark.parametrize(("suffix", "content"), [
    (".json", '{"layers": ' + "[" * 100_000 + "]" * 100_000 + ', "loss": "mse"}'),
    (".toml", "layers = " + "[" * 100_000 + "]" * 100_000 + '\nloss = "mse"\n'),
    (".json", '{"layers": [2, 1], "loss": "mse", "title": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}"),
])  # fmt: skip
def test_deep_json_and_toml_are_refused(tmp_path, suffix, content):
    path = tmp_path / f"deep{suffix}"
    path.write_text(content)
    assert_refused(run_limited("solve", str(path)), "nested too deeply")


ANSWER_BOMBS = {
    "alias bomb": (laughs(9) + "forward: {z1: *a8}\n", ["aliases"]),
    "alias bomb as a section": (laughs(9) + "forward: *a8\n", ["aliases"]),
    "recursive alias": ("forward: &f {z1: *f}\n", ["contains it"]),
    "deep nesting": ("forward: " + "[" * 100_000 + "]" * 100_000 + "\n", ["nested more than 50"]),
}


@pytest.mark.parametrize("name", ANSWER_BOMBS)
def test_yaml_bombs_in_answers_are_refused_without_printing_them(tmp_path, name):
    content, words = ANSWER_BOMBS[name]
    path = tmp_path / "answers.yaml"
    path.write_text(content)
    assert_refused(run_limited("check", str(EXAMPLES / "seed_2_2_1.yaml"), str(path)), "answers.yaml", *words)


def test_a_few_aliases_still_work(tmp_path, capsys):
    spec = {k: v for k, v in SEED.items() if k not in ("inputs", "targets")}
    path = tmp_path / "aliases.yaml"
    path.write_text(yaml.safe_dump(spec) + "data:\n  - {inputs: &x [0.5, 0.1], targets: &t [0.6]}\n  - {inputs: *x, targets: *t}\n")
    assert cli.main(["solve", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["loss"] > 0


def test_files_beyond_the_size_limit_are_refused_unread(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(files, "MAX_FILE_BYTES", 4096)
    path = tmp_path / "big.yaml"
    path.write_text((EXAMPLES / "seed_2_2_1.yaml").read_text() + "#" * 5000 + "\n")
    assert cli.main(["solve", str(path)]) == 2
    assert "larger than the limit" in capsys.readouterr().err
    answers = tmp_path / "answers.yaml"
    answers.write_text("loss: 0.1\n" + "#" * 5000 + "\n")
    assert cli.main(["check", str(EXAMPLES / "seed_2_2_1.yaml"), str(answers)]) == 2
    assert "larger than the limit" in capsys.readouterr().err


def test_an_endless_input_is_read_only_up_to_the_limit():
    assert_refused(run_limited("solve", "/dev/zero"), "/dev/zero", "larger than the limit of 64 MiB")


def spec_file(tmp_path, name="net.yaml", **raw) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(raw))
    return str(path)


@pytest.mark.parametrize(("layers", "commands", "words"), [
    ([300, 300, 300, 1], [["derive"], ["derive", "--json"], ["check", "SPEC", "a.yaml"]], ["180,901 parameters", "50,000", "--max-parameters"]),
    ([100, 100, 1], [["export"]], ["10,201 parameters", "5,000", "--max-parameters"]),
    ([100, 100, 1], [["handout", "-o", "out.tex"]], ["10,201 parameters", "2,000", "--max-parameters"]),
    ([999_998, 1], [["derive"]], ["999,999 parameters", "--max-parameters"]),
    ([2000, 1000, 1], [["solve"], ["train"]], ["2,002,001 parameters", "2,000,000", "--max-parameters"]),
])  # fmt: skip
def test_networks_too_big_for_a_command_are_refused_before_the_work(tmp_path, layers, commands, words):
    path = spec_file(tmp_path, layers=layers, loss="mse", init={"seed": 0}, inputs=[0.1] * layers[0], targets=[0.5])
    (tmp_path / "a.yaml").write_text("loss: 0.1\n")
    for command in commands:
        argv = [path if word == "SPEC" else word for word in command]
        assert_refused(run_limited(*argv, *([] if "SPEC" in command else [path]), cwd=tmp_path), *words)


def test_max_parameters_raises_and_lowers_every_limit(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(handout, "MAX_PARAMETERS", 5)
    seed = str(EXAMPLES / "seed_2_2_1.yaml")
    assert cli.main(["handout", seed, "-o", str(tmp_path / "h.tex")]) == 2
    assert "9 parameters is more than the 5" in capsys.readouterr().err
    assert cli.main(["--max-parameters", "9", "handout", seed, "-o", str(tmp_path / "h.tex")]) == 0
    assert cli.main(["solve", seed, "--max-parameters", "8"]) == 2
    assert "--max-parameters" in capsys.readouterr().err
    assert (handout.MAX_PARAMETERS, api.MAX_PER_WEIGHT) == (5, 50_000)  # restored after each run


def test_a_deep_network_runs_through_every_command(tmp_path):
    """41 layers of one neuron: expanded forms are left out instead of overflowing the stack."""
    path = spec_file(tmp_path, layers=[1] * 41, loss="mse", inputs=[0.5], targets=[0.2], init={"seed": 0})
    answers = tmp_path / "answers.yaml"
    answers.write_text("forward: {z1: 0.1}\n")
    for command in (["solve", "--json"], ["derive", "--json"], ["derive", "--form", "vector", "--json"],
                    ["export"], ["handout", "-o", "deep.tex"], ["train", "--epochs", "2"]):  # fmt: skip
        result = run_limited(command[0], path, *command[1:], cwd=tmp_path)
        assert result.returncode == 0, (command, result.stderr[-1000:])
    assert run_limited("check", path, str(answers)).returncode == 1  # marked wrong, not an error


def test_a_wide_sheet_with_every_value_wrong_is_marked_within_the_search_budget(tmp_path):
    path = spec_file(tmp_path, layers=[12, 12, 1], loss="mse", inputs=[0.1] * 12, targets=[0.5], init={"seed": 0})
    solved = json.loads(run_limited("solve", path, "--json").stdout)
    wrong = lambda value: round(1.1 * value + 0.01, 4)  # noqa: E731 - wrong everywhere, explained by no mistake
    sheet = {section: {name: wrong(value) for name, value in solved[section].items()}
             for section in ("forward", "deltas", "gradients", "updated")}  # fmt: skip
    answers = tmp_path / "answers.yaml"
    answers.write_text(yaml.safe_dump(sheet))
    result = run_limited("check", path, str(answers), "--json")
    assert result.returncode == 1, result.stderr[-1000:]
    marking = json.loads(result.stdout)
    assert marking["counts"]["wrong"] > 100
    diagnoses = {q["diagnosis"] for q in marking["quantities"] if q["status"] == "wrong"}
    assert f"not diagnosed: the mistake search stops after compiling {check.MAX_COMPILED:,} mistaken steps per sheet" in diagnoses


HUGE_INT = 10**400
NUMBER_PLACES = {
    "inputs[0]": lambda raw, v: raw["inputs"].__setitem__(0, v),
    "targets[0]": lambda raw, v: raw["targets"].__setitem__(0, v),
    "learning_rate": lambda raw, v: raw.__setitem__("learning_rate", v),
    "parameters.w11": lambda raw, v: raw["parameters"].__setitem__("w11", v),
    "init.scale": lambda raw, v: (raw.pop("parameters"), raw.__setitem__("init", {"seed": 1, "scale": v})),
    "data[1].inputs[1]": lambda raw, v: (raw.pop("inputs"), raw.pop("targets"), raw.__setitem__(
        "data", [{"inputs": [0.5, 0.1], "targets": [0.6]}, {"inputs": [0.2, v], "targets": [0.6]}])),
}  # fmt: skip
# (file suffix, how the value is written): each spells a number too large for a double
SPELLINGS = {
    "yaml 1e400": (".yaml", "1e400"), "yaml -1.0e+400": (".yaml", "-1.0e+400"), "yaml 10**400": (".yaml", str(HUGE_INT)),
    "json 1e400": (".json", "1e400"), "json -10**400": (".json", str(-HUGE_INT)),
    "toml 10**400": (".toml", str(HUGE_INT)),
}  # fmt: skip


@pytest.mark.parametrize("place", NUMBER_PLACES)
@pytest.mark.parametrize("spelling", SPELLINGS)
def test_numbers_too_large_for_a_double_are_refused_by_place(tmp_path, capsys, place, spelling):
    suffix, literal = SPELLINGS[spelling]
    raw = json.loads(json.dumps(SEED))
    NUMBER_PLACES[place](raw, 123456789.0)  # a marker, replaced by the literal in the file's own syntax
    if suffix == ".toml":
        text = _toml(raw)
    elif suffix == ".json":
        text = json.dumps(raw)
    else:
        text = yaml.safe_dump(raw)
    assert "123456789.0" in text
    path = tmp_path / f"spec{suffix}"
    path.write_text(text.replace("123456789.0", literal))
    code = cli.main(["solve", str(path)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "internal error" not in err
    assert place.split("[")[0].split(".")[0] in err and ("finite" in err or "too large" in err), err


def _toml(raw: dict) -> str:
    """A small TOML writer for the seed's shapes (tomllib reads but does not write)."""

    def value(v):
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + "}"
        return repr(v)

    return "".join(f"{key} = {value(v)}\n" for key, v in raw.items())


@pytest.mark.parametrize(("name", "text"), [
    ("yaml 1e400", "forward: {z1: 1e400}\n"), ("yaml -1e400", "loss: -1e400\n"),
    ("yaml 10**400", f"forward: {{z1: {HUGE_INT}}}\n"), ("yaml .inf", "forward: {z1: .inf}\n"),
    ("yaml exponent of 5000 digits", "forward: {z1: 1e" + "9" * 5000 + "}\n"),
])  # fmt: skip
def test_answers_too_large_for_a_double_are_refused_by_place(tmp_path, capsys, name, text):
    path = tmp_path / "answers.yaml"
    path.write_text(text)
    code = cli.main(["check", str(EXAMPLES / "seed_2_2_1.yaml"), str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "internal error" not in err, err
    assert "answers.yaml" in err and ("z1" in err or "loss" in err)


@pytest.mark.parametrize("text", ['{"forward": {"z1": 1e400}}', '{"loss": ' + str(HUGE_INT) + "}",
                                  '{"forward": {"z1": -1e999999}}', '{"loss": NaN}', '{"loss": Infinity}'])  # fmt: skip
def test_json_answers_too_large_are_refused(tmp_path, capsys, text):
    path = tmp_path / "answers.json"
    path.write_text(text)
    code = cli.main(["check", str(EXAMPLES / "seed_2_2_1.yaml"), str(path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "internal error" not in err, err
    assert "answers.json" in err


def linear_seed(tmp_path, **changes) -> str:
    raw = {**json.loads(json.dumps(SEED)), "activation": "linear", **changes}
    return spec_file(tmp_path, "linear.yaml", **raw)


@pytest.mark.parametrize("command", [["solve"], ["solve", "--json"], ["check", str(EXAMPLES / "seed_answers.yaml")],
                                     ["handout", "-o", "out.tex"], ["train", "--epochs", "2"]])  # fmt: skip
def test_a_result_beyond_the_floating_point_range_names_its_quantity(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    path = linear_seed(tmp_path, inputs=[1e200, 1e200])
    code = cli.main([command[0], path, *command[1:]])
    out, err = capsys.readouterr()
    assert code == 2, err
    assert err.count("\n") == 1 and ("is inf" in err or "diverged" in err), err
    assert "Infinity" not in out and "NaN" not in out


@pytest.mark.parametrize("rate", ["1e3", "1e6"])
def test_diverging_training_stops_with_the_epoch_and_the_quantity(tmp_path, capsys, rate):
    path = linear_seed(tmp_path, learning_rate=float(rate))
    for command in (["train", path, "--epochs", "300", "--json"], ["handout", path, "--train", "300", "-o",
                                                                    str(tmp_path / "t.tex")]):  # fmt: skip
        code = cli.main(command)
        out, err = capsys.readouterr()
        assert code == 2, err
        assert "training diverged" in err and "after epoch" in err
        assert out == ""


def _strict(text: str):
    def refuse(constant):
        raise AssertionError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


EDGE_SPECS = {
    "saturated sigmoid": dict(inputs=[100.0, -100.0]),
    "relu at its kink": dict(activation=["relu", "sigmoid"], inputs=[0.0, 0.0], parameters={**SEED["parameters"], "b1": 0.0, "b2": 0.0}),
    "bce at saturation": dict(loss="binary_cross_entropy", targets=[1.0], inputs=[100.0, 100.0]),
    "tiny values": dict(inputs=[1e-300, 1e-300], targets=[1e-300]),
    "large linear": dict(activation="linear", inputs=[1e100, 1e100]),
}  # fmt: skip


@pytest.mark.parametrize("name", EDGE_SPECS)
def test_json_output_is_strict_json_at_the_edges(tmp_path, capsys, name):
    path = spec_file(tmp_path, **{**json.loads(json.dumps(SEED)), **EDGE_SPECS[name]})
    answers = tmp_path / "answers.yaml"
    answers.write_text("forward: {z1: 0.1, h1: 0.5}\ndeltas: {delta3: 1e-300}\n")
    for command in (["solve", path, "--json"], ["derive", path, "--json"], ["check", path, str(answers), "--json"],
                    ["train", path, "--epochs", "3", "--json"]):  # fmt: skip
        code = cli.main(command)
        out, err = capsys.readouterr()
        if code == 2:  # a clean refusal of a result beyond the range is allowed; invalid JSON is not
            assert out == "" and err.count("\n") == 1, err
            continue
        assert code in (0, 1), err
        data = _strict(out)
        assert data


def test_json_output_never_carries_a_non_finite_number(capsys, monkeypatch):
    monkeypatch.setattr(cli, "printable", lambda text, **_: text)
    with pytest.raises(ValueError):
        cli._print_json({"x": math.inf})  # allow_nan=False: a leak is a bug, caught here, not printed


LONG = "a" * 100_000
LONG_TEXT_PLACES = {
    "activation": {"activation": LONG}, "loss": {"loss": LONG}, "naming": {"naming": LONG}, "bias": {"bias": LONG},
    "unknown key": {LONG: 1}, "activation name": {"activations": {LONG + "!": "z"}},
    "formula": {"activations": {"f": "z+" + "1+" * 50_000 + "z"}, "activation": ["f", "sigmoid"]},
    "rename target": {"rename": {"w11": LONG}}, "rename source": {"rename": {LONG: "q"}},
    "parameter name": {"parameters": {**SEED["parameters"], LONG: 1.0}}, "frozen": {"frozen": [LONG]},
    "layer": {"layers": [2, LONG, 1]},
}  # fmt: skip


@pytest.mark.parametrize("place", LONG_TEXT_PLACES)
def test_a_huge_value_is_not_echoed_in_full(tmp_path, capsys, place):
    path = spec_file(tmp_path, **{**json.loads(json.dumps(SEED)), **LONG_TEXT_PLACES[place]})
    assert cli.main(["solve", path]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and len(err) <= 400 + len(path), err[:500]
