"""Folders of many runs written by lmcollapse 0.3 (tests/data/v0.3.0): refused in one line that names the
command converting them, and after `lmcollapse upgrade` ordinary sweep folders with the same numbers."""
import json
import shutil
from pathlib import Path

import pytest
from helpers import NEWER_METRICS, cli, measured_as_in_0_3, same_numbers, two_seed_study

import lmcollapse
from lmcollapse.errors import LmcollapseError
from lmcollapse.metrics import MetricsRow
from lmcollapse.sweep import Sweep

DATA = Path(__file__).parent / "data" / "v0.3.0"


@pytest.fixture
def old_seeds(tmp_path):
    shutil.copytree(DATA / "seeds", tmp_path / "seeds")
    return tmp_path / "seeds"


@pytest.fixture
def old_reproduce(tmp_path):
    shutil.copytree(DATA / "reproduce-quality-quick", tmp_path / "qq")
    return tmp_path / "qq"


@pytest.mark.parametrize("which", ["old_seeds", "old_reproduce"])
def test_a_03_folder_is_refused_in_one_line_naming_the_upgrade(which, request, tmp_path):
    path = request.getfixturevalue(which)
    kind = "--seeds" if which == "old_seeds" else "reproduce"
    with pytest.raises(LmcollapseError, match=f"is a {kind} folder written by lmcollapse 0.3.*lmcollapse upgrade"):
        lmcollapse.open_results(path)
    for command in (["show", path], ["check", path], ["report", path, "--out", tmp_path / "r.html"]):
        result = cli(*command)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert f"lmcollapse upgrade {path}" in result.stderr


@pytest.mark.slow  # about 9 s: the default run keeps to its 5 minutes; CI runs it
def test_an_upgraded_seeds_folder_is_a_one_point_sweep_with_the_same_numbers(old_seeds, tmp_path):
    old_aggregate = [json.loads(line) for line in (old_seeds / "aggregate.jsonl").read_text().splitlines()]
    old_seed_rows = [lmcollapse.load_run(old_seeds / f"seed-{s}").metrics for s in (0, 1)]
    result = cli("upgrade", old_seeds)
    assert result.returncode == 0, result.stderr
    sweep = lmcollapse.open_results(old_seeds)
    assert isinstance(sweep, Sweep) and len(sweep.points) == 1 and sweep.seeds == [0, 1]
    assert [lmcollapse.load_run(d).metrics for d in sweep.points[0].run_dirs] == old_seed_rows
    assert not (old_seeds / "seeds.json").exists() and not list(old_seeds.glob("seed-*"))
    assert sweep.manifest["base"]["corpus"]["n_train"] == 30
    import pyarrow.parquet as pq

    aggregate = pq.read_table(old_seeds / "aggregate.parquet").to_pylist()
    assert len(aggregate) == len(old_aggregate) == 3
    for new, old in zip(aggregate, old_aggregate):
        new, old = MetricsRow.from_json(new), MetricsRow.from_json(old)
        assert {k: new.values[k] for k in old.values} == pytest.approx(old.values) and new.counts == old.counts
        assert old.intervals and not new.intervals  # since 0.4 two seeds give no interval (three are needed)
    shown = cli("show", old_seeds)
    assert shown.returncode == 0 and "mean over 2 seeds" in shown.stdout
    checked = cli("check", old_seeds)
    assert checked.returncode == 0 and checked.stdout.count("all intact") == 2
    assert cli("report", old_seeds, "--out", tmp_path / "r.html").returncode == 0
    # the same command as before resumes the upgraded folder: nothing to redo, and more seeds extend it
    extended = cli("run", "--seeds", "0-2", "--out", old_seeds, "-q", "--workers", "1")
    assert extended.returncode == 0, extended.stderr
    assert lmcollapse.open_results(old_seeds).seeds == [0, 1, 2]
    again = cli("upgrade", old_seeds)  # nothing left to convert
    assert again.returncode == 2 and "nothing to upgrade" in again.stderr


@pytest.mark.slow
def test_an_upgraded_reproduce_folder_is_taken_over_by_the_study_without_recomputing(old_reproduce):
    """The two 0.3 variant folders become points tagged by their folder; `reproduce --quick` on the same --out
    finds their runs done (their DONE files untouched), runs the five missing variants and every variant's
    third seed, and its seeds 0 and 1 give the summary 0.3.0 gave."""
    assert cli("upgrade", old_reproduce).returncode == 0
    sweep = lmcollapse.open_results(old_reproduce)
    assert sorted(p.tags["group"] for p in sweep.points) == ["markov/rate-0.1", "markov/rate-1"]
    assert not (old_reproduce / "markov").exists()
    committed = {p: p.stat().st_mtime_ns for p in old_reproduce.glob("runs/*/gen-*[0-9]/DONE")}
    assert len(committed) == 2 * 2 * 6
    result = cli("reproduce", "quality-vs-quantity", "--quick", "--out", old_reproduce, "--workers", "2", "-q")
    assert result.returncode == 0, result.stderr
    assert all(p.stat().st_mtime_ns == mtime for p, mtime in committed.items())
    recorded = json.loads((DATA / "quality-quick-summary.json").read_text())  # seeds 0 and 1, as 0.3.0 ran
    assert same_numbers(measured_as_in_0_3(two_seed_study(old_reproduce, "quality")),
                        measured_as_in_0_3(recorded)) == []
    assert {p.tags.get("variant") for p in lmcollapse.open_results(old_reproduce).points} >= {"rate 1", "rate 0.1"}


# ---- run directories of earlier versions ----------------------------------------------------------
def test_a_run_directory_of_version_0_2_0_resumes_and_extends_with_identical_numbers(tmp_path):
    """tests/data/run-v0.2.0 was written by lmcollapse 0.2.0 (2 generations of accumulate-subsample on a
    Markov chain with dedup, perplexity and reweight gates, models not saved); the expected rows of 4
    generations were written by the same version in one go."""
    run_dir = tmp_path / "old"
    shutil.copytree(DATA.parent / "run-v0.2.0", run_dir)
    run = lmcollapse.run(None, out_dir=run_dir, overrides=["generations=4"])
    expected = [json.loads(line) for line in (DATA.parent / "run-v0.2.0-extended-metrics.jsonl").read_text().splitlines()]
    newer = {f"{name}{end}" for name in NEWER_METRICS for end in ("", "_lo", "_hi")}  # in the generations added
    assert [sorted(set(r) - newer) for r in run.metrics] == [sorted(r) for r in expected]
    assert run.metrics[:2] == expected[:2]  # the generations 0.2.0 committed, as committed
    for got in run.metrics[2:]:  # 8-token documents: nothing to cut, so the prefix metrics are the whole ones
        assert newer <= set(got) and (got["repetition_32"], got["self_bleu_32"]) == (got["repetition"], got["self_bleu"])
    # The generations this version adds: every value equal to the last bits but for least-squares fits
    # (zipf_slope) and sums whose rounding follows the BLAS and LAPACK build numpy runs on (1e-12); the
    # intervals differ by design since 0.4.0 (each metric's half-samples draw from a stream of their own).
    for got, want in zip(run.metrics[2:], expected[2:]):
        values = {k: v for k, v in want.items() if not k.endswith(("_lo", "_hi"))}
        assert {k: got[k] for k in values} == {k: pytest.approx(v, rel=1e-12, abs=1e-15) if isinstance(v, float) else v
                                               for k, v in values.items()}
        assert all(got[k] is not None and got[k[:-3] + "_hi"] >= got[k] for k in got if k.endswith("_lo"))
    assert run.config.model.name == "ngram" and "n_layer" not in run.config.model.model_dump()
