"""SIGTERM and SIGINT during a PDF build: TeX's whole process group dies, temporary files go, earlier output stays.

A fake `pdflatex`, first (and alone) on PATH, records its pid and the pid of a child
it starts (as latexmk starts pdflatex), then sleeps: the signal is sent while TeX
is certainly running, without depending on how fast a real TeX is.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from symbackprop import render

ROOT = Path(__file__).resolve().parent.parent
FAKE_TEX = """#!/bin/sh
echo $$ >> "$FAKE_TEX_PIDS"
/bin/sleep 300 &
echo $! >> "$FAKE_TEX_PIDS"
wait
"""
EARLIER = b"%PDF-1.5 an earlier handout, to be kept byte for byte\n"


def running(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting for its reaper counts as dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_for(condition, *, limit: float = 120.0) -> bool:
    deadline = time.monotonic() + limit  # a bound against hanging, not a timing assertion
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def fake_tex(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "pdflatex"
    script.write_text(FAKE_TEX)
    script.chmod(0o755)
    return bin_dir


@pytest.mark.skipif(not hasattr(os, "killpg") or not Path("/proc/self/stat").exists(), reason="POSIX with /proc")
@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_tex_kills_the_group_removes_the_build_folder_and_keeps_the_output(tmp_path, fake_tex, signum, status):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    pids = tmp_path / "tex.pids"
    output = tmp_path / "handout.pdf"
    output.write_bytes(EARLIER)
    env = {**os.environ, "PATH": str(fake_tex), "TMPDIR": str(temporary), "FAKE_TEX_PIDS": str(pids),
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    process = subprocess.Popen(
        [sys.executable, "-m", "symbackprop", "handout", str(ROOT / "examples" / "seed_2_2_1.yaml"), "-o", str(output)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        started = wait_for(lambda: pids.exists() and len(pids.read_text().split()) == 2)
        assert started, process.communicate(timeout=60)
        assert list(temporary.glob("symbackprop-*")), "TeX runs in a build folder under TMPDIR"
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == status
    assert stderr.strip() == f"symbackprop: stopped by {signal.Signals(signum).name}"
    tex_pids = [int(p) for p in pids.read_text().split()]
    assert wait_for(lambda: not any(running(p) for p in tex_pids), limit=30), "TeX or its child survived"
    assert list(temporary.iterdir()) == []  # no build folder, no half-written file
    assert output.read_bytes() == EARLIER
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "handout.pdf", "tex.pids", "tmp"]


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX process groups")
def test_an_interrupted_compile_leaves_no_tex_and_no_build_folder(tmp_path, fake_tex, monkeypatch):
    # in-process: KeyboardInterrupt while compile_pdf waits for TeX, as the CLI's handler raises it
    pids = tmp_path / "tex.pids"
    monkeypatch.setenv("FAKE_TEX_PIDS", str(pids))
    monkeypatch.setattr(render.tempfile, "tempdir", str(tmp_path))
    output = tmp_path / "out.pdf"
    output.write_bytes(EARLIER)

    def interrupt(_signum, _frame):
        if pids.exists() and len(pids.read_text().split()) == 2:  # TeX and its child are running
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)  # repeats until TeX has started, then interrupts
        with pytest.raises(KeyboardInterrupt):
            render.compile_pdf(r"\documentclass{article}", output, command=[str(fake_tex / "pdflatex")])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    for pid in (int(p) for p in pids.read_text().split()):
        assert wait_for(lambda pid=pid: not running(pid), limit=30)
    assert not list(tmp_path.glob("symbackprop-*"))
    assert output.read_bytes() == EARLIER
