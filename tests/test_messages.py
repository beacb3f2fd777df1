"""Messages a user can act on: the right line, a byte-order mark ignored, lists capped, duplicates located, no raw control characters."""

import json
import re
from types import SimpleNamespace

import pytest
from conftest import EXAMPLES

from symbackprop import api, cli, errors, student_sheet
from symbackprop.errors import AnswersError, SymbackpropError

SEED = EXAMPLES / "seed_2_2_1.yaml"
ANSWERS = EXAMPLES / "seed_answers.yaml"


def run(capsys, *args):
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(code, out, err):
    """The refusal's single stderr line (exit 2, no traceback, at most 400 characters)."""
    assert code == cli.EXIT_BAD_INPUT and out == "", err
    assert err.count("\n") == 1 and len(err) <= 400 and "Traceback" not in err and "internal error" not in err, err
    return err.removeprefix("symbackprop: error: ").rstrip("\n")


# a bad CSV row is reported on its own line, however many blank lines come before it

BAD_ROWS = {
    "not a number": ("0.3,abc,1", "column 'x2': 'abc' is not a number"),
    "not finite": ("0.3,inf,1", "column 'x2': must be a finite number (at most 1.8e+308 in size), got inf"),
    "too large": ("0.3,1e400,1", "column 'x2': must be a finite number (at most 1.8e+308 in size), got 1e400"),
    "too few cells": ("0.3,0.4", "2 cells, but the header names 3 columns"),
    "too many cells": ("0.3,0.4,1,9", "4 cells, but the header names 3 columns"),
}
LAYOUTS = {
    "no blank lines": "x1,x2,t\n0.1,0.2,1\n{bad}\n0.5,0.6,0\n",
    "blank lines between rows": "x1,x2,t\n\n0.1,0.2,1\n\n\n{bad}\n",
    "blank lines before the header": "\n\n\nx1,x2,t\n0.1,0.2,1\n{bad}\n",
    "lines of spaces and empty cells": "x1,x2,t\n   \n,,\n0.1,0.2,1\n , \n{bad}\n",
    "CRLF line ends": "x1,x2,t\r\n\r\n0.1,0.2,1\r\n\r\n{bad}\r\n",
    "a quoted cell over two lines": 'x1,x2,t,note\n0.1,0.2,1,"two\nlines"\n\n{bad},x\n',
}


@pytest.mark.parametrize("bad", list(BAD_ROWS))
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_a_bad_csv_row_is_reported_on_its_line(tmp_path, capsys, layout, bad):
    row, words = BAD_ROWS[bad]
    text = LAYOUTS[layout].format(bad=row)
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode())
    # the oracle: the line of the file on which the bad row is written
    line = text.replace("\r\n", "\n").split("\n").index(row + (",x" if "note" in text else "")) + 1
    if "note" in text and "cells" in words:
        words = words.replace("3 columns", "4 columns").replace("2 cells", "3 cells").replace("4 cells", "5 cells")
    message = one_line(*run(capsys, "train", SEED, "--data", path, "--epochs", "1", "--inputs", "x1,x2", "--targets", "t"))
    assert message == f"{path}:{line}: {words}"


def test_a_header_after_blank_lines_is_reported_on_its_line(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("\n\nx1,x2,t\n0.1,0.2,1\n")
    message = one_line(*run(capsys, "train", SEED, "--data", path, "--epochs", "1", "--inputs", "x1,nope", "--targets", "t"))
    assert message.startswith(f"{path}:3: no column named 'nope'")


# a UTF-8 byte-order mark is not part of the first name

BOM = "\ufeff".encode()


@pytest.mark.parametrize("columns", [["--inputs", "x1,x2", "--targets", "t"], []])
def test_a_csv_with_a_byte_order_mark_reads_its_first_column(tmp_path, capsys, columns):
    path = tmp_path / "data.csv"
    path.write_bytes(BOM + b"x1,x2,t\n0.5,0.1,0.6\n0.2,0.3,0.4\n")
    code, out, err = run(capsys, "train", SEED, "--data", path, "--epochs", "2", "--json", *columns)
    assert code == 0 and err == "" and json.loads(out)["examples"] == 2


def _spec_texts():
    spec = {"title": "BOM", "layers": [2, 2, 1], "loss": "half_squared_error", "inputs": [0.5, 0.1], "targets": [0.6]}
    return {
        "spec.yaml": SEED.read_text(),
        "spec.json": json.dumps(spec),
        "spec.toml": 'title = "BOM"\nlayers = [2, 2, 1]\nloss = "half_squared_error"\ninputs = [0.5, 0.1]\ntargets = [0.6]\n',
    }


@pytest.mark.parametrize("name", list(_spec_texts()))
def test_a_spec_with_a_byte_order_mark_loads(tmp_path, capsys, name):
    path = tmp_path / name
    path.write_bytes(BOM + _spec_texts()[name].encode())
    code, out, err = run(capsys, "solve", path, "--json")
    assert code == 0 and err == "" and "gradients" in json.loads(out)


ANSWER_TEXTS = {
    "a.yaml": "forward:\n  z1: 0.33\nloss: 0.0097\n",
    "a.json": '{"forward": {"z1": 0.33}, "loss": 0.0097}',
    "a.toml": "loss = 0.0097\n[forward]\nz1 = 0.33\n",
}


@pytest.mark.parametrize("name", list(ANSWER_TEXTS))
def test_answers_with_a_byte_order_mark_are_marked(tmp_path, capsys, name):
    path = tmp_path / name
    path.write_bytes(BOM + ANSWER_TEXTS[name].encode())
    code, out, err = run(capsys, "check", SEED, path, "--json")
    assert code == 0 and err == "" and json.loads(out)["counts"]["correct"] == 2


# lists in messages are capped


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        ([], ""),
        (["a"], "a"),
        ([f"w{i}" for i in range(10)], "w0, w1, w2, w3, w4, w5, w6, w7, w8, w9"),
        ([f"w{i}" for i in range(11)], "w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, … (11 in all)"),
        ((f"w{i}" for i in range(12345)), "w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, … (12,345 in all)"),
        (["x" * 100, "b"], "x" * 60 + "…, b"),
    ],
)
def test_listing_shows_ten_names_and_a_count(names, expected):
    assert errors.listing(names) == expected


@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    """A network of 100,201 parameters, as a spec file with every parameter given."""
    spec = api.build_spec(layers=[1000, 100, 1], loss="half_squared_error", init={"seed": 0})
    keys = {"layers": [1000, 100, 1], "loss": "half_squared_error", "inputs": [0.1] * 1000, "targets": [0.5]}
    return tmp_path_factory.mktemp("wide"), keys, dict(spec.parameters)


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda keys, values: {**keys, "parameters": {**values, "nope": 1.0}}, "parameters.nope: no parameter has this name"),
        (lambda keys, values: {**keys, "parameters": dict(list(values.items())[:5])}, "parameters: no value for"),
        (lambda keys, values: {**keys, "parameters": values, "frozen": ["nope"]}, "frozen[0]: no parameter named 'nope'"),
    ],
    ids=["unknown parameter", "missing values", "unknown frozen"],
)
def test_errors_about_a_wide_network_stay_short(wide, capsys, change, words):
    folder, keys, values = wide
    path = folder / "wide.json"
    path.write_text(json.dumps(change(keys, values)))
    message = one_line(*run(capsys, "solve", path))
    assert words in message and "in all)" in message and len(message) < 400


def test_an_unknown_param_of_a_wide_network_is_a_short_message():
    derivation = SimpleNamespace(gradients={f"w{i}": 0.0 for i in range(100_000)})
    with pytest.raises(SymbackpropError) as caught:
        cli._selected(derivation, ["nope"])
    assert str(caught.value).startswith("--param: no parameter named 'nope'") and len(str(caught.value)) < 400


def test_an_unknown_csv_column_among_many_is_a_short_message(tmp_path, capsys):
    path = tmp_path / "wide.csv"
    header = [f"c{i}" for i in range(100_000)]
    path.write_text(",".join(header) + "\n" + ",".join(["0.5"] * len(header)) + "\n")
    message = one_line(*run(capsys, "train", SEED, "--data", path, "--epochs", "1", "--inputs", "c1,nope", "--targets", "c2"))
    assert message.startswith(f"{path}:1: no column named 'nope'") and "(100,000 in all)" in message


# an answer given twice names the file, the line and the section

TWICE = {
    "a.yaml": [
        ("loss: 0.1\nloss: 0.2\n", ":2: loss: given twice (first on line 1)"),
        ("forward:\n  z1: 0.33\n  h1: 0.58\n  z1: 0.34\n", ":4: forward.z1: given twice (first on line 2)"),
        ("forward: {z1: 0.33}\nloss: 0.1\nforward: {h1: 0.58}\n", ":3: forward: given twice (first on line 1)"),
        ("gradients:\n  w11: 0.1\ndeltas:\n  delta1: 1\n  delta1: 2\n", ":5: deltas.delta1: given twice (first on line 4)"),
    ],
    "a.json": [
        ('{"loss": 0.1, "loss": 0.2}', ": loss: given twice"),
        ('{"forward": {"z1": 0.33, "h1": 0.58, "z1": 0.34}}', ": forward.z1: given twice"),
        ('{"forward": {"z1": 0.33}, "forward": {"h1": 0.58}}', ": forward: given twice"),
    ],
    "a.toml": [
        ("loss = 0.1\nloss = 0.2\n", ":2: loss: given twice (first on line 1)"),
        ("[forward]\nz1 = 0.33\nh1 = 0.58\nz1 = 0.34\n", ":4: forward.z1: given twice (first on line 2)"),
        ("forward.z1 = 0.33\nloss = 0.1\nforward.z1 = 0.34\n", ":3: forward.z1: given twice (first on line 1)"),
        ("[forward]\nz1 = 0.33\n[gradients]\nw11 = 0.1\n[forward]\nh1 = 0.58\n", ":5: forward: given twice (first on line 1)"),
    ],
}


@pytest.mark.parametrize(("name", "content", "where"), [(n, c, w) for n, cases in TWICE.items() for c, w in cases])
def test_an_answer_given_twice_is_located(tmp_path, capsys, name, content, where):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(AnswersError) as caught:
        student_sheet.load(path)
    assert str(caught.value) == f"{path}{where}"
    assert one_line(*run(capsys, "check", SEED, path)) == f"{path}{where}"


# control characters never reach the terminal raw

HOSTILE = ["\x1b[31mred\x1b[0m", "\x1b]0;pwned\x07", "bell\x07", "\x9b2J", "del\x7f", "cr\rover", "\u202eevil", "\u2066iso\u2069",
           "nul\x00", "\x1bc"]  # fmt: skip
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _clean(text):
    return RAW.search(text) is None


@pytest.mark.parametrize(
    "command",
    [["solve"], ["solve", "--json"], ["derive"], ["derive", "--json"], ["check", ANSWERS], ["check", ANSWERS, "--json"]],
    ids=lambda c: " ".join(map(str, c)).replace(str(ANSWERS), "answers"),
)
@pytest.mark.parametrize("title", HOSTILE)
def test_a_hostile_title_is_spelled_out(tmp_path, capsys, title, command):
    path = tmp_path / "spec.json"
    keys = {"title": title, "layers": [2, 2, 1], "loss": "half_squared_error", "inputs": [0.5, 0.1], "targets": [0.6],
            "parameters": {"w11": 0.4, "w12": 0.3, "w21": 0.6, "w22": 0.9, "w31": 0.5, "w32": 0.7, "b1": 0.1, "b2": 0.2,
                           "b3": 0.3}}  # fmt: skip
    path.write_text(json.dumps(keys))
    code, out, err = run(capsys, command[0], path, *command[1:])
    assert code in (0, 1) and err == ""
    assert _clean(out), repr(out[:300])
    if "--json" in command:
        data = json.loads(out)  # still strict JSON, and the title reads back as it was
        assert data.get("title", title) == title
    elif command[0] in ("solve", "check"):
        assert errors.printable(title) in out  # the user sees what was there


@pytest.mark.parametrize("text", HOSTILE)
@pytest.mark.parametrize(
    ("name", "template"),
    [
        ("spec.json", '{{"layers": [2, 2, 1], "loss": "half_squared_error", {key}: 1}}'),
        ("spec.json", '{{"layers": [2, 2, 1], "loss": {key}}}'),
        ("spec.json", '{{"layers": [2, 2, 1], "loss": "half_squared_error", "rename": {{"w11": {key}}}}}'),
        ("answers.json", '{{{key}: {{"z1": 0.3}}}}'),
        ("answers.json", '{{"forward": {{{key}: 0.3}}}}'),
    ],
    ids=["spec key", "loss name", "rename", "answers section", "answers quantity"],
)
def test_a_hostile_name_in_an_error_is_spelled_out(tmp_path, capsys, name, template, text):
    path = tmp_path / name
    path.write_text(template.format(key=json.dumps(text)))
    arguments = ["solve", path] if name == "spec.json" else ["check", SEED, path]
    message = one_line(*run(capsys, *arguments))
    assert _clean(message), repr(message)


@pytest.mark.parametrize("text", HOSTILE)
def test_a_hostile_csv_column_and_option_value_are_spelled_out(tmp_path, capsys, text):
    path = tmp_path / "data.csv"
    path.write_text(f'"{text}",x2,t\n0.1,0.2,0.3\n')
    message = one_line(*run(capsys, "train", SEED, "--data", path, "--epochs", "1", "--inputs", f"{text}x,x2", "--targets", "t"))
    assert _clean(message), repr(message)
    message = one_line(*run(capsys, "train", SEED, f"--epochs={text}"))
    assert _clean(message) and message.startswith("--epochs: must be a whole number"), repr(message)


def test_printable_spells_out_what_was_there():
    assert errors.printable("a\x1b[31mb\u202ec\x9b\x7f") == "a\\x1b[31mb\\u202ec\\x9b\\x7f"
    assert errors.printable("line\nnext\ttab", keep="\n\t") == "line\nnext\ttab"
    assert errors.printable("line\nnext") == "line\\x0anext"
    text = json.dumps({"t": "\x9b\u202e\x7f"}, ensure_ascii=False)
    assert json.loads(errors.printable(text, json=True)) == {"t": "\x9b\u202e\x7f"}
    assert errors.printable("Σ η 漢字 😀 \u200b") == "Σ η 漢字 😀 \u200b"  # printable text is left alone
