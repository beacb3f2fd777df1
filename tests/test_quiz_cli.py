"""`symbackprop quiz`: the files it writes, and one line with exit status 2 for every mistake in its options."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
import zipfile

import pytest
from conftest import EXAMPLES

from symbackprop import cli, handout, spec

SEED = str(EXAMPLES / "seed_2_2_1.yaml")


def run(capsys, *args):
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_moodle_and_qti_files_are_written(capsys, tmp_path):
    moodle, qti = tmp_path / "quiz.xml", tmp_path / "quiz.zip"
    code, out, err = run(capsys, "quiz", SEED, "--format", "moodle", "--variants", "4", "--seed", "7", "-o", str(moodle))
    assert code == 0 and err == "" and str(moodle) in out
    root = ET.parse(moodle).getroot()
    assert len(root.findall("question[@type='cloze']")) == 4
    code, _, err = run(capsys, "quiz", SEED, "--format", "qti", "--variants", "4", "--seed", "7", "-o", str(qti),
                       "--questions", "backward", "--param", "w11", "--lang", "de")  # fmt: skip
    assert code == 0 and err == ""
    archive = zipfile.ZipFile(io.BytesIO(qti.read_bytes()))
    assert sorted(archive.namelist()) == ["imsmanifest.xml", "symbackprop_quiz/symbackprop_quiz.xml"]
    qti_root = ET.fromstring(archive.read("symbackprop_quiz/symbackprop_quiz.xml"))
    groups = qti_root.findall(".//{http://www.imsglobal.org/xsd/ims_qtiasiv1p2}section[@title]")
    assert [g.get("title") for g in groups] == ["deltas.delta3", "deltas.delta1", "deltas.delta2", "gradients.w11"]


def test_the_quiz_and_the_class_set_give_student_i_the_same_numbers(capsys, tmp_path):
    output = tmp_path / "quiz.xml"
    assert run(capsys, "quiz", SEED, "--variants", "3", "--seed", "11", "-o", str(output))[0] == 0
    loaded = spec.load(SEED)
    for i, question in enumerate(ET.parse(output).getroot().findall("question[@type='cloze']"), start=1):
        examples, parameters = handout.variant(loaded, seed=11, index=i)
        numbers = [float(v) for v in re.findall(r"<td>\\\((-?[0-9.]+)\\\)</td>", question.find("questiontext/text").text)]
        assert numbers == [*examples[0].inputs, *examples[0].targets, *parameters.values(), loaded.learning_rate]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "word"], "--format: invalid choice: 'word' (choose from 'moodle', 'qti')"),
        (["--questions", "forward,bogus"], "--questions: unknown part 'bogus'; valid: forward, loss, backward, update"),
        (["--questions", ","], "--questions: none given; valid: forward, loss, backward, update"),
        (["--param", "w99"], "--param: no parameter named 'w99'"),
        (["--variants", "0"], "--variants: must be a whole number from 1 to 1000, got 0"),
        (["--tolerance", "0"], "--tolerance: must be a positive number, got 0"),
        (["--decimals", "13"], "--decimals: must be a whole number from 0 to 12, got 13"),
        (["--lang", "xx"], "--lang: no quiz language 'xx'; shipped: de, en, fr"),
        (["--lang", "../../x"], "--lang: '../../x' is not a language code"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(capsys, tmp_path, args, message):
    output = tmp_path / "quiz.xml"
    code, out, err = run(capsys, "quiz", SEED, "-o", str(output), *args)
    assert code == 2 and out == ""
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not output.exists()


def test_output_path_problems_are_one_line_and_exit_2(capsys, tmp_path):
    cases = [
        ((tmp_path / "quiz.zip", "moodle"), "a --format moodle quiz is a .xml file; give a name ending in .xml"),
        ((tmp_path / "quiz.xml", "qti"), "a --format qti quiz is a .zip file; give a name ending in .zip"),
        ((tmp_path / "missing" / "quiz.xml", "moodle"), "no such directory"),
        ((tmp_path / "folder.xml", "moodle"), "is a directory, not a regular file"),
    ]
    (tmp_path / "folder.xml").mkdir()
    for (output, kind), message in cases:
        code, out, err = run(capsys, "quiz", SEED, "--format", kind, "-o", str(output))
        assert code == 2 and out == "", message
        assert message in err and err.count("\n") == 1, err
    copy = tmp_path / "spec.xml"
    copy.write_text((EXAMPLES / "seed_2_2_1.yaml").read_text())
    code, _, err = run(capsys, "quiz", str(copy), "-o", str(copy))
    assert code == 2 and "is the spec" in err and copy.read_text() == (EXAMPLES / "seed_2_2_1.yaml").read_text()


def test_a_batch_spec_is_refused_in_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "quiz", str(EXAMPLES / "batch_2_2_1.yaml"), "-o", str(tmp_path / "quiz.xml"))
    assert code == 2 and "a quiz asks one example's values" in err and err.count("\n") == 1


def test_too_many_values_asked_is_refused_before_the_work(capsys, tmp_path):
    big = str(EXAMPLES / "big.yaml")
    code, _, err = run(capsys, "quiz", big, "-o", str(tmp_path / "quiz.xml"))
    assert code == 2 and err.count("\n") == 1
    layers = [8, 8, 8, 8, 8, 1]
    neurons = sum(layers[1:])
    parameters = sum(a * b + b for a, b in zip(layers, layers[1:]))
    asked = 2 * neurons + 1 + neurons + 2 * parameters  # z and h, L, δ's, gradients, updates
    assert f"{asked} values asked per variant is more than the 200 a quiz asks; choose fewer with --questions or --param" in err
    assert run(capsys, "quiz", big, "-o", str(tmp_path / "quiz.xml"), "--questions", "loss,update", "--param", "w11")[0] == 0


def test_help_has_an_example(capsys):
    with pytest.raises(SystemExit):
        cli.main(["quiz", "--help"])
    out = capsys.readouterr().out
    assert "Example: symbackprop quiz examples/seed_2_2_1.yaml --format moodle" in out
