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


def read_text(path: str | Path) -> str:
    """The UTF-8 text of a user's file.

    Raises:
        InputFileError: missing, a directory, unreadable or not UTF-8.
    """
    path = Path(path)
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputFileError(f"{path}: is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot read ({exc.strerror})") from None


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


def write_atomic(path: str | Path, data: str | bytes) -> Path:
    """Write `data` to `path` through a temporary file in the same folder and a rename.

    A failure leaves no half-written file and keeps any earlier file at `path`.

    Raises:
        SymbackpropError: the folder does not exist or cannot be written.
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise SymbackpropError(f"-o: {folder}: no such directory")
    payload = data.encode("utf-8") if isinstance(data, str) else data
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".part")
    except OSError as exc:
        raise SymbackpropError(f"-o: cannot write in {folder} ({exc.strerror})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
        os.chmod(temporary, _mode_for(path))  # mkstemp makes 0600; give the file an ordinary mode
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise SymbackpropError(f"-o: cannot write {path} ({exc.strerror})") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def _mode_for(path: Path) -> int:
    """The earlier file's mode when there is one, else what the umask gives a new file."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask
