"""Reading user files with one-line errors, and writing outputs atomically."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import yaml

from symbackprop.errors import InputFileError, SymbackpropError

MAX_FILE_BYTES = 64 * 2**20  # a spec with 2,000,000 explicit parameters takes about 40 MiB
MAX_NESTING = 50  # a spec or answers file nests 4 levels; JSON and TOML parsers are stopped by Python's stack
MAX_ALIASES = 1_000
MAX_ALIAS_VALUES = 100_000  # values that YAML aliases may add beyond those written out


def read_text(path: str | Path) -> str:
    """The UTF-8 text of a user's file (a byte-order mark is dropped), at most MAX_FILE_BYTES long.

    Raises:
        InputFileError: missing, a directory, unreadable, too large or not UTF-8.
    """
    path = Path(path)
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)  # bounded, so /dev/zero or a FIFO cannot exhaust memory
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_FILE_BYTES:
        raise InputFileError(f"{path}: larger than the limit of {MAX_FILE_BYTES // 2**20} MiB for an input file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None


class BudgetLoader(yaml.SafeLoader):
    """Safe YAML whose work is bounded before it is done.

    Aliases (*name) can make a file of a few hundred bytes stand for gigabytes of
    values, or for a value that contains itself; deep nesting exhausts Python's
    stack. So the composer counts aliases and nesting as it reads, and the whole
    document's size with every alias expanded is counted (shared parts once per
    use, without expanding them) before anything is built from it.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise yaml.composer.ComposerError(None, None, f"more than {MAX_ALIASES} aliases (*name)",
                                                  self.peek_event().start_mark)  # fmt: skip
        self._depth += 1
        try:
            if self._depth > MAX_NESTING:
                raise yaml.composer.ComposerError(None, None, f"nested more than {MAX_NESTING} levels deep",
                                                  self.peek_event().start_mark)  # fmt: skip
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> yaml.Node:
        node = super().compose_document()
        if self._aliases:
            _check_expanded_size(node)
        return node


def _check_expanded_size(root: yaml.Node) -> None:
    """Refuse a document that contains itself or whose aliases expand past MAX_ALIAS_VALUES extra values."""
    sizes: dict[int, int] = {}  # id(node) -> values in it, aliases expanded
    distinct = 0
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    in_progress: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            in_progress.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            distinct += 1
            continue
        if key in sizes:
            continue
        if key in in_progress:
            raise yaml.composer.ComposerError(None, None, "an alias refers to a value that contains it", node.start_mark)
        in_progress.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    if sizes[id(root)] > distinct + MAX_ALIAS_VALUES:
        raise yaml.composer.ComposerError(
            None, None, f"the aliases (*name) expand to more than {MAX_ALIAS_VALUES:,} extra values", root.start_mark
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


@contextlib.contextmanager
def parse_errors(path: str | Path) -> Iterator[None]:
    """Turn a JSON, TOML or YAML parser's exception into a one-line InputFileError.

    The line is given where the parser knows it. A ValueError is a duplicate JSON key
    (from an object_pairs_hook) or a YAML value such as an impossible date.
    """
    kind = {".json": "JSON", ".toml": "TOML"}.get(Path(path).suffix.lower(), "YAML")
    try:
        yield
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputFileError(f"{path}{line}: invalid YAML: {problem}") from None
    except ValueError as exc:  # TOMLDecodeError is a ValueError too
        raise InputFileError(f"{path}: invalid {kind}: {exc}") from None
    except RecursionError:  # JSON and TOML parsers recurse per level of nesting
        raise InputFileError(f"{path}: invalid {kind}: nested too deeply (a spec nests a few levels)") from None


def write_atomic(path: str | Path, data: str | bytes, *, option: str = "-o") -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    A failure leaves no half-written file and keeps any earlier file at `path`.
    `option` names the command-line option of `path` in messages.

    Raises:
        SymbackpropError: the folder does not exist or cannot be written, or `path`
            is something other than a regular file (a device, a FIFO, a folder).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SymbackpropError(f"{option}: {folder}: no such directory")
    special = not_regular(path)
    if special is not None:  # the rename would replace /dev/null or a FIFO with a plain file
        raise SymbackpropError(f"{option}: {path}: is {special}, not a regular file; give the name of a file to write")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise SymbackpropError(f"{option}: cannot write in {folder} ({exc.strerror})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.chmod(temporary, _mode_for(path))  # mkstemp makes 0600; give the file an ordinary mode
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise SymbackpropError(f"{option}: cannot write {path} ({exc.strerror})") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def not_regular(path: str | Path) -> str | None:
    """What `path` is when something other than a regular file is there ("a FIFO", "a directory", …), else None.

    Symbolic links are followed: a link to /dev/null is a character device.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:  # nothing there (or a dangling link): a new file may be written
        return None
    kinds = ((stat.S_ISREG, None), (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
             (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))  # fmt: skip
    return next((kind for test, kind in kinds if test(mode)), "a special file")


def _mode_for(path: Path) -> int:
    """The earlier file's mode when there is one, else what the umask gives a new file."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
