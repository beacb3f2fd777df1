"""--steps N and --sections: several gradient-descent steps worked in full, or only some parts of a handout.

The steps' numbers are checked against a plain NumPy gradient-descent loop
(reference.numpy_training, full batch), to the places the handout prints.
"""

import re

import numpy as np
import pytest
import yaml
from conftest import EXAMPLES
from reference import numpy_training

import symbackprop as sbp
from symbackprop import cli, handout, render

QUESTION = re.compile(r"\\qnum\{(\d+)\}")
NUMBER = re.compile(r"-?\d+\.\d+")


def _network(name):
    raw = yaml.safe_load((EXAMPLES / name).read_text())
    examples = raw.get("data") or [{"inputs": raw["inputs"], "targets": raw["targets"]}]
    X = np.array([e["inputs"] for e in examples], float)
    T = np.array([e["targets"] for e in examples], float)
    return raw, X, T


def _printed(cell: str) -> float:
    return float(NUMBER.search(cell).group(0))


@pytest.mark.parametrize("name", ["seed_2_2_1.yaml", "batch_2_2_1.yaml"])
def test_each_step_starts_from_the_last_steps_new_values(name):
    raw, X, T = _network(name)
    spec = sbp.load_spec(EXAMPLES / name)
    document = handout.build(sbp.derive(spec), steps=3)
    assert [p.step for p in document.passes] == [1, 2, 3]
    for k, step in enumerate(document.passes, start=1):
        history, after = numpy_training(raw["parameters"], 2, 2, X, T, loss=raw["loss"], epochs=k,
                                        batch_size=len(X), seed=0, rate=raw["learning_rate"])  # fmt: skip
        _, before = (None, raw["parameters"]) if k == 1 else numpy_training(
            raw["parameters"], 2, 2, X, T, loss=raw["loss"], epochs=k - 1, batch_size=len(X), seed=0, rate=raw["learning_rate"])  # fmt: skip
        names = [row.cells[0] for row in step.updates.rows]
        assert len(names) == 9
        for row in step.updates.rows:
            name_ = re.sub(r"[{}_]", "", row.cells[0])
            old, new = _printed(row.cells[1]), _printed(row.cells[3])
            assert old == pytest.approx(before[name_], abs=6e-7), (k, name_)
            assert new == pytest.approx(after[name_], abs=6e-7), (k, name_)
        loss = step.mean_loss.value if step.mean_loss else step.losses[0].value
        start_loss = np.mean([0.5 * (y - t) ** 2 for y, t in _outputs(before, X, T)])
        assert _printed(loss) == pytest.approx(start_loss, abs=6e-7), k
        assert history  # the loop ran k steps


def _outputs(params, X, T):
    sig = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    for x, t in zip(X, T[:, 0]):
        h = sig(np.array([params["w11"] * x[0] + params["w12"] * x[1] + params["b1"],
                          params["w21"] * x[0] + params["w22"] * x[1] + params["b2"]]))  # fmt: skip
        yield sig(params["w31"] * h[0] + params["w32"] * h[1] + params["b3"]), t


@pytest.mark.parametrize("mode", handout.MODES)
def test_question_numbers_run_on_through_the_steps(mode):
    document = handout.build(sbp.derive(sbp.load_spec(EXAMPLES / "seed_2_2_1.yaml")), steps=2, mode=mode)
    text = render.latex(document).partition(r"\begin{document}")[2]
    numbers = [int(n) for n in QUESTION.findall(text)]
    assert numbers == list(range(1, len(numbers) + 1))
    assert len(numbers) == 2 * 19  # every question of the seed handout, twice
    assert text.count(r"\section*{Gradient-descent step") == 2


def test_forward_section_only(tmp_path, capsys):
    out = tmp_path / "forward.tex"
    spec = str(EXAMPLES / "seed_2_2_1.yaml")
    assert cli.main(["handout", spec, "-o", str(out), "--sections", "forward", "--mode", "exercise"]) == 0
    text = out.read_text().partition(r"\begin{document}")[2]
    assert [int(n) for n in QUESTION.findall(text)] == [1, 2, 3, 4, 5, 6]  # z1, z2, h1, h2, z3, ŷ
    for heading in ("Loss", "Backward pass", "Update", "Gradient check", "The rules of backpropagation"):
        assert heading not in text
    assert r"\section*{Forward pass}" in text


@pytest.mark.parametrize("sections", [["backward"], ["loss", "update"], ["rules", "check"]])
def test_sections_show_only_what_is_asked(sections):
    document = handout.build(sbp.derive(sbp.load_spec(EXAMPLES / "seed_2_2_1.yaml")), sections=sections)
    step = document.passes[0]
    shown = {"forward": bool(step.forward), "loss": bool(step.losses), "backward": bool(step.deltas),
             "update": step.updates is not None, "check": document.check is not None}  # fmt: skip
    assert {name for name, present in shown.items() if present} == set(sections) - {"rules"}
    text = render.latex(document)
    assert ("The rules of backpropagation" in text) == ("rules" in sections)


@pytest.mark.parametrize(("args", "says"), [
    (["--sections", "forwards"], "--sections: unknown section 'forwards'"),
    (["--sections", ","], "--sections: none given"),
    (["--sections", "training"], "--sections: training needs a training run"),
    (["--steps", "0"], "--steps: must be a whole number from 1 to 10"),
    (["--steps", "11"], "--steps: must be a whole number from 1 to 10"),
    (["--lang", "../../etc/passwd"], "--lang: '../../etc/passwd' is not a language code"),
    (["--lang", "xx"], "lang/xx.tex.j2"),
])  # fmt: skip
def test_bad_options_get_one_line(tmp_path, capsys, args, says):
    code = cli.main(["handout", str(EXAMPLES / "seed_2_2_1.yaml"), "-o", str(tmp_path / "h.tex"), *args])
    err = capsys.readouterr().err
    assert code == 2, err
    assert says in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "h.tex").exists()
