"""A student's answers: read from a file or a mapping in the shape of ``solve --json``, each number with its written precision.

A batch's sheet gives each example's forward values and δ's (``z1: [0.33, 0.42]``, or one
mapping per example) and the batch's loss, gradients and update once.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from symbackprop import files, numbers
from symbackprop.errors import AnswersError, InputFileError, did_you_mean, shorten

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SECTIONS = ("forward", "loss", "deltas", "gradients", "updated")
PER_EXAMPLE = ("forward", "deltas")  # a batch's sheet gives these for each example; the rest are the batch's
IGNORED_SECTIONS = ("frozen", "gradcheck")  # parts of `solve --json` that are not answers
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?")


@dataclass(frozen=True)
class Written:
    """A number as the student wrote it: its text, value and decimal places (0.50 has 2)."""

    text: str
    value: float
    decimals: int  # negative for 2e3, which is written to the nearest thousand

    @property
    def half_unit(self) -> float:
        """Half a unit in the last written place: the precision the value claims."""
        return 0.5 * 10.0 ** -self.decimals


def written(text: str, *, where: str = "") -> Written:
    """Read a number from the text a student typed, keeping its precision.

    Raises:
        AnswersError: the text is not a plain decimal number.
    """
    match = _NUMBER.fullmatch(text.strip())
    if match is None:
        raise AnswersError(where, f"'{text}' is not a number; write a decimal such as 0.5818 or 1.5e-3")
    value = numbers.from_text(text, where, error=AnswersError)  # 1e400 is refused, not read as infinity
    fraction = match.group(1) or match.group(2) or ""
    exponent = int(match.group(3) or 0)
    return Written(text.strip(), value, len(fraction) - exponent)


Answers = dict[str, Written]  # answers-file path ("forward.z1", "loss", ...) -> value


def load(path: str | Path) -> Answers:
    """Read an answers file (.yaml/.yml, .json or .toml) keeping each number's text.

    Raises:
        InputFileError: the file cannot be read or parsed.
        AnswersError: the content does not have the shape of ``solve --json``.
    """
    path = Path(path)
    text = files.read_text(path)
    suffix = path.suffix.lower()
    if suffix == ".toml":
        _refuse_toml_twice(text, path)  # tomllib says "Cannot overwrite a value", often "at end of document"
    with files.parse_errors(path):
        if suffix == ".json":
            raw = json.loads(text, parse_float=_Raw, parse_int=_Raw, parse_constant=_Raw, object_pairs_hook=_Object)
            _refuse_json_twice(raw, path)
        elif suffix == ".toml":
            raw = tomllib.loads(text, parse_float=_Raw)
        else:
            raw = _yaml_raw(yaml.compose(text, Loader=files.BudgetLoader), path)
    if raw is None:
        raise InputFileError(f"{path}: the file is empty; give at least one of {', '.join(SECTIONS)}")
    return from_mapping(raw, source=str(path))


class _Raw(str):
    """A scalar's source text, kept so that 0.50 still has two decimals."""


def _yaml_raw(node: yaml.Node | None, path: Path, where: str = "") -> Any:
    if node is None:
        return None
    if isinstance(node, yaml.MappingNode):
        result, lines = {}, {}
        for key_node, value_node in node.value:
            key = str(_yaml_raw(key_node, path))
            at, line = f"{where}.{key}" if where else key, key_node.start_mark.line + 1
            if key in result:
                raise AnswersError(f"{path}:{line}: {shorten(at)}", f"given twice (first on line {lines[key]})")
            lines[key] = line
            result[key] = _yaml_raw(value_node, path, at)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_yaml_raw(n, path, f"{where}[{i}]") for i, n in enumerate(node.value)]
    return None if node.tag == "tag:yaml.org,2002:null" else _Raw(node.value)


class _Object(dict):
    """A JSON object that remembers the keys given more than once (json keeps the last silently)."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        counted: dict[str, int] = {}
        for key, _ in pairs:
            counted[key] = counted.get(key, 0) + 1
        self.twice = [key for key, count in counted.items() if count > 1]


def _refuse_json_twice(value: Any, path: Path, where: str = "") -> None:
    if isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_json_twice(item, path, f"{where}[{i}]")
    if not isinstance(value, _Object):
        return
    if value.twice:
        at = f"{where}.{value.twice[0]}" if where else value.twice[0]
        raise AnswersError(f"{path}: {shorten(at)}", "given twice")
    for key, item in value.items():
        _refuse_json_twice(item, path, f"{where}.{key}" if where else key)


_TOML_TABLE = re.compile(r"\s*\[\s*([^\[\]#=]+?)\s*\]\s*(?:#.*)?")
_TOML_KEY = re.compile(r"\s*([A-Za-z0-9_.\s\"'-]+?)\s*=")


def _refuse_toml_twice(text: str, path: Path) -> None:
    """Refuse a key or [table] given twice, found by a scan of the lines (answers files are flat tables)."""
    first: dict[str, int] = {}
    table = ""
    for line, content in enumerate(text.splitlines(), start=1):
        if header := _TOML_TABLE.fullmatch(content):
            table = key = re.sub(r"[\s\"']", "", header.group(1))
        elif assignment := _TOML_KEY.match(content):
            key = ".".join(filter(None, [table, re.sub(r"[\s\"']", "", assignment.group(1))]))
        else:
            continue
        if key in first:
            raise AnswersError(f"{path}:{line}: {shorten(key)}", f"given twice (first on line {first[key]})")
        first[key] = line


def from_mapping(raw: Mapping[str, Any], *, source: str = "answers") -> Answers:
    """Flatten and validate answers given as a mapping of sections; numbers or their text.

    A float given directly (not as text) counts with the decimals of its shortest repr.
    Missing values (null / None) are skipped: the student did not compute them.

    Raises:
        AnswersError: an unknown section, a section of the wrong kind, or a value that is not a number.
    """
    if not isinstance(raw, Mapping):
        raise AnswersError(source, f"the top level must be a mapping with keys such as {', '.join(SECTIONS)}")
    answers: Answers = {}
    for section, content in raw.items():
        where = f"{source}: {shorten(str(section))}"
        if section in IGNORED_SECTIONS:
            continue
        if section not in SECTIONS:
            raise AnswersError(where, f"unknown section{did_you_mean(str(section), SECTIONS)}; valid: {', '.join(SECTIONS)}")
        if section == "loss":
            if content is not None:
                answers["loss"] = _value(content, where)
            continue
        if content is None:
            continue
        if section in PER_EXAMPLE and isinstance(content, list):  # a batch, one mapping per example
            content = _by_name(content, where)
        if not isinstance(content, Mapping):
            raise AnswersError(where, f"must map names to numbers, e.g. {section}: {{name: 0.5818}}")
        for name, value in content.items():
            if section in PER_EXAMPLE and isinstance(value, list):  # a batch: z1: [0.33, 0.42]
                answers |= {f"{section}.{name}[{n}]": _value(v, f"{where}.{name}[{n}]")
                            for n, v in enumerate(value, start=1) if v is not None}  # fmt: skip
            elif value is not None:
                answers[f"{section}.{name}"] = _value(value, f"{where}.{name}")
    if not answers:
        raise AnswersError(source, f"no values given; fill in at least one of {', '.join(SECTIONS)}")
    return answers


def _by_name(examples: list, where: str) -> dict[str, list]:
    """[{z1: 0.33}, {z1: 0.42}] as {z1: [0.33, 0.42]}."""
    by_name: dict[str, list] = {}
    for n, example in enumerate(examples):
        if example is None:
            continue
        if not isinstance(example, Mapping):
            raise AnswersError(f"{where}[{n + 1}]", "must map names to numbers, one mapping per example")
        for name, value in example.items():
            by_name.setdefault(name, [None] * len(examples))[n] = value
    return by_name


def _value(value: object, where: str) -> Written:
    if isinstance(value, Written):
        return value
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise AnswersError(where, "must be one number (in forward and deltas, a list of one per example for a batch)")
    if isinstance(value, float) and not math.isfinite(value):
        raise AnswersError(where, f"must be a finite number, got {value}")
    return written(value if isinstance(value, str) else repr(value), where=where)
