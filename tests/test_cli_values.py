"""Command-line values and output files: every numeric option refused in one line, no output that replaces a special file or an input."""

import os
import stat

import pytest
from conftest import EXAMPLES

from symbackprop import cli, files
from symbackprop import spec as spec_module
from symbackprop.errors import SymbackpropError

SEED = EXAMPLES / "seed_2_2_1.yaml"
ANSWERS = EXAMPLES / "seed_answers.yaml"
SEPARABLE_CSV = EXAMPLES / "separable.csv"


@pytest.fixture(autouse=True)
def _restore_the_parameter_limit(monkeypatch):
    """--max-parameters sets the limit of the whole process; restored so that later tests see the default."""
    monkeypatch.setattr(spec_module, "MAX_PARAMETERS", spec_module.MAX_PARAMETERS)


def run(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_refused(code, out, err, *words):
    """Exit 2, nothing on stdout, one short line on stderr naming `words`, no traceback."""
    assert code == cli.EXIT_BAD_INPUT, err
    assert out == ""
    lines = err.splitlines()
    assert 1 <= len(lines) <= 3 and all(len(line) <= 400 for line in lines), err
    assert lines[0].startswith("symbackprop: error: ") and "symbackprop: symbackprop" not in err
    assert "Traceback" not in err and "internal error" not in err
    for word in words:
        assert word in err, (word, err)


# (command line before the option, option, valid range) for every numeric option
WHOLE = [
    (["solve", SEED], "--decimals", (0, 15)),
    (["handout", SEED, "-o", "h.tex"], "--decimals", (0, 12)),
    (["handout", SEED, "-o", "sheets"], "--variants", (1, None)),
    (["handout", SEED, "-o", "sheets", "--variants", "1"], "--seed", (0, None)),
    (["handout", SEED, "-o", "h.tex"], "--train", (1, None)),
    (["handout", SEED, "-o", "h.tex", "--train", "1"], "--batch-size", (1, None)),
    (["handout", SEED, "-o", "h.tex", "--train", "1"], "--train-seed", (0, None)),
    (["train", SEED], "--epochs", (1, None)),
    (["train", SEED], "--batch-size", (1, None)),
    (["train", SEED], "--seed", (0, None)),
    (["solve", SEED], "--max-parameters", (1, None)),
    ([], "--max-parameters", (1, None)),
]
NOT_WHOLE = ["nan", "inf", "-inf", "1e400", "1.5", "abc", "", "0x10", "9" * 5000]
POSITIVE = [(["train", SEED, "--epochs", "1"], "--learning-rate"), (["check", SEED, ANSWERS], "--tolerance")]
NOT_POSITIVE = ["nan", "NaN", "inf", "-inf", "Infinity", "1e400", "-1e400", "-1", "0", "-0.0", "abc", "", "1,5", "9" * 5000]


def _whole_cases():
    for before, option, (low, high) in WHOLE:
        below = [str(low - 1), str(low - 10**30)]
        above = [str(high + 1), str(10**30)] if high is not None else []
        for value in [*below, *above, *NOT_WHOLE]:
            yield pytest.param(before, option, value, id=f"{before[0] if before else 'global'} {option}={value[:12]}")


@pytest.mark.parametrize(("before", "option", "value"), list(_whole_cases()))
def test_bad_whole_numbers_are_refused_in_one_line(tmp_path, monkeypatch, capsys, before, option, value):
    monkeypatch.chdir(tmp_path)
    arguments = [*before, f"{option}={value}"] if before else [f"{option}={value}", "solve", SEED]
    code, out, err = run(capsys, *arguments)
    assert_refused(code, out, err, f"{option}: must be")
    assert list(tmp_path.iterdir()) == []  # refused before any output


@pytest.mark.parametrize("value", ["-1", "-3"])
@pytest.mark.parametrize(("before", "option"), [(b, o) for b, o, _ in WHOLE if b])
def test_negative_values_given_after_a_space_are_refused_too(tmp_path, monkeypatch, capsys, before, option, value):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *before, option, value)
    assert_refused(code, out, err, f"{option}: must be", f"got {value}")


@pytest.mark.parametrize("value", NOT_POSITIVE)
@pytest.mark.parametrize(("before", "option"), POSITIVE)
def test_bad_positive_numbers_are_refused_in_one_line(capsys, before, option, value):
    code, out, err = run(capsys, *before, f"{option}={value}")
    assert_refused(code, out, err, f"{option}: ")


def test_the_learning_rate_follows_the_rule_of_the_spec(tmp_path, capsys):
    """The same values are refused as `learning_rate` in a spec and as --learning-rate."""
    for value, in_yaml in [("nan", ".nan"), ("inf", ".inf"), ("-1", "-1"), ("0", "0"), ("1e400", "1.0e+400")]:
        spec = tmp_path / "s.yaml"
        spec.write_text(SEED.read_text().replace("learning_rate: 0.1", f"learning_rate: {in_yaml}"))
        assert_refused(*run(capsys, "solve", spec), "learning_rate")
        assert_refused(*run(capsys, "train", SEED, "--epochs", "1", "--learning-rate", value), "--learning-rate")


@pytest.mark.parametrize(("option", "value"), [("--decimals", "0"), ("--decimals", "15")])
def test_the_ends_of_a_range_are_accepted(capsys, option, value):
    code, out, _ = run(capsys, "solve", SEED, option, value)
    assert code == 0 and "w11" in out


def test_a_small_learning_rate_and_tolerance_are_accepted(capsys):
    code, out, _ = run(capsys, "train", SEED, "--epochs", "2", "--learning-rate", "1e-300", "--json")
    assert code == 0 and '"final_loss"' in out
    code, _, err = run(capsys, "check", SEED, ANSWERS, "--tolerance", "1e-3")
    assert code in (0, 1) and err == ""


# --debug and --max-parameters before and after the command


@pytest.mark.parametrize("where", ["before", "after"])
def test_max_parameters_works_on_either_side_of_the_command(capsys, where):
    arguments = ["--max-parameters", "3", "solve", SEED] if where == "before" else ["solve", SEED, "--max-parameters", "3"]
    assert_refused(*run(capsys, *arguments), "limit of 3", "--max-parameters")


def test_a_command_after_max_parameters_does_not_reset_it(capsys):
    assert_refused(*run(capsys, "--max-parameters", "3", "derive", SEED, "--param", "w11"), "limit of 3")
    code, out, _ = run(capsys, "solve", SEED, "--max-parameters", "9")
    assert code == 0 and "w11" in out


@pytest.mark.parametrize("arguments", [["--debug", "solve", SEED], ["solve", SEED, "--debug"], ["solve", "--debug", SEED]])
def test_debug_is_accepted_on_either_side_of_the_command(capsys, arguments):
    code, out, err = run(capsys, *arguments)
    assert code == 0 and "w11" in out and err == ""


@pytest.mark.parametrize("arguments", [["--debug", "solve", SEED, "--decimals", "-1"], ["solve", SEED, "--decimals", "-1", "--debug"]])
def test_debug_after_the_command_shows_the_error_itself(arguments):
    with pytest.raises(SymbackpropError, match=r"^--decimals: must be a whole number from 0 to 15, got -1$"):
        cli.main([str(a) for a in arguments])


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["solve"], "solve: the following arguments are required: spec"),
        (["frobnicate"], "COMMAND: invalid choice: 'frobnicate'"),
        (["solve", SEED, "--nope"], "unrecognized arguments: --nope"),
        (["handout", SEED], "handout: the following arguments are required: -o/--output"),
    ],
)
def test_usage_errors_name_the_program_once(capsys, arguments, message):
    code, out, err = run(capsys, *arguments)
    assert_refused(code, out, err)
    assert err.startswith(f"symbackprop: error: {message}")
    assert err.count("symbackprop") == 1


# outputs that are special files or the command's own inputs


def _output_commands(spec, out):
    """Every command that writes a file, with `out` as that file."""
    return {
        "export -o": ["export", spec, "-o", out],
        "handout -o": ["handout", spec, "-o", out],
        "train --plot": ["train", spec, "--epochs", "1", "--plot", out],
    }


def _special(tmp_path, kind, name):
    path = tmp_path / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "link to /dev/null":
        path.symlink_to(os.devnull)
    else:
        path.mkdir()
    return path


def _unchanged(path, kind):
    if kind == "fifo":
        return stat.S_ISFIFO(path.lstat().st_mode)
    if kind == "link to /dev/null":
        return path.is_symlink() and os.readlink(path) == os.devnull and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    return path.is_dir() and list(path.iterdir()) == []


SPECIAL = [("fifo", "a FIFO"), ("link to /dev/null", "a character device"), ("directory", "a directory")]


@pytest.mark.parametrize(("kind", "words"), SPECIAL)
@pytest.mark.parametrize("command", list(_output_commands("", "")))
@pytest.mark.parametrize("suffix", [".tex", ".pdf", ".png", ".py"])
def test_an_output_that_is_not_a_regular_file_is_refused(tmp_path, capsys, command, kind, words, suffix):
    target = _special(tmp_path, kind, f"out{suffix}")
    code, out, err = run(capsys, *_output_commands(SEED, target)[command])
    assert_refused(code, out, err, str(target), words, "not a regular file")
    assert _unchanged(target, kind)
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]  # no temporary file left behind


@pytest.mark.parametrize(("kind", "words"), SPECIAL[:2])
def test_a_variants_sheet_that_is_not_a_regular_file_is_refused(tmp_path, capsys, kind, words):
    sheets = tmp_path / "sheets"
    sheets.mkdir()
    target = _special(sheets, kind, "student_2_key.pdf")
    code, out, err = run(capsys, "handout", SEED, "-o", sheets, "--variants", "3")
    assert_refused(code, out, err, "student_2_key.pdf", words)
    assert _unchanged(target, kind) and [p.name for p in sheets.iterdir()] == [target.name]


@pytest.mark.parametrize(("kind", "words"), SPECIAL[:2])
def test_write_atomic_refuses_a_special_file(tmp_path, kind, words):
    target = _special(tmp_path, kind, "out.txt")
    with pytest.raises(SymbackpropError, match=rf"^--plot: .*out.txt: is {words}, not a regular file"):
        files.write_atomic(target, "text", option="--plot")
    assert _unchanged(target, kind) and [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def _inputs(tmp_path):
    """A spec (named so that every command's output suffix check comes after), a CSV and a templates folder."""
    spec = tmp_path / "spec.tex"
    spec.write_text(SEED.read_text())
    data = tmp_path / "data.csv"
    data.write_text(SEPARABLE_CSV.read_text())
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "logo.pdf").write_text("not really a PDF")
    return spec, data, templates


@pytest.mark.parametrize("alias", ["same path", "symbolic link", "hard link", "relative"])
@pytest.mark.parametrize("command", list(_output_commands("", "")))
def test_an_output_that_is_the_spec_is_refused(tmp_path, monkeypatch, capsys, command, alias):
    spec, _, _ = _inputs(tmp_path)
    out = {"same path": spec, "symbolic link": tmp_path / "link.tex", "hard link": tmp_path / "hard.tex",
           "relative": "../" + tmp_path.name + "/spec.tex"}[alias]  # fmt: skip
    if alias == "symbolic link":
        out.symlink_to(spec)
    elif alias == "hard link":
        os.link(spec, out)
    monkeypatch.chdir(tmp_path)
    before = spec.read_bytes()
    assert_refused(*run(capsys, *_output_commands(spec, out)[command]), "is the spec")
    assert spec.read_bytes() == before


@pytest.mark.parametrize(
    ("arguments", "words"),
    [
        (["handout", "{spec}", "-o", "{data}", "--train", "1", "--data", "{data}"], "the --data file"),
        (["train", "{spec}", "--epochs", "1", "--data", "{data}", "--plot", "{data}"], "the --data file"),
        (["handout", "{spec}", "-o", "{templates}/logo.pdf", "--templates", "{templates}"], "a file of --templates"),
    ],
)
def test_an_output_that_is_another_input_is_refused(tmp_path, capsys, arguments, words):
    spec, data, templates = _inputs(tmp_path)
    before = {p: p.read_bytes() for p in (spec, data, templates / "logo.pdf")}
    filled = [a.format(spec=spec, data=data, templates=templates) for a in arguments]
    assert_refused(*run(capsys, *filled), words, "choose another name")
    assert {p: p.read_bytes() for p in before} == before


def test_variants_into_the_folder_of_an_input_with_a_sheet_name_are_refused(tmp_path, capsys):
    spec = tmp_path / "student_1.tex"
    spec.write_text(SEED.read_text())
    assert_refused(*run(capsys, "handout", spec, "-o", tmp_path, "--variants", "2"), "is the spec")
    assert spec.read_text() == SEED.read_text()


@pytest.mark.parametrize("content", ["a file", None])
def test_variants_into_a_file_are_refused(tmp_path, capsys, content):
    target = tmp_path / "sheets"
    if content is None:
        target.symlink_to(os.devnull)
    else:
        target.write_text(content)
    assert_refused(*run(capsys, "handout", SEED, "-o", target, "--variants", "2"), str(target), "folder for the sheets")
    assert target.is_symlink() if content is None else target.read_text() == content


@pytest.mark.parametrize("folder", ["/proc/symbackprop-sheets", "/proc/self/symbackprop/sheets"])
def test_variants_into_a_folder_that_cannot_be_made_are_refused(capsys, folder):
    assert_refused(*run(capsys, "handout", SEED, "-o", folder, "--variants", "1"), folder)


def test_variants_into_a_folder_without_write_permission_are_refused(tmp_path, capsys):
    if os.geteuid() == 0:
        pytest.skip("root may write in a read-only folder")
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    assert_refused(*run(capsys, "handout", SEED, "-o", folder / "sheets", "--variants", "1"), "cannot write")
