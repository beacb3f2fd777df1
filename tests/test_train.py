"""Training: a plain NumPy reference trajectory, a loss threshold, CSV loading and its errors."""

import json
from pathlib import Path

import numpy as np
import pytest
import reference

import symbackprop as sbp
from symbackprop import cli, train
from symbackprop.errors import InputFileError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SPEC = EXAMPLES / "separable.yaml"
CSV = EXAMPLES / "separable.csv"
THRESHOLD = 0.05  # mean binary cross-entropy the separable set must get below


def test_training_matches_numpy_reference_epoch_by_epoch():
    spec = sbp.load_spec(SPEC)
    data = train.load_csv(CSV, spec)
    result = train.train(spec, data, epochs=40, batch_size=5, seed=3)
    history, final = reference.numpy_training(spec.parameters, 2, 3, data.inputs, data.targets, loss=spec.loss,
                                              epochs=40, batch_size=5, seed=3, rate=spec.learning_rate)  # fmt: skip
    np.testing.assert_allclose(result.loss_history, history, rtol=1e-10)
    for name, value in final.items():
        assert result.parameters[name] == pytest.approx(value, rel=1e-9, abs=1e-12), name


def test_training_on_separable_set_gets_below_threshold():
    spec = sbp.load_spec(SPEC)
    result = train.train(spec, train.load_csv(CSV, spec), epochs=200, batch_size=8)
    assert result.final_loss < THRESHOLD
    assert result.loss_history[0] > 0.5


def test_same_seed_same_run_other_seed_other_order():
    spec = sbp.load_spec(SPEC)
    data = train.load_csv(CSV, spec)
    first, again = (train.train(spec, data, epochs=3, batch_size=4, seed=9) for _ in range(2))
    other = train.train(spec, data, epochs=3, batch_size=4, seed=10)
    assert first.loss_history == again.loss_history
    assert first.loss_history != other.loss_history


def test_frozen_parameters_stay_put():
    spec = sbp.spec_from_dict({**_mapping(), "frozen": ["w11", "b4"]})
    result = train.train(spec, train.load_csv(CSV, spec), epochs=5, batch_size=8)
    assert result.parameters["w11"] == spec.parameters["w11"]
    assert result.parameters["b4"] == spec.parameters["b4"]
    assert result.parameters["w12"] != spec.parameters["w12"]


def _mapping():
    from symbackprop import spec as spec_module

    return spec_module.read_mapping(SPEC)


def test_columns_chosen_by_name(tmp_path):
    shuffled = tmp_path / "points.csv"
    lines = CSV.read_text().splitlines()
    rows = [line.split(",") for line in lines]
    shuffled.write_text("\n".join(",".join([r[2], r[1], "note" if i == 0 else "x", r[0]]) for i, r in enumerate(rows)))
    spec = sbp.load_spec(SPEC)
    default = train.load_csv(CSV, spec)
    chosen = train.load_csv(shuffled, spec, input_columns=["x1", "x2"], target_columns=["label"])
    np.testing.assert_array_equal(chosen.inputs, default.inputs)
    np.testing.assert_array_equal(chosen.targets, default.targets)


def test_spec_data_is_used_without_csv():
    spec = sbp.build_spec(layers=[2, 1, 1], loss="half_squared_error", data=[
        {"inputs": [0.0, 1.0], "targets": [1.0]}, {"inputs": [1.0, 0.0], "targets": [0.0]}])  # fmt: skip
    data = train.spec_data(spec)
    np.testing.assert_array_equal(data.inputs, [[0.0, 1.0], [1.0, 0.0]])
    assert len(train.train(spec, data, epochs=2, batch_size=1).loss_history) == 2


CSV_ERRORS = {
    "missing column": ("x1,x2,label\n0.1,0.2,1\n", dict(target_columns=["lable"]),
                       "{path}:1: no column named 'lable' (did you mean 'label'?); columns: x1, x2, label"),
    "non-numeric cell": ("x1,x2,label\n0.1,0.2,1\n0.3,abc,0\n", {}, "{path}:3: column 'x2': 'abc' is not a number"),
    "wrong width": ("x1,x2,label\n0.1,0.2,1\n0.3,0.4\n", {}, "{path}:3: 2 cells, but the header names 3 columns"),
    "too few columns": ("x1,label\n0.1,1\n", {},
                        "{path}:1: the header has 2 columns but the network needs 2 inputs and 1 targets (3 columns)"),
    "not finite": ("x1,x2,label\n0.1,nan,1\n", {}, "{path}:2: column 'x2': must be a finite number, got nan"),
    "target out of range": ("x1,x2,label\n0.1,0.2,2\n", {},
                            "{path}:2: column 'label': binary_cross_entropy needs targets between 0 and 1, got 2"),
    "header only": ("x1,x2,label\n", {}, "{path}: the header has no example lines after it"),
}  # fmt: skip


@pytest.mark.parametrize("text, options, message", CSV_ERRORS.values(), ids=CSV_ERRORS.keys())
def test_csv_errors_say_where_and_what(tmp_path, text, options, message):
    path = tmp_path / "points.csv"
    path.write_text(text)
    with pytest.raises(InputFileError) as caught:
        train.load_csv(path, sbp.load_spec(SPEC), **options)
    assert str(caught.value) == message.format(path=path)


def test_cli_csv_error_is_one_line_and_exit_2(tmp_path, capsys):
    path = tmp_path / "points.csv"
    path.write_text("x1,x2,label\n0.1,0.2,1\n0.3,abc,0\n")
    assert cli.main(["train", str(SPEC), "--data", str(path)]) == 2
    assert capsys.readouterr().err == f"symbackprop: error: {path}:3: column 'x2': 'abc' is not a number\n"


def test_cli_train_json_and_quiet_without_terminal(capsys):
    assert cli.main(["train", str(SPEC), "--data", str(CSV), "--epochs", "5", "--batch-size", "8", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # no progress bar when stderr is not a terminal
    report = json.loads(captured.out)
    assert len(report["loss_history"]) == 5
    assert report["final_loss"] == report["loss_history"][-1]
    assert list(report["parameters"]) == list(sbp.load_spec(SPEC).parameters)


def test_cli_plot_writes_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    target = tmp_path / "loss.png"
    assert cli.main(["train", str(SPEC), "--data", str(CSV), "--epochs", "3", "--plot", str(target)]) == 0
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
