"""Atomic output files and one-line read errors."""

import os
import re

import pytest

from symbackprop import files
from symbackprop.errors import InputFileError, SymbackpropError


def test_write_replaces_the_file(tmp_path):
    path = tmp_path / "out.tex"
    path.write_text("old")
    files.write_atomic(path, "new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.tex"]


def test_a_failed_write_keeps_the_earlier_file_and_leaves_no_part(tmp_path, monkeypatch):
    path = tmp_path / "out.pdf"
    path.write_bytes(b"good earlier output")

    def failing_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(SymbackpropError, match="cannot write .*No space left on device"):
        files.write_atomic(path, b"new")
    assert path.read_bytes() == b"good earlier output"
    assert [p.name for p in tmp_path.iterdir()] == ["out.pdf"]


def test_new_files_get_the_umask_mode_and_old_files_keep_theirs(tmp_path):
    umask = os.umask(0o022)
    try:
        fresh = files.write_atomic(tmp_path / "new.pdf", b"x")
        assert fresh.stat().st_mode & 0o777 == 0o644
        kept = tmp_path / "kept.tex"
        kept.write_text("old")
        kept.chmod(0o600)
        files.write_atomic(kept, "new")
        assert kept.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(umask)


def test_missing_folder_is_one_line(tmp_path):
    with pytest.raises(SymbackpropError, match="no such directory"):
        files.write_atomic(tmp_path / "nope" / "out.tex", "x")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b"ok\xff"), "not UTF-8 text (byte 2)"),
    ],
)
def test_read_errors(tmp_path, make, message):
    path = tmp_path / "in.yaml"
    make(path)
    with pytest.raises(InputFileError, match=re.escape(message)):
        files.read_text(path)
