"""Load and validate a network spec (YAML, JSON, TOML or a dict) into a frozen `Spec`."""

from __future__ import annotations

import datetime
import json
import os
import re
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sympy
import yaml

from symbackprop import files, formula, naming, numbers, ops, texchars
from symbackprop.errors import InputFileError, SpecError, did_you_mean, listing, shorten

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

KEYS = (
    "title", "layers", "activation", "loss", "naming", "bias", "learning_rate",
    "inputs", "targets", "data", "parameters", "init", "frozen", "rename", "activations", "document",
)  # fmt: skip
MAX_PARAMETERS = 2_000_000
MAX_INIT_SCALE = 1e6
HEADER_TEXT = ("course", "date", "author", "institution")
DOCUMENT_KEYS = (*HEADER_TEXT, "logo", "points")  # points: a class set's (handout --variants / --students)
POINT_KINDS = ("forward", "loss", "deltas", "gradients", "updated")  # document.points: a class set's points per question
MAX_POINTS = 100
MAX_DOCUMENT_TEXT = 120  # characters: a header line, not a paragraph
MAX_LOGO_BYTES = 5 * 2**20
# a logo's suffix -> (its kind as the handout's file name ends, its name in messages, the bytes it starts with)
LOGO_TYPES = {
    ".png": ("png", "PNG", b"\x89PNG\r\n\x1a\n"),
    ".jpg": ("jpg", "JPEG", b"\xff\xd8\xff"),
    ".jpeg": ("jpg", "JPEG", b"\xff\xd8\xff"),
    ".pdf": ("pdf", "PDF", b"%PDF-"),
}


@dataclass(frozen=True)
class Example:
    """One training example: input values (network order) and target values."""

    inputs: tuple[float, ...]
    targets: tuple[float, ...]


@dataclass(frozen=True)
class Course:
    """A handout's course header (the spec's `document:` block): user text, the logo's absolute path, a class set's points."""

    course: str | None = None
    date: str | None = None
    author: str | None = None
    institution: str | None = None
    logo: Path | None = None
    points: tuple[tuple[str, float], ...] = ()  # a class set's points per question, by kind (of POINT_KINDS)

    @property
    def header(self) -> bool:
        """Whether there is a course header to show: some text or a logo (points alone make none)."""
        return self.logo is not None or any(getattr(self, key) for key in HEADER_TEXT)


@dataclass(frozen=True)
class Spec:
    """A validated network: architecture, names, data and parameter values."""

    layers: tuple[int, ...]
    activations: tuple[str, ...]  # one per non-input layer
    loss: str
    naming: str = "neuron"
    bias: str = "per_neuron"
    learning_rate: float = 0.1
    examples: tuple[Example, ...] = ()
    parameters: dict[str, float] = field(default_factory=dict)  # every parameter, network order
    frozen: tuple[str, ...] = ()
    rename: dict[str, str] = field(default_factory=dict)
    title: str = ""
    custom_activations: dict[str, sympy.Expr] = field(default_factory=dict)  # name -> f(z)
    document: Course | None = None  # only handouts use it

    @property
    def output_activation(self) -> str:
        return self.activations[-1]

    @property
    def is_batch(self) -> bool:
        return len(self.examples) > 1

    def elementwise(self, name: str) -> ops.Activation:
        """The elementwise activation called `name`: built-in or one of this spec's formulas."""
        if name in self.custom_activations:
            return ops.custom_activation(name, self.custom_activations[name], formula.Z)
        return ops.ELEMENTWISE[name]


def load(path: str | Path, **overrides: Any) -> Spec:
    """Read a spec file (.yaml/.yml, .json or .toml) and validate it.

    Raises:
        InputFileError: the file cannot be read or parsed.
        SpecError: the content is not a valid spec; its message starts with the
            file name and, for YAML and JSON, the line.
    """
    text, data = _read(Path(path))
    try:
        return from_dict({**data, **overrides}, folder=Path(path).parent)
    except SpecError as exc:
        line = _line_of(text, exc.where) if Path(path).suffix.lower() != ".toml" else None
        raise SpecError(f"{path}:{line}: {exc.where}" if line else f"{path}: {exc.where}", exc.what) from None


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Parse a YAML, JSON or TOML file whose top level must be a mapping."""
    return _read(Path(path))[1]


def _line_of(text: str, where: str) -> int | None:
    """The line of key path `where` (e.g. ``data[0].targets[1]``) in YAML or JSON text."""
    try:
        node = yaml.compose(text, Loader=files.BudgetLoader)
    except yaml.YAMLError:
        return None
    line = None
    for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", where):
        if isinstance(node, yaml.MappingNode) and key:
            match = next(((k, v) for k, v in node.value if k.value == key), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and index and int(index) < len(node.value):
            node = node.value[int(index)]
            line = node.start_mark.line + 1
        else:
            break
    return line


class _Loader(files.BudgetLoader):
    """Bounded safe YAML (see files.BudgetLoader) that refuses duplicate keys and reads 1e-3 as a number (YAML 1.1 wants 1.0e-3)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[object, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (dict, list)):
                raise yaml.constructor.ConstructorError(None, None, "a key must be a name, not a list or mapping", key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key '{key}' (first on line {seen[key]})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key '{key}'")
        result[key] = value
    return result


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    text = files.read_text(path)
    suffix = path.suffix.lower()
    with files.parse_errors(path):
        if suffix == ".json":
            data = json.loads(text, object_pairs_hook=_no_duplicates)
        elif suffix == ".toml":
            data = tomllib.loads(text)
        else:
            data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    if data is None:
        raise InputFileError(f"{path}: the file is empty; a spec needs at least 'layers' and 'loss'")
    if not isinstance(data, dict):
        raise InputFileError(f"{path}: the top level must be a mapping of keys (layers, loss, ...), not {_kind(data)}")
    return text, data


_kind = numbers.kind
_number = numbers.finite  # one rule for every number a user gives


def _numbers(value: object, where: str, length: int, what: str) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise SpecError(where, f"must be a list of {length} numbers, got {_kind(value)}")
    if len(value) != length:
        raise SpecError(where, f"has {len(value)} values but the network has {length} {what}")
    return tuple(_number(v, f"{where}[{i}]") for i, v in enumerate(value))


def _choice(value: object, where: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str):
        raise SpecError(where, f"must be one of {', '.join(choices)}; got {_kind(value)}")
    if value not in choices:
        raise SpecError(where, f"unknown value '{shorten(value)}'{did_you_mean(value, choices)}; valid: {', '.join(choices)}")
    return value


def from_dict(raw: Mapping[str, Any], *, folder: str | Path | None = None) -> Spec:
    """Validate a spec given as a mapping with the documented keys.

    Args:
        folder: where a relative ``document.logo`` is looked for: the spec file's
            folder (`load` passes it); by default the current directory.

    Raises:
        SpecError: naming the key path of the first problem found.
    """
    if not isinstance(raw, Mapping):
        raise SpecError("", f"a spec must be a mapping of keys, not {_kind(raw)}")
    for key in raw:
        if key not in KEYS:
            raise SpecError(str(key), f"unknown key{did_you_mean(str(key), KEYS)}; valid keys: {', '.join(KEYS)}")
    for required in ("layers", "loss"):
        if required not in raw:
            raise SpecError(required, "missing; every spec needs 'layers' and 'loss'")

    layers = _layers(raw["layers"])
    depth = len(layers) - 1
    custom = _custom_activations(raw.get("activations", {}))
    activations = _activations(raw.get("activation", "sigmoid"), depth, (*ops.ACTIVATION_NAMES, *custom))
    loss = _choice(raw["loss"], "loss", tuple(ops.LOSSES))
    required = ops.LOSSES[loss].requires_output
    if required and activations[-1] != required:
        raise SpecError("loss", f"{loss} needs a {required} output layer, but the output activation is {activations[-1]}")
    scheme = _choice(raw.get("naming", "neuron"), "naming", naming.SCHEMES)
    bias = _choice(raw.get("bias", "per_neuron"), "bias", naming.BIAS_MODES)
    learning_rate = _number(raw.get("learning_rate", 0.1), "learning_rate", minimum=0, exclusive=True)

    lay = naming.layout(layers, scheme=scheme, bias=bias)
    defaults = naming.default_parameter_names(lay)
    rename = _rename(raw.get("rename", {}), defaults)
    clash = naming.latex_clash(lay, rename, activations=activations)
    if clash:
        raise SpecError(*clash)
    names = list(dict.fromkeys(rename.get(n, n) for n in defaults))
    examples = _examples(raw, layers, loss)
    parameters = _parameters(raw.get("parameters"), raw.get("init"), names)
    frozen = _frozen(raw.get("frozen", []), names)
    title = raw.get("title", "")
    if not isinstance(title, str):
        raise SpecError("title", f"must be text, got {_kind(title)}")
    return Spec(
        layers=layers, activations=activations, loss=loss, naming=scheme, bias=bias,
        learning_rate=learning_rate, examples=examples, parameters=parameters,
        frozen=frozen, rename=rename, title=title, custom_activations=custom,
        document=_document(raw.get("document"), Path(folder) if folder is not None else Path()),
    )  # fmt: skip


def _layers(value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or len(value) < 2:
        raise SpecError("layers", "must be a list of at least two layer sizes, input layer first, e.g. [2, 2, 1]")
    for i, size in enumerate(value):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise SpecError(f"layers[{i}]", f"must be a positive whole number of neurons, got {size!r}")
    count = sum(a * b + b for a, b in zip(value, value[1:]))
    if count > MAX_PARAMETERS:
        raise SpecError("layers", f"{count:,} parameters is more than the limit of {MAX_PARAMETERS:,} (--max-parameters N raises it)")
    return tuple(value)


def _custom_activations(value: object) -> dict[str, sympy.Expr]:
    if not isinstance(value, dict):
        raise SpecError("activations", f"must map new activation names to formulas in z, got {_kind(value)}")
    custom = {}
    for name, text in value.items():
        if name in ops.ACTIVATION_NAMES:
            raise SpecError(f"activations.{name}", "is a built-in activation; choose another name")
        problem = naming.check_custom_name(name)
        if problem:
            raise SpecError(f"activations.{name}", problem)
        try:
            custom[name] = formula.parse(text)
        except formula.FormulaError as exc:
            raise SpecError(f"activations.{name}", str(exc)) from None
    return custom


def _activations(value: object, depth: int, known: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        names, where = [value] * depth, ["activation"] * depth
    elif isinstance(value, list):
        if len(value) != depth:
            raise SpecError("activation", f"has {len(value)} names but the network has {depth} non-input layers")
        names, where = value, [f"activation[{i}]" for i in range(depth)]
    else:
        raise SpecError("activation", f"must be a name or a list of names, one per non-input layer; got {_kind(value)}")
    checked = tuple(_choice(n, w, known) for n, w in zip(names, where))
    for i, name in enumerate(checked[:-1]):
        if name == ops.SOFTMAX:
            raise SpecError(where[i], "softmax is only allowed on the output layer")
    return checked


def _rename(value: object, defaults: list[str]) -> dict[str, str]:
    if not isinstance(value, dict):
        raise SpecError("rename", f"must map default parameter names to new names, got {_kind(value)}")
    known = set(defaults)
    for old, new in value.items():
        if old not in known:
            raise SpecError(f"rename.{old}", f"no parameter has this name{did_you_mean(str(old), defaults)}")
        if new in known:
            continue  # tying to another default name
        problem = naming.check_custom_name(new)
        if problem:
            raise SpecError(f"rename.{old}", problem)
    return dict(value)


def _examples(raw: Mapping[str, Any], layers: tuple[int, ...], loss: str) -> tuple[Example, ...]:
    n_in, n_out = layers[0], layers[-1]
    single = "inputs" in raw or "targets" in raw
    if single and "data" in raw:
        raise SpecError("data", "give either inputs and targets (one example) or data (a batch), not both")
    if single:
        missing = "targets" if "inputs" in raw else "inputs"
        if missing not in raw:
            raise SpecError(missing, "missing; inputs and targets come together")
        examples = [Example(_numbers(raw["inputs"], "inputs", n_in, "inputs"), _numbers(raw["targets"], "targets", n_out, "outputs"))]
        where = ["targets"]
    elif "data" in raw:
        data = raw["data"]
        if not isinstance(data, list) or not data:
            raise SpecError("data", "must be a non-empty list of {inputs: [...], targets: [...]} entries")
        examples, where = [], []
        for i, entry in enumerate(data):
            if not isinstance(entry, dict) or set(entry) != {"inputs", "targets"}:
                raise SpecError(f"data[{i}]", "must be a mapping with exactly the keys inputs and targets")
            examples.append(Example(
                _numbers(entry["inputs"], f"data[{i}].inputs", n_in, "inputs"),
                _numbers(entry["targets"], f"data[{i}].targets", n_out, "outputs"),
            ))  # fmt: skip
            where.append(f"data[{i}].targets")
    else:
        return ()
    if loss in ("binary_cross_entropy", "cross_entropy"):
        for example, place in zip(examples, where):
            for k, t in enumerate(example.targets):
                if not 0 <= t <= 1:
                    raise SpecError(f"{place}[{k}]", f"{loss} needs targets between 0 and 1, got {t:g}")
    return tuple(examples)


def _parameters(values: object, init: object, names: list[str]) -> dict[str, float]:
    given: dict[str, float] = {}
    if values is not None:
        if not isinstance(values, dict):
            raise SpecError("parameters", f"must map parameter names to numbers, got {_kind(values)}")
        known = set(names)  # a set: a spec may list a million parameters
        for name, value in values.items():
            if name not in known:
                raise SpecError(f"parameters.{name}", f"no parameter has this name{did_you_mean(str(name), names)}; parameters: {listing(names)}")
            given[name] = _number(value, f"parameters.{name}")
    missing = [n for n in names if n not in given]
    if missing and init is None:
        if values is None:
            return _draw({}, names, seed=0, scale=1.0, decimals=2)
        raise SpecError("parameters", f"no value for {listing(missing)}; give them or add init: {{seed: 0}} to draw them")
    if init is not None:
        if not isinstance(init, dict):
            raise SpecError("init", f"must be a mapping such as {{seed: 0, scale: 1.0, decimals: 2}}, got {_kind(init)}")
        for key in init:
            if key not in ("seed", "scale", "decimals"):
                raise SpecError(f"init.{key}", "unknown key; valid keys: seed, scale, decimals")
        seed = init.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise SpecError("init.seed", f"must be a whole number ≥ 0, got {seed!r}")
        scale = _number(init.get("scale", 1.0), "init.scale", minimum=0, exclusive=True)
        if scale > MAX_INIT_SCALE:  # uniform(-scale, scale) needs a finite width; weights this large overflow anyway
            raise SpecError("init.scale", f"must be at most {MAX_INIT_SCALE:g}, got {scale:g}")
        decimals = init.get("decimals", 2)
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 15:
            raise SpecError("init.decimals", f"must be a whole number from 0 to 15, got {decimals!r}")
        return _draw(given, names, seed=seed, scale=scale, decimals=decimals)
    return {n: given[n] for n in names}


def _draw(given: dict[str, float], names: list[str], *, seed: int, scale: float, decimals: int) -> dict[str, float]:
    # Every name gets a draw, given or not, so adding one value never shifts the others.
    draws = np.random.default_rng(seed).uniform(-scale, scale, size=len(names))
    return {n: given.get(n, round(float(d), decimals)) for n, d in zip(names, draws)}


def _frozen(value: object, names: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise SpecError("frozen", f"must be a list of parameter names, got {_kind(value)}")
    known = set(names)
    for i, name in enumerate(value):
        if name not in known:
            raise SpecError(f"frozen[{i}]", f"no parameter named '{name}'{did_you_mean(str(name), names)}; parameters: {listing(names)}")
    return tuple(dict.fromkeys(value))


def _document(value: object, folder: Path) -> Course | None:
    """The `document:` block: a course header for handouts; None when absent or empty."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise SpecError("document", f"must be a mapping with the keys {', '.join(DOCUMENT_KEYS)}; got {_kind(value)}")
    for key in value:
        if key not in DOCUMENT_KEYS:
            raise SpecError(f"document.{key}",
                            f"unknown key{did_you_mean(str(key), DOCUMENT_KEYS)}; valid keys: {', '.join(DOCUMENT_KEYS)}")  # fmt: skip
    given = {key: value.get(key) for key in HEADER_TEXT}
    if isinstance(given["date"], datetime.date):  # YAML and TOML read an unquoted 2026-01-15 as a date
        given["date"] = given["date"].isoformat()
    text = {key: _header_text(given[key], f"document.{key}") for key in HEADER_TEXT}
    logo = _logo(value.get("logo"), folder)
    points = _points(value.get("points"))
    if logo is None and not any(text.values()) and not points:
        return None
    return Course(**text, logo=logo, points=points)


def _points(value: object) -> tuple[tuple[str, float], ...]:
    """document.points: {deltas: 2, gradients: 2}: points per question of each kind, from 0 to MAX_POINTS."""
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise SpecError("document.points", f"must map kinds of question to points, e.g. {{deltas: 2}}; got {_kind(value)}")
    points = []
    for kind, number in value.items():
        if kind not in POINT_KINDS:
            raise SpecError(f"document.points.{kind}",
                            f"unknown kind of question{did_you_mean(str(kind), POINT_KINDS)}; valid: {', '.join(POINT_KINDS)}")  # fmt: skip
        points.append((kind, _number(number, f"document.points.{kind}", minimum=0)))
        if points[-1][1] > MAX_POINTS:
            raise SpecError(f"document.points.{kind}", f"must be at most {MAX_POINTS} points, got {number}")
    return tuple(points)


def _header_text(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise SpecError(where, f"must be text, got {_kind(value)}; put it in quotes")
    char = texchars.first_unsupported(value)
    if char is not None:
        raise SpecError(where, texchars.refusal(where, char).removeprefix(f"{where}: "))
    text = texchars.normalize(value).strip()
    if len(text) > MAX_DOCUMENT_TEXT:
        raise SpecError(where, f"is {len(text)} characters long; a header line takes at most {MAX_DOCUMENT_TEXT}")
    return text or None


def _logo(value: object, folder: Path) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        got = "an empty name" if isinstance(value, str) else _kind(value)
        raise SpecError("document.logo", f"must be the name of a .png, .jpg or .pdf file, got {got}")
    path = folder.absolute() / value  # an absolute `value` stays as it is
    read_logo(path, shown=value)
    return path


def read_logo(path: str | Path, *, shown: str | None = None) -> tuple[str, bytes]:
    """A logo file's kind ("png", "jpg" or "pdf") and its bytes, after checking what it is.

    It must be a regular file (a link to one is followed) of at most MAX_LOGO_BYTES
    whose first bytes match its suffix. A handout reads the logo again through this
    when it copies it for TeX, so what TeX gets is what was checked.

    Args:
        shown: the name messages give the file (default: `path`).

    Raises:
        SpecError: at ``document.logo``: the file is missing, special, too large or not what its suffix says.
    """
    path = Path(path)
    name = f"'{shorten(str(path), limit=240) if shown is None else shorten(shown)}'"  # a path in full, if it fits
    wanted = "give a .png, .jpg or .pdf file"
    types = LOGO_TYPES.get(path.suffix.lower())
    if types is None:
        raise SpecError("document.logo", f"{name} must end in .png, .jpg, .jpeg or .pdf")
    kind, label, magic = types
    try:
        # O_NONBLOCK: a FIFO put there after any earlier check must not make the open wait for a writer
        handle = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise SpecError("document.logo", f"{name}: no such file (looked for {path})") from None
    except OSError as exc:
        raise SpecError("document.logo", f"{name} cannot be read ({exc.strerror}); {wanted}") from None
    try:
        if not stat.S_ISREG(os.fstat(handle).st_mode):  # the file opened, not the name: no race
            special = files.not_regular(path) or "a special file"
            raise SpecError("document.logo", f"{name} is {special}, not a regular file; {wanted}")
        data = _read_at_most(handle, MAX_LOGO_BYTES + 1)  # bounded, whatever size the file claims
    finally:
        os.close(handle)
    if len(data) > MAX_LOGO_BYTES:
        raise SpecError("document.logo", f"{name} is larger than the limit of {MAX_LOGO_BYTES // 2**20} MiB for a logo")
    if not data.startswith(magic):
        raise SpecError("document.logo", f"{name} is not a {label} file (its first bytes are not {label}'s); "
                                         f"{wanted} whose content matches its suffix")  # fmt: skip
    return kind, data


def _read_at_most(handle: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = os.read(handle, min(2**20, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)
