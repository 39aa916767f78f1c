"""Ctrl-C (SIGINT): a run stops at once, says where and how to resume, exits 130; so does every worker of a
multi-seed run; the run resumes to the same numbers."""
import json
import signal
import subprocess
import sys
import time

import lmcollapse
from lmcollapse.sweep import Sweep

LONG = {"generations": 12, "corpus": {"n_train": 8000, "n_eval": 500}, "ci_rounds": 10}


def start(tmp_path, *args):
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps(LONG))
    return subprocess.Popen([sys.executable, "-m", "lmcollapse.cli", "run", str(config), *map(str, args), "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True), config


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
