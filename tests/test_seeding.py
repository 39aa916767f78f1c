"""Several seeds of one config (`run --seeds`, a sweep of one point): seed parsing and the CLI running seeds in parallel into the sweep format."""
import subprocess
import sys

import numpy as np
import pyarrow.parquet as pq
import pytest

import lmcollapse
from lmcollapse.errors import LmcollapseError
from lmcollapse.sweep import Sweep
from lmcollapse.sweep.spec import parse_seeds

TINY = ["--set", "generations=3", "--set", "corpus.n_train=200", "--set", "corpus.n_eval=50", "--set", "ci_rounds=10"]


def test_parse_seeds():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("5, 1,3-4") == [1, 3, 4, 5]
    for bad in ("", "a-b", "3-1", "-2"):
        with pytest.raises(LmcollapseError, match="--seeds"):
            parse_seeds(bad)


def test_cli_runs_seeds_in_parallel_and_each_equals_a_single_run(tmp_path):
    out = tmp_path / "seeds"
    cmd = [sys.executable, "-m", "lmcollapse.cli", "run", "--seeds", "0-1", "--workers", "2", "--out", str(out), *TINY]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "mean over 2 seeds" in result.stdout and "early warning" in result.stdout
    assert "2/2 runs, 6/6 generations" in result.stderr
    sweep = lmcollapse.open_results(out)
    assert isinstance(sweep, Sweep) and len(sweep.points) == 1 and sweep.seeds == [0, 1]  # the sweep format
    aggregate = pq.read_table(out / "aggregate.parquet").to_pylist()
    assert len(aggregate) == 3 and aggregate[2]["heldout_ppl_n"] == 2
    single = lmcollapse.run({"seed": 1, "generations": 3, "corpus": {"n_train": 200, "n_eval": 50}, "ci_rounds": 10},
                            out_dir=tmp_path / "single")
    runs = [lmcollapse.load_run(d) for d in sweep.points[0].run_dirs]
    assert runs[1].metrics == single.metrics and runs[1].config.seed == 1
    mean = np.mean([r.metrics[2]["heldout_ppl"] for r in runs])
    assert aggregate[2]["heldout_ppl"] == pytest.approx(mean)
    before = (out / "aggregate.parquet").read_bytes()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=300)  # resumes: nothing left to do
    assert again.returncode == 0 and pq.read_table(out / "aggregate.parquet").to_pylist() == aggregate
    shown = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "show", str(out)], capture_output=True, text=True)
    assert shown.returncode == 0 and "mean over 2 seeds" in shown.stdout
    checked = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "check", str(out)], capture_output=True, text=True)
    assert checked.returncode == 0 and checked.stdout.count("all intact") == 2
    reported = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "report", str(out), "--out",
                               str(tmp_path / "r.html")], capture_output=True, text=True)
    assert reported.returncode == 0 and "heldout_ppl" in (tmp_path / "r.html").read_text()
    assert before  # the table existed before the resume rewrote it
