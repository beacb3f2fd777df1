"""The handout's training section: its loss curve and numbers against a plain NumPy training loop,
plain TikZ (no pgfplots), round axis ticks, a compiled PDF, and the command line's option errors.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import reference
from test_render import needs_tex, pdf_text

import symbackprop as sbp
from symbackprop import cli, handout, handout_training, render, train

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEED = EXAMPLES / "seed_2_2_1.yaml"
SEPARABLE, CSV = EXAMPLES / "separable.yaml", EXAMPLES / "separable.csv"
HALF = 0.5e-6  # a value shown with 6 decimals is within this of the true one


# -- an independent oracle: one hidden sigmoid layer, a sigmoid output, mini-batch gradient descent --


def _seed_reference(epochs):
    spec = sbp.load_spec(SEED)
    X = np.array([e.inputs for e in spec.examples])
    T = np.array([e.targets for e in spec.examples])
    return reference.numpy_training(spec.parameters, 2, 2, X, T, loss=spec.loss, epochs=epochs, batch_size=1, seed=0,
                      rate=spec.learning_rate)  # fmt: skip


def _separable_reference(epochs, batch_size, seed):
    spec = sbp.load_spec(SEPARABLE)
    table = np.loadtxt(CSV, delimiter=",", skiprows=1)
    return reference.numpy_training(spec.parameters, 2, 3, table[:, :2], table[:, 2:], loss=spec.loss, epochs=epochs,
                      batch_size=batch_size, seed=seed, rate=spec.learning_rate)  # fmt: skip


# -- reading the figure back out of the TeX --------------------------------------------------


def _curve(tex: str) -> list[tuple[float, float]]:
    """(epoch, loss) of every plotted point, mapped back through the axes' labelled ticks."""
    x_ticks = [(float(p), float(v)) for p, v in re.findall(r"\(([\d.]+),0\) -- \(\1,-0\.1\) node\[tick, below\] \{\$([^$]+)\$\}", tex)]
    y_ticks = [(float(p), float(v)) for p, v in re.findall(r"\(0,([\d.]+)\) -- \(-0\.1,\1\) node\[tick, left\] \{\$([^$]+)\$\}", tex)]
    assert len(x_ticks) >= 2 and len(y_ticks) >= 2
    (xp0, xv0), (xp1, xv1) = x_ticks[0], x_ticks[-1]
    (yp0, yv0), (yp1, yv1) = y_ticks[0], y_ticks[-1]
    body = re.search(r"plot coordinates \{([^}]*)\}", tex).group(1)
    points = [tuple(map(float, p)) for p in re.findall(r"\(([-\d.]+),([-\d.]+)\)", body)]
    return [(xv0 + (x - xp0) * (xv1 - xv0) / (xp1 - xp0), yv0 + (y - yp0) * (yv1 - yv0) / (yp1 - yp0)) for x, y in points]


def _assert_curve_matches(tex: str, history: list[float]):
    curve = _curve(tex)
    assert len(curve) <= handout_training.CURVE_POINTS
    epochs = [round(e) for e, _ in curve]
    assert epochs[0] == 1 and epochs[-1] == len(history)
    spread = max(history) - min(history)
    for (epoch, loss), whole in zip(curve, epochs):
        assert epoch == pytest.approx(whole, abs=1e-3)
        # coordinates are written to 1e-4 cm on a 6 cm axis that spans at most twice the data's range
        assert loss == pytest.approx(history[whole - 1], abs=1e-4 * spread + 1e-12), whole


def _shown(tex: str) -> tuple[int, float, float]:
    found = re.search(r"After epoch 1 the mean loss is \$([^$]+)\$; after epoch (\d+) it is \$([^$]+)\$", tex)
    return int(found.group(2)), float(found.group(1)), float(found.group(3))


def _parameter_rows(tex: str) -> dict[str, tuple[float, float]]:
    start = tex.index(r"\text{after epoch")
    table = tex[start : tex.index(r"\end{longtable}", start)]
    rows = re.findall(r"^(w_\{\d+\}|b_\{\d+\}) & (\S+) & (\S+) &", table, flags=re.MULTILINE)
    return {name.replace("_{", "").replace("}", ""): (float(a), float(b)) for name, a, b in rows}


# -- the section against the reference ----------------------------------------------------------


def test_separable_csv_section_matches_numpy_reference(tmp_path, capsys):
    out = tmp_path / "trained.tex"
    code = cli.main(["handout", str(SEPARABLE), "--train", "60", "--data", str(CSV), "--batch-size", "8",
                     "--train-seed", "3", "-o", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    tex = out.read_text(encoding="utf-8")
    history, final = _separable_reference(60, 8, 3)
    _assert_curve_matches(tex, history)
    epochs, first, last = _shown(tex)
    assert epochs == 60
    assert first == pytest.approx(history[0], abs=HALF) and last == pytest.approx(history[-1], abs=HALF)
    assert "32 examples from separable.csv, in shuffled mini-batches of 8 (shuffling seed 3)" in " ".join(tex.split())
    start = sbp.load_spec(SEPARABLE).parameters
    rows = _parameter_rows(tex)
    assert set(rows) == set(final)
    for name, (before, after) in rows.items():
        assert before == pytest.approx(start[name], abs=HALF), name
        assert after == pytest.approx(final[name], abs=HALF), name


def test_seed_network_from_python_matches_numpy_reference():
    spec = sbp.load_spec(SEED)
    run = handout.trained(spec, train.spec_data(spec), epochs=300, batch_size=32)
    tex = render.make(sbp.derive(spec), training=run).latex()
    history, final = _seed_reference(300)
    _assert_curve_matches(tex, history)
    _, first, last = _shown(tex)
    assert first == pytest.approx(history[0], abs=HALF) and last == pytest.approx(history[-1], abs=HALF)
    assert {name: after for name, (_, after) in _parameter_rows(tex).items()} == pytest.approx(final, abs=HALF)
    assert "1 example from the spec's data, one step per epoch" in " ".join(tex.split())


def test_long_run_is_thinned_and_keeps_its_ends():
    spec = sbp.load_spec(SEED)
    run = handout.trained(spec, train.spec_data(spec), epochs=750, batch_size=1)
    tex = render.latex(handout.build(sbp.derive(spec), training=run))
    history, _ = _seed_reference(750)
    _assert_curve_matches(tex, history)
    assert 150 <= len(_curve(tex)) <= handout_training.CURVE_POINTS


def test_figure_is_plain_tikz():
    spec = sbp.load_spec(SEED)
    tex = render.latex(handout.build(sbp.derive(spec), training=handout.trained(spec, train.spec_data(spec), epochs=5, batch_size=1)))
    assert "pgfplots" not in tex and r"\begin{axis}" not in tex
    assert r"\begin{tikzpicture}" in tex[tex.index(r"\section*{Training}") :]


def test_without_training_there_is_no_section():
    document = handout.build(sbp.derive(sbp.load_spec(SEED)))
    assert document.training is None
    assert "Training" not in render.latex(document)


@pytest.mark.parametrize(
    ("low", "high"),
    [(0.0123, 0.6931), (0.000043, 0.009543), (1.5, 1.5), (0.2, 0.2001), (-3.7, 12.2), (2e-7, 9e-7), (0.0, 0.3)],
)  # fmt: skip
def test_ticks_are_round_and_cover_the_data(low, high):
    ticks, first, last = handout_training.nice_ticks(low, high)
    values = [v for v, _ in ticks]
    assert first == values[0] <= low and high <= values[-1] == last
    assert 3 <= len(values) <= 9
    steps = np.diff(values)
    step = steps[0]
    np.testing.assert_allclose(steps, step, rtol=1e-9)
    mantissa = step / 10 ** math.floor(math.log10(step) + 1e-12)
    assert min(abs(mantissa - m) for m in (1, 2, 5)) < 1e-9
    for value, label in ticks:
        assert float(label) == pytest.approx(value, abs=step * 1e-9)
        assert value / step == pytest.approx(round(value / step), abs=1e-6)  # on the step's grid


@pytest.mark.parametrize("epochs", [1, 2, 7, 300, 1234])
def test_epoch_ticks_are_whole_numbers(epochs):
    ticks, first, last = handout_training.nice_ticks(0, epochs, whole=True)
    assert first == 0 and last >= epochs
    assert all(float(v).is_integer() and label == str(int(v)) for v, label in ticks)


# -- the PDF ----------------------------------------------------------------------------------


def test_pdf_compiles_and_shows_first_and_final_loss(tmp_path, capsys):
    needs_tex()
    out = tmp_path / "trained.pdf"
    assert cli.main(["handout", str(SEED), "--train", "80", "-o", str(out)]) == 0, capsys.readouterr().err
    text = pdf_text(out)
    history, _ = _seed_reference(80)
    assert "Training" in text
    for value in (history[0], history[-1]):
        assert f"{value:.6f}".rstrip("0") in text


# -- option errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--train", "-3"], "--train: must be at least 1 epoch, got -3"),
     (["--train", "0"], "--train: must be at least 1 epoch, got 0"),
     (["--data", str(CSV)], "--data: only used with --train EPOCHS"),
     (["--batch-size", "4"], "--batch-size: only used with --train EPOCHS"),
     (["--train-seed", "4"], "--train-seed: only used with --train EPOCHS"),
     (["--train", "5", "--batch-size", "0"], "--batch-size: must be at least 1, got 0"),
     (["--train", "5", "--variants", "2"], "--train: not with --variants; a training section goes in a single handout")],
)  # fmt: skip
def test_bad_training_options_exit_2_in_one_line(tmp_path, capsys, extra, message):
    out = tmp_path / ("sheets" if "--variants" in extra else "h.tex")
    assert cli.main(["handout", str(SEED), "-o", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert err == f"symbackprop: error: {message}\n"
    assert not out.exists()


def test_spec_without_examples_needs_data(tmp_path, capsys):
    assert cli.main(["handout", str(SEPARABLE), "--train", "5", "-o", str(tmp_path / "h.tex")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pass --data FILE.csv" in err


def test_exercise_sheet_does_not_give_away_the_update():
    # after one full-batch epoch the final parameters are the update table's answers
    spec = sbp.load_spec(SEED)
    run = handout.trained(spec, train.spec_data(spec), epochs=1, batch_size=1)
    exercise = render.latex(handout.build(sbp.derive(spec), mode="exercise", training=run))
    solutions = render.latex(handout.build(sbp.derive(spec), mode="solutions", training=run))
    assert r"\section*{Training}" in exercise and r"\text{after epoch" not in exercise
    assert r"\text{after epoch 1}" in solutions


def test_the_library_works_through_the_first_csv_line_of_a_spec_without_examples():
    """As the README shows: render.make(derivation, training=handout.trained(spec, data, ...)) on separable.yaml."""
    spec = sbp.load_spec(SEPARABLE)
    assert spec.examples == ()
    data = train.load_csv(CSV, spec)
    latex = render.make(sbp.derive(spec), training=handout.trained(spec, data, epochs=3, batch_size=8)).latex()
    first_line = CSV.read_text().splitlines()[1].split(",")  # x1, x2, label as written
    for cell in first_line:
        assert str(float(cell)).rstrip("0").rstrip(".") in latex, cell
