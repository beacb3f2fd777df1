"""Refusing, before any work, an output path that would replace a special file or one of the command's inputs."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from symbackprop import files
from symbackprop.errors import SymbackpropError

Input = tuple[str, str | Path]  # (what it is to the user, e.g. "the spec", its path)


def inputs(spec: str, *, answers: str | None = None, data: str | None = None,
           templates: str | None = None, roster: str | None = None) -> list[Input]:  # fmt: skip
    """The files a command reads, each with the name the user knows it by."""
    found: list[Input] = [("the spec", spec)]
    if roster:
        found.append(("the --students roster", roster))
    if answers:
        found.append(("the answers file", answers))
    if data:
        found.append(("the --data file", data))
    if templates and Path(templates).is_dir():
        found += [("a file of --templates", path) for path in Path(templates).rglob("*") if path.is_file()]
    return found


def check_file(path: str | Path, *, option: str, reads: Sequence[Input]) -> None:
    """Refuse an existing `path` that is not a regular file, or that is one of the files the command reads.

    Raises:
        SymbackpropError: `path` is a device, FIFO, socket or folder, or the same file as an input.
    """
    special = files.not_regular(path)
    if special is not None:  # writing would replace it with a plain file (as root, even /dev/null)
        raise SymbackpropError(f"{option}: {path}: is {special}, not a regular file; give the name of a file to write")
    for role, source in reads:
        if _same(path, source):
            raise SymbackpropError(f"{option}: {path}: is {role} ({source}); writing it would replace the input, "
                                   "choose another name")  # fmt: skip


def check_folder(path: str | Path, *, names: Iterable[str], reads: Sequence[Input]) -> None:
    """Refuse a class set's folder that is a file, cannot be written, or holds one of `names` that must not be replaced.

    Raises:
        SymbackpropError: `path` exists but is not a folder, no folder can be made or written
            there, or a file of the class set (`names`, as `class_set.file_names` lists them)
            would replace a special file or an input.
    """
    folder = Path(path)
    special = files.not_regular(folder)
    if folder.exists() and special != "a directory":
        raise SymbackpropError(f"-o: {folder}: is {special or 'a file'}; with --variants, -o names a folder for the sheets")
    existing = next(p for p in (folder, *folder.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise SymbackpropError(f"-o: {folder}: cannot write in {existing} (permission denied or read-only)")
    if existing != folder:
        return  # a new folder holds nothing yet
    wanted = set(names)
    for entry in _entries(folder):
        if entry.name in wanted:
            check_file(entry, option="-o", reads=reads)


def _entries(folder: Path) -> Iterable[Path]:
    try:
        return list(folder.iterdir())
    except OSError as exc:
        raise SymbackpropError(f"-o: {folder}: cannot list the folder ({exc.strerror})") from None


def _same(output: str | Path, source: str | Path) -> bool:
    """Whether two paths name one file (hard links and symbolic links included)."""
    try:
        return os.path.samefile(output, source)
    except OSError:  # one of them does not exist: nothing to replace
        return False
