"""Sweeps: the spec and its errors, the run directories, results tables, failures, resume after SIGKILL."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

import lmcollapse
from lmcollapse.config import LocalExecutorConfig
from lmcollapse.errors import LmcollapseError
from lmcollapse.sweep import load_spec, make_executor, plan, run_sweep
from lmcollapse.sweep.executors.local import gpu_slots
from lmcollapse.sweep.spec import split_values

BASE = {"generations": 3, "corpus": {"name": "markov", "vocab_size": 5, "doc_length": 6, "n_train": 80, "n_eval": 40},
        "ci_rounds": 0}


def sweep_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lmcollapse.cli", "sweep", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def write_spec(tmp_path, data, name="spec.yaml"):
    import yaml

    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


# ---- the spec -----------------------------------------------------------------------------------------
def test_grid_zip_and_points_multiply_and_seeds_are_their_own_axis():
    spec = load_spec({**BASE, "sweep": {"grid": {"model.order": [1, 2]},
                                        "zip": {"paradigm.name": ["accumulate", "accumulate-subsample"],
                                                "paradigm.rate": [1.0, 0.5]},
                                        "points": [{"model.smoothing": 0.01}, {"model.smoothing": 0.1}],
                                        "seeds": "0-2"}})
    points = spec.points()
    assert len(points) == 2 * 2 * 2 and spec.seeds == [0, 1, 2]
    assert points[0].values == {"model.order": 1, "paradigm.name": "accumulate", "paradigm.rate": 1.0, "model.smoothing": 0.01}
    assert points[-1].label == "model.order=2 paradigm.name=accumulate-subsample paradigm.rate=0.5 model.smoothing=0.1"
    the_plan = plan(spec, "out")
    assert len(the_plan.tasks) == 24 and len({t.run_dir for t in the_plan.tasks}) == 24
    # --grid adds an axis; values are YAML, commas inside brackets stay
    assert split_values("1,[0.5,0.5],'a,b'") == ["1", "[0.5,0.5]", "'a,b'"]
    spec2 = load_spec(BASE, grid=["model.order=1,2,3", "paradigm.name=replace,mix"], seeds=[4])
    assert len(spec2.points()) == 6 and spec2.seeds == [4] and spec2.points()[0].values["model.order"] == 1


@pytest.mark.parametrize("block, grid, message", [
    ({"grid": {"model.bogus": [1, 2]}}, [], "sweep axis grid.model.bogus = 1: model.bogus"),
    ({"grid": {"model.order": []}}, [], "sweep axis grid.model.order is empty"),
    ({}, ["model.order=1,x"], "sweep axis --grid model.order = x: model.order"),
    ({"zip": {"model.order": [1, 2], "paradigm.rate": [1.0]}}, [], "sweep axis zip: its keys have lists of different"),
    ({"grid": {"seed": [1, 2]}}, [], "seeds are an axis of their own"),
    ({"grid": {"model.order": [1, 2]}}, ["model.order=3"], "sweep axis --grid model.order: model.order is already varied by grid.model.order"),
    ({"grid": {"model.order": 3}}, [], "sweep axis grid.model.order: give a list of values"),
    ({"grid": {"model.n_layer": [2]}}, [], "sweep axis grid.model.n_layer = 2: model.n_layer: does not apply"),
    ({"points": [{"model.order": 2}, 5]}, [], "sweep axis points: entry 1 must be a non-empty mapping"),
    ({"grids": {}}, [], "sweep.grids: not a sweep key"),
])
def test_a_bad_spec_is_one_line_naming_the_axis_before_anything_runs(tmp_path, block, grid, message):
    spec = write_spec(tmp_path, {**BASE, "sweep": block})
    out = tmp_path / "out"
    result = sweep_cli(spec, *[a for g in grid for a in ("--grid", g)], "--out", out)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert not out.exists()  # nothing ran, nothing was written


def test_dry_run_lists_the_points_and_counts_the_runs(tmp_path):
    spec = write_spec(tmp_path, {**BASE, "sweep": {"grid": {"model.order": [1, 2]}, "seeds": [0, 1, 2]}})
    result = sweep_cli(spec, "--grid", "paradigm.name=replace,mix", "--dry-run", "--out", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    assert "point 3: model.order=2 paradigm.name=mix" in result.stdout
    assert "4 points x 3 seeds = 12 runs, every config valid" in result.stdout
    assert not (tmp_path / "o").exists()


def test_gpu_slots_pack_fractions_and_spread_wholes():
    assert gpu_slots(["0", "1"], 0.5) == ["0", "1", "0", "1"]
    assert gpu_slots(["0", "1", "2", "3"], 2) == ["0,1", "2,3"]
    assert gpu_slots(["0", "1", "2"], 1) == ["0", "1", "2"]
    with pytest.raises(LmcollapseError, match="no GPU is visible"):
        gpu_slots([], 1)
    with pytest.raises(LmcollapseError, match="only 2 GPUs"):
        gpu_slots(["0", "1"], 3)


def worker_environment(run_dir: str) -> tuple[str, str, int]:
    """A collect function: the GPUs and the thread cap the worker that ran the run had, and which worker it was.
    It holds its worker a moment, so that on a loaded machine one worker cannot take every run before the
    other has started (the test once failed so, seeing one slot only)."""
    time.sleep(1.5)
    return os.environ.get("CUDA_VISIBLE_DEVICES", ""), os.environ.get("OMP_NUM_THREADS", ""), os.getpid()


def test_each_pool_worker_owns_a_gpu_slot_and_its_share_of_the_cores(tmp_path, monkeypatch):
    from lmcollapse.sweep import run_tasks
    from lmcollapse.sweep.executors.local import LocalExecutor

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")  # what a user restricts the sweep to
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    the_plan = plan(load_spec({**BASE, "sweep": {"grid": {"model.order": [1, 2, 3, 4]}}}), tmp_path)
    tasks = [dataclasses.replace(t, collect=worker_environment) for t in the_plan.tasks]
    outcome = run_tasks(tasks, LocalExecutor(LocalExecutorConfig(workers=2, gpus_per_run=0.5)), progress=False)
    seen = [o.value for o in outcome.outcomes]
    assert not outcome.failures and len(seen) == 4
    slot_of = {pid: {gpus for gpus, _, p in seen if p == pid} for _, _, pid in seen}
    assert all(len(slots) == 1 for slots in slot_of.values())  # a worker keeps its slot
    assert len(slot_of) == 2 and {gpus for gpus, _, _ in seen} == {"3", "5"}  # two workers, one GPU each
    assert {threads for _, threads, _ in seen} == {str(max(1, (os.cpu_count() or 1) // 2))}  # cores shared out
    assert "OMP_NUM_THREADS" not in os.environ  # the parent's own environment is left as it was


# ---- running -----------------------------------------------------------------------------------------
def test_a_sweep_gives_one_tidy_table_whose_runs_equal_single_runs(tmp_path):
    spec = load_spec({**BASE, "sweep": {"grid": {"model.order": [1, 2], "paradigm.name": ["replace", "mix"]},
                                        "seeds": [0, 3]}})
    the_plan, outcome = run_sweep(spec, tmp_path / "sw", make_executor("local", workers=2), progress=False)
    assert not outcome.failures and len(outcome.outcomes) == 8
    table = pq.read_table(tmp_path / "sw" / "results.parquet").to_pylist()
    assert len(table) == 4 * 2 * 3
    assert {"point", "model.order", "paradigm.name", "seed", "generation", "kl_to_truth"} <= set(table[0])
    rows = [r for r in table if r["model.order"] == 2 and r["paradigm.name"] == "mix" and r["seed"] == 3]
    single = lmcollapse.run({**BASE, "seed": 3, "model": {"order": 2}, "paradigm": {"name": "mix"}},
                            out_dir=tmp_path / "single").metrics
    assert [r["kl_to_truth"] for r in rows] == [r["kl_to_truth"] for r in single]
    aggregate = pq.read_table(tmp_path / "sw" / "aggregate.parquet").to_pylist()
    assert len(aggregate) == 4 * 3 and all(r["kl_to_truth_n"] == 2 for r in aggregate)
    import csv

    with open(tmp_path / "sw" / "results.csv") as f:
        assert list(csv.DictReader(f))[5]["kl_to_truth"] == str(table[5]["kl_to_truth"])
    # show prints a line per point with the watched metric's mean (two seeds: no interval, the title says why)
    shown = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "show", str(tmp_path / "sw")],
                           capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    verdicts = [line for line in shown.stdout.splitlines() if line.startswith("verdict: model.order=")]
    assert shown.returncode == 0 and shown.stdout.count("model.order=") == 4 + len(verdicts) == 8
    assert " to " not in shown.stdout and "from 3 seeds on" in shown.stdout
    assert all("too few seeds" in line for line in verdicts)  # the verdict line per point, as the report's
    grid = {"model.order": [1, 2], "paradigm.name": ["replace", "mix"]}
    assert not run_sweep(load_spec({**BASE, "sweep": {"grid": grid, "seeds": [0, 3, 4]}}), tmp_path / "sw",
                         make_executor("local", workers=2), progress=False)[1].failures  # a third seed
    shown = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "show", str(tmp_path / "sw")],
                           capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    point_lines = [line for line in shown.stdout.splitlines() if "model.order=" in line and "verdict" not in line]
    assert len(point_lines) == 4 and all(" to " in line for line in point_lines), shown.stdout  # now intervals
    # report draws the points side by side, one line each, labelled by their values
    from lmcollapse.analysis.report import build_report

    page = build_report([tmp_path / "sw"], tmp_path / "report.html").read_text()
    assert page.count("model.order=1 paradigm.name=mix") >= 1 and (tmp_path / "report_files" / "kl_to_truth.png").is_file()


def test_the_same_run_is_never_computed_twice_and_a_spec_may_only_grow(tmp_path):
    out = tmp_path / "sw"
    # model.order=2 is the default: both points resolve to one config, so one run directory
    spec = load_spec({**BASE, "sweep": {"points": [{"model.order": 2}, {"model.smoothing": 0.0001}]}})
    the_plan, outcome = run_sweep(spec, out, progress=False)
    assert len({t.run_dir for t in the_plan.tasks}) == 1 and len(outcome.outcomes) == 1
    again = run_sweep(load_spec({**BASE, "sweep": {"grid": {"model.order": [2, 3]}}}), out, progress=False)[1]
    assert again.skipped == 1 and len(again.outcomes) == 1  # only the new point ran
    with pytest.raises(LmcollapseError, match="holds a sweep this spec changes"):
        run_sweep(load_spec({**BASE, "sweep": {"grid": {"model.order": [3]}}}), out, progress=False)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(LmcollapseError, match="holds something other than a sweep"):
        run_sweep(spec, tmp_path / "other", progress=False)


def test_one_failing_run_leaves_the_others_and_a_second_call_retries_only_it(tmp_path):
    good, bad = tmp_path / "good.txt", tmp_path / "bad.txt"
    text = "".join(f"line {i} of some words here\n" for i in range(60))
    good.write_text(text)
    bad.write_bytes(b"\x00\x01binary\x00" * 50)
    spec = write_spec(tmp_path, {"generations": 2, "ci_rounds": 0,
                                 "corpus": {"name": "files", "n_train": 40, "n_eval": 10},
                                 "sweep": {"grid": {"corpus.path": [str(good), str(bad)]}}})
    out = tmp_path / "sw"
    result = sweep_cli(spec, "--out", out, "-q")
    assert result.returncode == 1, result.stderr
    assert "1 of 2 runs failed" in result.stderr and "bad.txt" in result.stderr and "Traceback" not in result.stderr
    failures = json.loads((out / "failures.json").read_text())
    assert len(failures) == 1 and "binary" in failures[0]["error"]
    assert len(pq.read_table(out / "results.parquet")) == 2  # the good point's 2 generations
    bad.write_text(text)  # the user mends the file; only that run is retried
    result = sweep_cli(spec, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "2 runs (1 already done)" in result.stderr
    assert json.loads((out / "failures.json").read_text()) == []


@pytest.mark.slow
def test_a_sweep_killed_with_sigkill_resumes_to_the_table_of_an_uninterrupted_one(tmp_path):
    spec = write_spec(tmp_path, {**BASE, "generations": 12, "corpus": {**BASE["corpus"], "n_train": 3000},
                                 "ci_rounds": 20,
                                 "sweep": {"grid": {"model.order": [1, 2, 3]}, "seeds": [0, 1]}})
    reference = sweep_cli(spec, "--out", tmp_path / "ref", "-q")
    assert reference.returncode == 0, reference.stderr
    for delay in (1.0, 2.5):
        out = tmp_path / f"killed-{delay}"
        proc = subprocess.Popen([sys.executable, "-m", "lmcollapse.cli", "sweep", str(spec), "--out", str(out), "-q"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while len(list(out.glob("runs/*/gen-*[0-9]/DONE"))) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(delay / 10)
        os.killpg(proc.pid, signal.SIGKILL)  # the parent and every worker, at once
        proc.wait()
        committed = len(list(out.glob("runs/*/gen-*[0-9]/DONE")))
        assert 3 <= committed < 6 * 12
        resumed = sweep_cli(spec, "--out", out, "-q")
        assert resumed.returncode == 0, resumed.stderr
        assert pq.read_table(out / "results.parquet").equals(pq.read_table(tmp_path / "ref" / "results.parquet"))


@pytest.mark.parametrize("args, message", [
    (["sweep", "--grid", "model.order=1,2", "--executor", "nope"], "unknown executor 'nope'; choose one of: local, ray"),
    (["sweep", "--grid", "model.order=1,2", "--address", "auto"], "--address and --cpus-per-run apply to --executor ray"),
    (["sweep", "--grid", "model.order=1,2", "--executor", "ray", "--workers", "2"], "--workers applies to --executor local"),
    (["sweep", "--grid", "model.order=1,2", "--gpus-per-run", "-1"], "--gpus-per-run -1.0: input should be greater than 0"),
    (["sweep", "--grid", "model.order=1,2", "--workers", "0"], "--workers 0: input should be greater than or equal to 1"),
    (["run", "--executor", "ray"], "apply to several runs: use them with --seeds"),
    (["sweep"], "give a sweep spec (a config with a sweep: block), or --grid key=a,b,c"),
])
def test_executor_options_that_do_not_apply_are_one_line_errors(tmp_path, args, message):
    result = subprocess.run([sys.executable, "-m", "lmcollapse.cli", *args, "--out", str(tmp_path / "o")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert not (tmp_path / "o").exists()


def test_without_ray_the_ray_executor_is_a_one_line_error_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed: `import ray` fails
    with pytest.raises(LmcollapseError, match=r"needs Ray: pip install 'lmcollapse\[ray\]'"):
        make_executor("ray", storage=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_check_verifies_every_run_of_a_sweep_and_a_rerun_repairs_the_damage(tmp_path):
    spec = write_spec(tmp_path, {**BASE, "sweep": {"grid": {"model.order": [1, 2]}, "seeds": [0, 1]}})
    out = tmp_path / "sw"
    assert sweep_cli(spec, "--out", out, "-q").returncode == 0
    before = pq.read_table(out / "results.parquet")
    check = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "check", str(out)], capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.count("all intact") == 4
    victim = sorted(out.glob("runs/*/gen-0001/samples.parquet"))[0]
    victim.write_bytes(b"garbage")
    check = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "check", str(out)], capture_output=True, text=True)
    assert check.returncode == 1 and "generation 1: samples.parquet" in check.stdout
    # 0.4.0's show said nothing of the damage
    shown = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "show", str(out)], capture_output=True, text=True)
    assert shown.returncode == 0 and "warning: 1 of 4 runs of" in shown.stderr and "are damaged" in shown.stderr
    assert sweep_cli(spec, "--out", out, "-q").returncode == 0  # recomputes the damaged run from generation 1
    assert pq.read_table(out / "results.parquet").equals(before)
    # a missing table: the reader rebuilds its rows from the runs (0.4.0: a bare FileNotFoundError), check says
    # so, and the sweep's command writes it again without recomputing a run
    (out / "results.parquet").unlink()
    assert lmcollapse.open_results(out).results() == before.to_pylist()
    check = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "check", str(out)], capture_output=True, text=True)
    assert check.returncode == 1 and "results.parquet (or its .csv) is missing; running the sweep's command" in \
        check.stdout
    assert sweep_cli(spec, "--out", out, "-q").returncode == 0
    assert pq.read_table(out / "results.parquet").equals(before)


def test_a_base_seed_that_is_not_a_seed_is_refused_not_replaced():
    with pytest.raises(LmcollapseError, match="seed: 'x' is not a seed"):
        load_spec({**BASE, "seed": "x", "sweep": {"grid": {"model.order": [1, 2]}}})
    assert load_spec({**BASE, "seed": 7}).seeds == [7]


def test_a_ray_address_where_nothing_listens_is_refused_within_seconds(tmp_path):
    pytest.importorskip("ray")
    import socket

    with socket.socket() as s:  # a port nothing listens on once this socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    spec = write_spec(tmp_path, {**BASE, "sweep": {"grid": {"model.order": [1, 2]}}})
    started = time.monotonic()
    result = sweep_cli(spec, "--executor", "ray", "--address", f"127.0.0.1:{port}", "--out", tmp_path / "o")
    assert result.returncode == 2 and time.monotonic() - started < 30
    assert f"no Ray cluster answers at 127.0.0.1:{port} within 5 s" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "o" / "runs").exists()
    bad = sweep_cli(spec, "--executor", "ray", "--address", "nowhere", "--out", tmp_path / "p")
    assert bad.returncode == 2 and "write HOST:PORT" in bad.stderr


def _commit_timed(run_dir, generations: int, seconds: float) -> None:
    """A run directory holding `generations` committed generations whose manifests record `seconds` each."""
    from lmcollapse.running.manifest import GenerationManifest
    from lmcollapse.running.rundir import RunDir

    rd = RunDir(run_dir)
    rd.path.mkdir(parents=True, exist_ok=True)
    rows = []
    for t in range(generations):
        files = rd.generation(t)
        files.path.mkdir(parents=True, exist_ok=True)
        manifest = GenerationManifest(generation=t, n_train=10, n_sampled=10, n_kept=10,
                                      seconds={"fit": seconds / 2, "sample": seconds / 2})
        files.manifest.write_text(json.dumps(manifest.to_json()))
        rows.append(json.dumps({"generation": t}))
    rd.metrics_file.write_text("".join(r + "\n" for r in rows))


def test_the_time_left_weighs_each_generation_by_what_its_kind_of_model_costs(tmp_path):
    from lmcollapse.sweep.engine import WorkClock
    from lmcollapse.sweep.task import RunTask

    def task(name, model):
        return RunTask({"generations": 10, "model": {"name": model}}, str(tmp_path / name))

    gpt_a, gpt_b, ngram_a, ngram_b = task("g1", "gpt"), task("g2", "gpt"), task("n1", "ngram"), task("n2", "ngram")
    clock = WorkClock([gpt_a, gpt_b, ngram_a, ngram_b])
    assert clock.wall_seconds_left(60.0, set()) is None  # nothing timed since the watch began
    # In 100 s of wall time the sweep committed 4 GPT generations of 50 s and 10 count-model ones of 0.1 s:
    # 201 process-seconds, so 2.01 process-seconds of work per wall second (two workers, nearly busy).
    _commit_timed(gpt_a.run_dir, 4, 50.0)
    _commit_timed(ngram_a.run_dir, 10, 0.1)
    left = clock.wall_seconds_left(100.0, {ngram_a.run_dir})
    # Left: 6 + 10 GPT generations at 50 s and 10 count-model ones at 0.1 s = 801 s of work.
    assert left == pytest.approx(801.0 / 2.01, rel=1e-9)
    # Counting generations alike would have said 100 s / 14 generations x 26 left = 186 s: 2.1 times too soon.
    assert left / (100.0 / 14 * 26) > 2
    # A kind not timed yet costs its prior at the measured-to-prior ratio of the kinds timed; a reported run
    # costs nothing more. Here GPT generations measured 50 s: the count model's prior is scaled alike.
    from lmcollapse.sweep.cost import generation_estimates

    lone = task("n3", "ngram")
    clock = WorkClock([gpt_a, lone])
    _commit_timed(gpt_a.run_dir, 6, 50.0)
    gpt_prior, ngram_prior = generation_estimates(gpt_a)[0], generation_estimates(lone)[0]
    assert gpt_prior > 10 * ngram_prior  # the priors know a GPT generation from a count model's
    assert clock.wall_seconds_left(100.0, {gpt_a.run_dir}) == pytest.approx(
        10 * ngram_prior * 50.0 / gpt_prior * 100.0 / 100.0)


def _absorbed(run_dir: str) -> bool:
    return False


def test_runs_of_unknown_length_get_no_time_estimate(tmp_path):
    """0.4.0's theory check said "about 1 h 26 min left" for a job that took 42 s: its runs are extended until
    one token is left, so their length is not known in advance."""
    from lmcollapse.sweep.engine import ProgressWatcher
    from lmcollapse.sweep.task import RunTask

    tasks = [RunTask({"generations": 10, "model": {"name": "ngram"}}, str(tmp_path / f"r{i}"), until=_absorbed,
                     max_generations=1000) for i in range(2)]
    watcher = ProgressWatcher(tasks, "here", show=False)
    _commit_timed(tasks[0].run_dir, 4, 0.01)
    line = watcher.line()
    assert "no time estimate" in line and "left" not in line and "4/20 generations" in line


def test_runs_are_handed_out_longest_first_by_their_work_left(tmp_path):
    from lmcollapse.sweep.cost import longest_first, run_estimate
    from lmcollapse.sweep.task import RunTask

    def task(name, model, paradigm="replace", **extra):
        return RunTask({"generations": 20, "model": {"name": model}, "paradigm": {"name": paradigm, **extra}},
                       str(tmp_path / name))

    ngram, gpt, grows, resumed = (task("n", "ngram"), task("g", "gpt"), task("a", "gpt", "accumulate", rate=0.5),
                                  task("r", "gpt"))
    order = longest_first([ngram, gpt, resumed, grows], done={resumed.run_dir: 15})
    assert [t.run_dir for t in order] == [grows.run_dir, gpt.run_dir, resumed.run_dir, ngram.run_dir]
    # accumulate at rate 0.5 trains on (1 + 0.5 t) N documents, so each generation's fit costs more by a constant
    from lmcollapse.sweep.cost import generation_estimates

    import numpy as np

    steps = np.diff(generation_estimates(grows))
    assert steps.min() > 0 and steps.max() == pytest.approx(steps.min(), rel=1e-9)
    assert run_estimate(resumed, 15) == pytest.approx(run_estimate(gpt) / 4)


def test_longest_first_packs_the_paper_grid_no_later_than_its_spec_order(tmp_path):
    """Two workers, each taking the next run when free, on the paper grid's priors: the spec's order starts
    the count models' runs between GPT runs; longest first ends within 4/3 of the best packing (Graham)."""
    import heapq

    from lmcollapse.studies import load_spec, paper
    from lmcollapse.sweep.cost import longest_first, run_estimate
    from lmcollapse.sweep.task import RunTask

    spec = paper.effective_spec(load_spec("paper"))
    tasks = [RunTask({**p.config, "seed": seed}, str(tmp_path / f"{p.model}-{p.label}-{seed}"))
             for p in paper.points(spec, out_dir=tmp_path) for seed in spec["seeds"]]

    def makespan(order, workers=2):
        free = [0.0] * workers
        for t in order:
            heapq.heappush(free, heapq.heappop(free) + run_estimate(t))
        return max(free)

    lower_bound = max(sum(map(run_estimate, tasks)) / 2, max(map(run_estimate, tasks)))
    assert makespan(longest_first(tasks)) <= makespan(tasks)
    assert makespan(longest_first(tasks)) <= 4 / 3 * lower_bound


def test_each_points_verdict_names_the_departure_its_table_row_shows(tmp_path):
    """0.4.0 printed "no early warning" under every point while the table beside it showed "warns at"."""
    import re

    from conftest import small_truth_config

    config = small_truth_config(generations=12, **{"corpus.n_train": 100, "ci_rounds": 0, "model.smoothing": 0.01,
                                                   "corpus.probs": [0.3, 0.2, 0.15, 0.1, 0.08, 0.07, 0.05, 0.05]})
    spec = load_spec({**config, "sweep": {"grid": {"paradigm.name": ["replace", "accumulate"]}, "seeds": [0, 1, 2]}})
    run_sweep(spec, tmp_path / "sw", make_executor("local", workers=1), progress=False)
    shown = subprocess.run([sys.executable, "-m", "lmcollapse.cli", "show", str(tmp_path / "sw")],
                           capture_output=True, text=True, timeout=300, env={**os.environ, "COLUMNS": "200"})
    assert shown.returncode == 0, shown.stderr
    from lmcollapse.sweep import summarise

    watched, summaries = summarise(tmp_path / "sw")
    verdicts = {m.group(1): m.group(2) for m in re.finditer(r"^verdict: (\S+): (.*)$", shown.stdout, re.M)}
    assert len(verdicts) == 2
    warned = 0
    for point in summaries:
        departs = point.departs.get("kl_to_truth")
        line = verdicts[point.label]
        if departs is None:
            assert "no early warning" in line, line
        else:
            warned += 1
            assert f"departs from generation 0 at {departs}" in line, line
    assert warned >= 1  # replace with no smoothing loses tokens: its KL departs


def test_a_rerun_that_computes_nothing_still_rebuilds_tables_a_run_outgrew(tmp_path):
    """Sweep files are written only when they change (so a finished sweep reruns from read-only storage), but a
    run extended on its own since the tables were written makes them stale: the rerun rebuilds them."""
    spec = load_spec({**BASE, "sweep": {"grid": {"model.order": [1, 2]}, "seeds": [0]}})
    run_sweep(spec, tmp_path / "sw", make_executor("local", workers=1), progress=False)
    table = tmp_path / "sw" / "results.parquet"
    before = table.stat().st_mtime_ns
    run_sweep(spec, tmp_path / "sw", make_executor("local", workers=1), progress=False)
    assert table.stat().st_mtime_ns == before  # nothing new: nothing written
    run_dir = sorted((tmp_path / "sw" / "runs").iterdir())[0]
    lmcollapse.run(None, out_dir=run_dir, overrides=["generations=5"])  # extended outside the sweep
    run_sweep(spec, tmp_path / "sw", make_executor("local", workers=1), progress=False)
    rows = [r for r in pq.read_table(table).to_pylist() if r["run"] == run_dir.name]
    assert len(rows) == 5
