"""Things that used to happen without a word: cut samples, a resume that called itself the demo, a run
shrunk by asking for fewer generations, seed means over fewer seeds than said, 80-column tables in logs,
markup eating text, numbers accepted as text."""
import json
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import lmcollapse
from conftest import small_truth_config
from lmcollapse.errors import LmcollapseError
from lmcollapse.sources.readers import read_documents


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lmcollapse.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd)


LONG_DOCS = {"corpus": {"n_train": 300, "n_eval": 50}, "generations": 2, "ci_rounds": 0}  # KJV verses: 3-90 tokens


def test_a_cap_below_the_real_lengths_is_said_and_the_capped_share_measured(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps({**LONG_DOCS, "sampler": {"max_tokens": 20}}))
    result = cli("run", config, "--out", tmp_path / "short")
    assert result.returncode == 0, result.stderr
    assert "warning: sampler.max_tokens=20 is shorter than" in result.stderr and "quantile" in result.stderr
    rows = lmcollapse.load_run(tmp_path / "short").metrics
    assert all(row["capped_fraction"] > 0.1 for row in rows)
    roomy = lmcollapse.run({**LONG_DOCS, "sampler": {"max_tokens": 400}}, out_dir=tmp_path / "roomy")
    assert all(row["capped_fraction"] == 0 for row in roomy.metrics)
    fixed_length = lmcollapse.run(small_truth_config(generations=1), out_dir=tmp_path / "fixed")
    assert "capped_fraction" not in fixed_length.metrics[0]  # documents without an end token are never cut


def test_resuming_with_no_config_is_not_called_the_demo_and_fewer_generations_shrink_nothing(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps(small_truth_config(generations=4)))
    assert cli("run", config, "--out", tmp_path / "r").returncode == 0
    resumed = cli("run", "--out", tmp_path / "r")
    assert resumed.returncode == 0 and "built-in demo" not in resumed.stderr
    fewer = cli("run", "--out", tmp_path / "r", "--set", "generations=2")
    assert fewer.returncode == 0 and "is a run of 4 generations; asking for 2 adds nothing" in fewer.stderr
    assert lmcollapse.load_run(tmp_path / "r").config.generations == 4
    assert "(4/4 generations)" in " ".join(cli("show", tmp_path / "r").stdout.split())


def test_progress_lines_count_generations_as_the_tables_do(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps(small_truth_config(generations=2)))
    result = cli("run", config, "--out", tmp_path / "r")
    lines = [line for line in result.stderr.splitlines() if " done (" in line]
    assert [line.split(" done")[0] for line in lines] == ["[lmcollapse] generation 0", "[lmcollapse] generation 1"]
    assert "(2 of 2)" in lines[-1]
    table = result.stdout
    assert "│   0 │" in table and "│   1 │" in table


def test_tables_in_a_log_keep_their_columns_and_ls_keeps_brackets(tmp_path):
    lmcollapse.run(LONG_DOCS, out_dir=tmp_path / "r")
    shown = cli("show", tmp_path / "r").stdout  # stdout is a pipe here, as in a log
    assert "distinct-2" in shown and "self-BLEU" in shown and "…" not in shown
    assert "(extra [hf])" in cli("ls", "models").stdout


def test_seed_means_say_how_many_seeds_each_row_averages(tmp_path):
    from lmcollapse.running.parts import load_config
    from lmcollapse.running.rundir import RunDir
    from lmcollapse.sweep import run_seeds

    sweep = run_seeds(load_config(small_truth_config(generations=3)), [0, 1, 2], tmp_path / "s", workers=1,
                      progress=False)
    root = sweep.path
    RunDir(sweep.points[0].run_dirs[2]).discard_from(1)  # seed 2 stopped after generation 0, as if interrupted
    shown = cli("show", root).stdout
    rows = [line for line in shown.splitlines() if line.startswith("│")]
    assert [row.split("│")[2].strip() for row in rows] == ["3", "2", "2"]


def test_a_parquet_text_column_of_numbers_is_refused(tmp_path):
    path = tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"text": pa.array([1, 2, 3])}), path)
    with pytest.raises(LmcollapseError, match="column 'text' holds int64, not text"):
        read_documents(path)


def test_options_that_would_be_ignored_are_refused_or_said(tmp_path):
    tiny = ["--set", "generations=2", "--set", "corpus.n_train=40", "--set", "corpus.n_eval=20", "-q"]
    seeded = cli("run", "--seeds", "0-1", "--set", "seed=7", *tiny, "--out", tmp_path / "s")
    assert seeded.returncode == 2 and "--set seed does not apply with --seeds" in seeded.stderr
    assert cli("run", "--seeds", "0-1", *tiny, "--out", tmp_path / "s").returncode == 0
    samples = cli("show", tmp_path / "s", "--samples", "2")
    assert samples.returncode == 2 and "--samples shows one run's documents" in samples.stderr
    assert "lmcollapse show " in samples.stderr and "/runs/" in samples.stderr
    demo = cli("validate")
    assert demo.returncode == 0 and "the built-in demo: valid" in demo.stderr
    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps({"generations": 2, "sweep": {"grid": {"model.order": [1, 2]}}}))
    misplaced = cli("run", spec, "--out", tmp_path / "x")
    assert misplaced.returncode == 2 and f"run it with `lmcollapse sweep {spec}`" in misplaced.stderr
    assert cli("sweep").returncode == 2  # no demo sweep by accident


def test_a_sweep_names_failed_runs_by_their_point_and_says_when_it_asks_for_fewer_generations(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps({"generations": 2, "corpus": {"n_train": 40, "n_eval": 20}, "ci_rounds": 0,
                                "sweep": {"grid": {"corpus.n_train": [40, 10**6]}}}))
    failed = cli("sweep", spec, "--out", tmp_path / "o", "-q")
    assert failed.returncode == 1 and "corpus.n_train=1000000, seed 0 (" in failed.stderr
    spec.write_text(json.dumps({"generations": 1, "corpus": {"n_train": 40, "n_eval": 20}, "ci_rounds": 0,
                                "sweep": {"grid": {"corpus.n_train": [40, 10**6]}}}))
    fewer = cli("sweep", spec, "--out", tmp_path / "o")
    assert "1 runs of this sweep hold more generations than it asks for" in fewer.stderr


def test_early_warning_leaves_out_what_the_paradigm_sets_and_never_prints_p_0(tmp_path):
    run = lmcollapse.run({"generations": 5, "corpus": {"n_train": 300, "n_eval": 100}, "ci_rounds": 20,
                          "paradigm": {"name": "accumulate", "rate": 0.5}}, out_dir=tmp_path / "r")
    shown = cli("show", run.path).stdout
    warned = [line.split()[0] for line in shown.split("early warning")[1].splitlines()[1:] if line.strip()]
    assert warned and not {"real_fraction", "pool_real_fraction", "n_train"} & set(warned)
    assert "p = 0 " not in shown + " " and "p = 0\n" not in shown


def test_dry_run_and_validate_check_what_can_be_checked_without_running(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps({"generations": 2, "corpus": {"n_train": 40, "n_eval": 20},
                                "sweep": {"grid": {"corpus.n_train": [40, 10**6]}}}))
    dry = cli("sweep", spec, "--dry-run")
    assert dry.returncode == 2 and "sweep point corpus.n_train=1000000: corpus.n_train + corpus.n_eval = 1000020 " \
                                   "exceeds the 30834 documents of kjv" in dry.stderr
    too_many = cli("validate", "--set", "corpus.n_train=25000", "--set", "corpus.n_reservoir=5000")
    assert too_many.returncode == 2 and "R, E, the probe and the reservoir need 31000 documents" in too_many.stderr
