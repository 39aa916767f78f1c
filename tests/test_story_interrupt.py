"""Ctrl-C (SIGINT) and SIGTERM: a run stops at once, says where and how to resume, exits 130 (143); so does
every worker of a multi-seed run, and a worker whose parent was killed outright stops by itself; the run
resumes to the same numbers."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import lmcollapse
from lmcollapse.sweep import Sweep

from helpers import ctrl_c_works

LONG = {"generations": 12, "corpus": {"n_train": 8000, "n_eval": 500}, "ci_rounds": 10}


def start(tmp_path, *args):
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(LONG))
    return subprocess.Popen([sys.executable, "-m", "lmcollapse.cli", "run", str(config), *map(str, args), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=ctrl_c_works), config


def wait_for(pattern, root, count, proc):
    while len(list(root.glob(pattern))) < count:
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)


def test_ctrl_c_stops_the_run_says_where_and_it_resumes_to_the_same_numbers(tmp_path):
    out = tmp_path / "run"
    proc, config = start(tmp_path, "--out", out)
    wait_for("gen-*[0-9]/DONE", out, 2, proc)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and time.monotonic() - sent < 10
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"interrupted: {out} has generations 0-") and "abandoned" in last and "resume" in last
    assert "Traceback" not in err
    committed = len(list(out.glob("gen-*[0-9]/DONE")))
    assert 2 <= committed < LONG["generations"]
    resumed = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "run", str(config), "--out", str(out), "-q"],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert lmcollapse.load_run(out).metrics == lmcollapse.run(LONG, out_dir=tmp_path / "reference").metrics


def test_a_ctrl_c_a_finaliser_swallowed_still_stops_the_run_at_its_next_step():
    """Python runs the handler wherever the main thread is; inside a __del__ its KeyboardInterrupt is printed
    and dropped. The run loop then stops at its next check instead of going on to the end."""
    code = """if True:
        import os, signal
        from lmcollapse.running import stop_signals
        stop_signals.install()
        class Finalised:
            def __del__(self):
                os.kill(os.getpid(), signal.SIGINT)  # the handler runs in here
                sum(range(1000))
        Finalised()
        print("went on")
        try:
            stop_signals.raise_if_stopped()
        except KeyboardInterrupt:
            print("stopped")
    """
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            preexec_fn=ctrl_c_works)
    assert "Exception ignored" in result.stderr and "KeyboardInterrupt" in result.stderr  # it was swallowed
    assert result.stdout.split() == ["went", "on", "stopped"]


@pytest.mark.slow
def test_ctrl_c_stops_every_worker_of_a_multi_seed_run(tmp_path):
    """SIGINT to the parent only (`kill -INT`; a terminal would signal the workers too): the queued seeds never
    start and the running ones stop."""
    out = tmp_path / "seeds"
    proc, _ = start(tmp_path, "--seeds", "0-3", "--workers", "2", "--out", out)
    wait_for("runs/*/gen-*[0-9]/DONE", out, 2, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1].startswith("interrupted: ") and "Traceback" not in err
    committed = len(list(out.glob("runs/*/gen-*[0-9]/DONE")))
    time.sleep(3)
    assert len(list(out.glob("runs/*/gen-*[0-9]/DONE"))) == committed  # no worker goes on
    queued = Sweep(out).points[0].run_dirs[2:]  # seeds 2 and 3
    assert not any(d.exists() for d in queued)
    assert committed < 2 * LONG["generations"]


def children_of(pid: int) -> set[int]:
    """The processes whose parent is pid (from /proc: no extra package)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def still_running(pids: set[int], within: float) -> list[str]:
    """The processes of pids still alive after waiting up to `within` seconds for them to end."""
    deadline = time.monotonic() + within
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    return [f"{p}: {Path(f'/proc/{p}/cmdline').read_text().replace(chr(0), ' ')[:100]}" for p in pids if alive(p)]


def seed_group_under_way(tmp_path):
    """(process, config, folder, worker pids) of `run --seeds 0-3 --workers 2` once two generations are in."""
    out = tmp_path / "seeds"
    proc, config = start(tmp_path, "--seeds", "0-3", "--workers", "2", "--out", out)
    wait_for("runs/*/gen-*[0-9]/DONE", out, 2, proc)
    workers = children_of(proc.pid)
    assert len(workers) >= 2
    return proc, config, out, workers


@pytest.mark.slow
def test_sigterm_stops_a_run_as_ctrl_c_does(tmp_path):
    out = tmp_path / "run"
    proc, config = start(tmp_path, "--out", out)
    wait_for("gen-*[0-9]/DONE", out, 1, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err  # 128 + SIGTERM
    assert err.strip().splitlines()[-1].startswith(f"interrupted: {out} has generations 0-") and "Traceback" not in err
    resumed = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "run", str(config), "--out", str(out), "-q"],
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr


@pytest.mark.slow
def test_sigterm_to_the_parent_of_a_seed_group_stops_every_worker(tmp_path):
    proc, _, _, workers = seed_group_under_way(tmp_path)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=90)
    assert proc.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("interrupted: ") and "Traceback" not in err
    assert still_running(workers, within=10) == []


@pytest.mark.slow
def test_workers_stop_when_the_parent_of_a_seed_group_is_killed_outright(tmp_path):
    """SIGKILL: the parent can stop nobody; each worker notices its parent is gone, interrupts its run
    (committed generations stay) and exits, with no alarming line in the log; the same command then resumes
    to the numbers of one seed run alone."""
    proc, config, out, workers = seed_group_under_way(tmp_path)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert still_running(workers, within=20) == [], "workers outlived their killed parent"
    # multiprocessing's resource tracker outlives the parent too; it cleans the pool's semaphores up without
    # the "10 leaked semaphore objects" line 0.4.0's log ended with (read once the tracker has closed stderr)
    assert "leaked semaphore" not in proc.stderr.read()
    resumed = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "run", str(config), "--seeds", "0-3",
                              "--workers", "2", "--out", str(out), "-q"], capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    first = lmcollapse.load_run(Sweep(out).points[0].run_dirs[0]).metrics
    alone = lmcollapse.run(json.loads(config.read_text()), out_dir=tmp_path / "alone").metrics
    assert first == alone
