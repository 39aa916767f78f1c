"""Sweeps: any grid of config keys x seeds, each (point, seed) an ordinary run directory, run on a local
process pool or a Ray cluster, gathered into one tidy table."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import ValidationError

from lmcollapse.config import Config
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.rundir import RunDir, write_text_if_changed
from lmcollapse.sweep.engine import ExpectedEnd, SweepOutcome, run_tasks
from lmcollapse.sweep.executors import EXECUTORS, Executor
from lmcollapse.sweep.folder import PointRuns, Sweep, table_problem
from lmcollapse.sweep.plan import SweepPlan, check_extends, is_sweep, plan, read_manifest, write_manifest
from lmcollapse.sweep.results import summarise, tables, write_tables
from lmcollapse.sweep.spec import Axis, SweepSpec, load_spec
from lmcollapse.sweep.sweepdir import TABLES, SweepDir
from lmcollapse.sweep.task import RunOutcome, RunTask

__all__ = ["EXECUTORS", "Axis", "Executor", "PointRuns", "RunOutcome", "RunTask", "Sweep", "SweepOutcome", "SweepPlan",
           "SweepDir", "SweepSpec", "check_extends", "is_sweep", "load_spec", "make_executor", "plan", "read_manifest",
           "raise_failures", "run_seeds", "run_sweep", "run_tasks", "seeds_base", "seeds_spec", "summarise", "tables", "write_manifest", "write_tables"]


def make_executor(name: str = "local", workers: int | None = None, address: str | None = None,
                  gpus_per_run: float | None = None, cpus_per_run: float | None = None,
                  storage: str | Path | None = None) -> Executor:
    """An executor from the command line's options; options that do not apply to it are refused."""
    cls = EXECUTORS.get(name)  # an unknown executor: one line naming the known ones
    if name == "local":
        if address is not None or cpus_per_run is not None:
            raise LmcollapseError("--address and --cpus-per-run apply to --executor ray")
        options = {"workers": workers, "gpus_per_run": gpus_per_run}
    else:
        if workers is not None:
            raise LmcollapseError("--workers applies to --executor local; Ray places runs by --cpus-per-run/"
                                  "--gpus-per-run")
        options = {"address": address, "cpus_per_run": cpus_per_run, "gpus_per_run": gpus_per_run,
                   "storage": None if storage is None else str(storage)}
    given = {k: v for k, v in options.items() if v is not None}
    try:
        section = cls.config_class(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise LmcollapseError(f"--{str(first['loc'][0]).replace('_', '-')} {first['input']!r}: "
                              f"{first['msg'][:1].lower()}{first['msg'][1:]}") from None
    return EXECUTORS.build(section)


def unique_tasks(tasks: list[RunTask]) -> list[RunTask]:
    """One task per run directory: two points that resolve to the same config share one run."""
    return list({t.run_dir: t for t in tasks}.values())


def run_sweep(spec: SweepSpec, out: str | Path, executor: Executor | None = None,
              progress: bool = True, expected_end: ExpectedEnd | None = None) -> tuple[SweepPlan, SweepOutcome]:
    """Plan (every config checked first), refuse a changed spec on an existing out, run what is missing,
    write results; failed runs are in the outcome (and the failures file), not raised."""
    executor = executor or make_executor()
    the_plan = plan(spec, out)
    check_extends(the_plan)
    longer = [t for t in unique_tasks(the_plan.tasks) if RunDir(t.run_dir).exists()
              and RunDir(t.run_dir).inspect().intact > t.generations]
    if longer and progress:
        print(f"[lmcollapse] note: {len(longer)} runs of this sweep hold more generations than it asks for; they "
              f"are kept, and the tables show every committed generation", file=sys.stderr)
    grew = write_manifest(the_plan)
    tasks = unique_tasks(the_plan.tasks)
    if any(task.config.get("trackers") for task in tasks):  # imports the trackers' registry only when asked for
        from lmcollapse.trackers import drop_missing

        tasks = drop_missing(tasks, lambda message: print(f"[lmcollapse] {message}", file=sys.stderr, flush=True))
    outcome = run_tasks(tasks, executor, progress=progress, expected_end=expected_end)
    folder = SweepDir(the_plan.out)
    # A rerun of a finished sweep writes nothing (it may sit on read-only storage): the tables are rebuilt
    # only when a run was computed, the plan changed, or one of them is missing.
    if grew or outcome.skipped < len(tasks) or any(table_problem(folder.path, name) for name in TABLES) or \
            _runs_newer_than_tables(tasks, folder):
        write_tables(the_plan.out)
    failures = [{"run": f.run_dir, "error": f.error, "node": f.node} for f in outcome.failures]
    write_text_if_changed(folder.failures_file, json.dumps(failures, indent=1) + "\n")
    return the_plan, outcome


def _runs_newer_than_tables(tasks: list[RunTask], folder: SweepDir) -> bool:
    """Whether a run's metrics changed after the tables were written (a run extended on its own, outside the
    sweep): then the tables are stale even though this call computed nothing."""
    written = folder.table_file("results").stat().st_mtime
    return any(RunDir(t.run_dir).metrics_file.stat().st_mtime > written for t in tasks
               if RunDir(t.run_dir).metrics_file.is_file())


def seeds_spec(config: Config, seeds: list[int]) -> SweepSpec:
    """Several seeds of one config (`run --seeds`): a sweep of one point."""
    base = config.model_dump()
    base.pop("seed")
    return SweepSpec(base, [], list(seeds))


def run_seeds(config: Config, seeds: list[int], out: str | Path, executor: Executor | None = None,
              workers: int | None = None, progress: bool = True) -> Sweep:
    """Run (or resume) several seeds of one config into the sweep folder out; failed runs raise one error
    listing them, after the others are done."""
    _, outcome = run_sweep(seeds_spec(config, seeds), out, executor or make_executor("local", workers=workers),
                           progress=progress)
    raise_failures(outcome)
    return Sweep(out)


def raise_failures(outcome: SweepOutcome) -> None:
    """For the library's callers: list the failed runs on stderr, then raise one error naming the first."""
    if outcome.failures:
        print("\n".join(outcome.failure_report()), file=sys.stderr, flush=True)
        first = outcome.failures[0]
        raise LmcollapseError(f"{len(outcome.failures)} of {len(outcome.outcomes)} runs failed (the others are done; "
                              f"run the same command again to retry only these); first: {first.run_dir}: {first.error}")


def seeds_base(out: str | Path) -> tuple[dict, list[int]]:
    """(base config, seeds) of the one-point sweep in out, to resume or extend it with `run --seeds`."""
    sweep = Sweep(out)
    if len(sweep.manifest["points"]) != 1 or sweep.manifest.get("axes"):
        raise LmcollapseError(f"--out {out} holds a sweep of {len(sweep.manifest['points'])} points, not seeds of one "
                              f"config; run it with lmcollapse sweep")
    return sweep.manifest["base"], sweep.seeds
