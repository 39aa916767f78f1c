"""Storage faults: an --out that is a file, and read-only storage for a new run, a resume and a report: one
line, a non-zero exit, nothing committed lost."""
import errno
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import lmcollapse
from conftest import small_truth_config

SMALL = small_truth_config(generations=2)


def cli(*args):
    return subprocess.run([sys.executable, "-m", "lmcollapse.cli", *map(str, args)], capture_output=True, text=True)


def one_line(result, code, start):
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(start), result.stderr


def test_an_out_that_is_a_file_is_refused(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("mine")
    one_line(cli("run", "--out", blocker, "-q"), 2, f"error: --out {blocker} is a file, not a run directory")
    run = lmcollapse.run(SMALL, out_dir=tmp_path / "run")
    one_line(cli("report", run.path, "--out", blocker / "report.html"), 2,
             f"error: report --out {blocker / 'report.html'}: {blocker} is a file, not a folder")
    assert blocker.read_text() == "mine"


@pytest.fixture
def tmpfs(tmp_path):
    """A fresh tmpfs, remountable read-only; skipped where this process may not mount (not root)."""
    point = Path("/tmp") / f"lmcollapse-ro-{uuid.uuid4().hex[:8]}"
    point.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(point)],
                                                        capture_output=True).returncode != 0:
        point.rmdir()
        pytest.skip("mounting a tmpfs needs root; test_a_storage_error_at_the_boundary covers the same path")

    def read_only():
        subprocess.run(["mount", "-o", "remount,ro", str(point)], check=True)

    yield point, read_only
    subprocess.run(["umount", str(point)], check=False)
    point.rmdir()


def test_read_only_storage_new_run_resume_and_report(tmpfs, tmp_path):
    point, read_only = tmpfs
    started = lmcollapse.run(SMALL, out_dir=point / "run")
    before = started.metrics
    read_only()
    one_line(cli("run", "--out", point / "new", "-q"), 1, f"error: cannot write {point / 'new'}: the file system is "
                                                           "read-only")
    one_line(cli("run", "--out", point / "run", "--set", "generations=4", "-q"), 1, "error: cannot write")
    one_line(cli("report", point / "run", "--out", point / "report.html"), 1, "error: cannot write")
    assert lmcollapse.load_run(point / "run").metrics == before  # nothing committed is lost
    assert cli("show", point / "run").returncode == 0  # and it can still be read
    again = cli("run", "--out", point / "run", "-q")  # finished: nothing to write, so nothing is refused
    assert again.returncode == 0 and "cannot write" not in again.stderr, again.stderr


def test_a_storage_error_at_the_boundary_is_one_line(monkeypatch, capsys, tmp_path):
    from lmcollapse import cli as cli_module
    from lmcollapse.running.rundir import RunDir

    def refuse(self):
        raise OSError(errno.EACCES, "Permission denied", str(self.path / ".lock"))

    monkeypatch.setattr(RunDir, "lock", refuse)
    monkeypatch.setattr(sys, "argv", ["lmcollapse", "run", "--out", str(tmp_path / "r"), "-q"])
    with pytest.raises(SystemExit) as exit_:
        cli_module.main()
    assert exit_.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: cannot write {tmp_path / 'r' / '.lock'}: permission denied; choose a writable --out "
                   f"(committed results, if any, are intact)"]


def test_a_finished_seeds_folder_reruns_from_read_only_storage(tmpfs):
    """0.4.0 refused it ("cannot write .../sweep.json.tmp") where a finished single run reran fine."""
    point, read_only = tmpfs
    first = cli("run", "--seeds", "0-2", "--set", "generations=3", "--set", "corpus.n_train=100", "--out",
                point / "seeds", "-q")
    assert first.returncode == 0, first.stderr
    files = {p: p.stat().st_mtime_ns for p in (point / "seeds").rglob("*") if p.is_file()}
    again = cli("run", "--seeds", "0-2", "--set", "generations=3", "--set", "corpus.n_train=100", "--out",
                point / "seeds", "-q")  # on writable storage first: a rerun that changes nothing writes nothing
    assert again.returncode == 0 and {p: p.stat().st_mtime_ns for p in files} == files
    read_only()
    again = cli("run", "--seeds", "0-2", "--set", "generations=3", "--set", "corpus.n_train=100", "--out",
                point / "seeds", "-q")
    assert again.returncode == 0 and "cannot write" not in again.stderr, again.stderr
    assert "verdict:" in again.stdout


@pytest.fixture
def full_disk():
    """A tmpfs of 600 KiB: a few small runs fill it. Skipped where this process may not mount."""
    point = Path("/tmp") / f"lmcollapse-full-{uuid.uuid4().hex[:8]}"
    point.mkdir()
    if shutil.which("mount") is None or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs",
                                                        str(point)], capture_output=True).returncode != 0:
        point.rmdir()
        pytest.skip("mounting a tmpfs needs root")
    yield point
    subprocess.run(["umount", str(point)], check=False)
    point.rmdir()


def test_a_full_disk_during_seeds_names_the_file_and_says_to_free_space_not_to_move(full_disk):
    """0.4.0: "cannot write: the disk is full; choose a writable --out", no path, advice for read-only storage."""
    args = ("run", "--seeds", "0-2", "--set", "generations=6", "--set", "corpus.n_train=300", "--out",
            full_disk / "seeds", "-q")
    result = cli(*args)
    # where the disk fills first (a run's generation, or the sweep's tables) depends on timing: every line that
    # reports it must name what it was writing under --out and say to free space, none to move elsewhere
    full = [line for line in result.stderr.splitlines() if "disk" in line and "full" in line]
    assert result.returncode != 0 and full, result.stderr
    assert all(str(full_disk) in line and "free some space" in line for line in full), result.stderr
    assert "choose a writable --out" not in result.stderr and "Traceback" not in result.stderr
