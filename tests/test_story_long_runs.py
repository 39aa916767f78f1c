"""Runs of any number of generations: folders from gen-10000 on are seen by show, check and resume."""
import json
import signal
import subprocess
import sys
import time

import pytest

import lmcollapse
from lmcollapse.running.rundir import RunDir, gen_dir_name

TINY = ["--set", "corpus.n_train=5", "--set", "corpus.n_eval=5", "--set", "ci_rounds=0"]


def test_generation_folders_past_9999_are_named_and_found_in_order(tmp_path):
    rd = RunDir(tmp_path)
    for t in (9998, 9999, 10000, 123456):
        (tmp_path / gen_dir_name(t)).mkdir()
    (tmp_path / "gen-12.partial").mkdir()
    assert gen_dir_name(10000) == "gen-10000" and gen_dir_name(7) == "gen-0007"
    assert sorted(rd._generation_dirs()) == [9998, 9999, 10000, 123456]
    rd.discard_from(10000)
    assert sorted(rd._generation_dirs()) == [9998, 9999]


@pytest.mark.slow
def test_a_run_of_10003_generations_killed_past_10000_resumes_to_the_numbers_of_an_unbroken_one(tmp_path):
    def command(out, generations=10003):
        return [sys.executable, "-m", "lmcollapse.cli", "run", "-q", "--set", f"generations={generations}", *TINY,
                "--out", str(out)]

    reference = tmp_path / "reference"
    assert subprocess.run(command(reference), capture_output=True, text=True).returncode == 0
    out = tmp_path / "killed"
    proc = subprocess.Popen(command(out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (out / "gen-10001" / "DONE").exists():
        assert proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    checked = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "check", str(out)], capture_output=True,
                             text=True)
    # The kill lands wherever the run is: mid-generation, after a commit but before metrics.jsonl's append
    # (check says the table lags and how it is rebuilt), or after the last generation.
    lagging = "rewrites it from the generations (nothing is lost)"
    assert any(state in checked.stdout for state in ("generations 0-10000", "all intact", lagging)), \
        checked.stdout[-300:]
    resumed = subprocess.run(command(out), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-500:]
    run = lmcollapse.load_run(out)
    assert run.generations_done == 10003 and run.metrics == lmcollapse.load_run(reference).metrics
    lines = RunDir(out).metrics_file.read_text().splitlines()
    assert len(lines) == 10003 and json.loads(lines[-1])["generation"] == 10002
    shown = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "show", str(out)], capture_output=True, text=True)
    assert "(10003/10003" in shown.stdout and "10002" in shown.stdout
    again = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "check", str(out)], capture_output=True, text=True)
    assert again.returncode == 0 and "10003 generations, all intact" in again.stdout
