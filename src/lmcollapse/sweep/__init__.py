"""Sweeps: any grid of config keys x seeds, each (point, seed) an ordinary run directory, run on a local
process pool or a Ray cluster, gathered into one tidy table."""
from __future__ import annotations

from pathlib import Path

from .engine import SweepOutcome, run_tasks
from .executors import EXECUTORS, Executor
from .plan import SweepPlan, check_extends, is_sweep, plan, read_manifest, write_manifest
from .results import summarise, tables, write_tables
from .spec import SweepSpec, load_spec
from .task import RunOutcome, RunTask

__all__ = ["EXECUTORS", "Executor", "RunOutcome", "RunTask", "SweepOutcome", "SweepPlan", "SweepSpec", "check_extends",
           "is_sweep", "load_spec", "make_executor", "plan", "read_manifest", "run_sweep", "run_tasks", "summarise",
           "tables", "write_manifest", "write_tables"]


def make_executor(name: str = "local", workers: int | None = None, address: str | None = None,
                  gpus_per_run: float | None = None, cpus_per_run: float | None = None,
                  storage: str | Path | None = None) -> Executor:
    """An executor from the command line's options; options that do not apply to it are refused."""
    from ..errors import LmcollapseError

    cls = EXECUTORS.get(name)
    if name == "local":
        if address is not None or cpus_per_run is not None:
            raise LmcollapseError("--address and --cpus-per-run apply to --executor ray")
        return cls(workers=workers, gpus_per_run=gpus_per_run)
    if workers is not None:
        raise LmcollapseError("--workers applies to --executor local; Ray places runs by --cpus-per-run/--gpus-per-run")
    return cls(address=address, cpus_per_run=cpus_per_run or 1.0, gpus_per_run=gpus_per_run or 0.0, storage=storage)


def unique_tasks(tasks: list[RunTask]) -> list[RunTask]:
    """One task per run directory: two points that resolve to the same config share one run."""
    return list({t.run_dir: t for t in tasks}.values())


def run_sweep(spec: SweepSpec, out: str | Path, executor: Executor | None = None,
              progress: bool = True) -> tuple[SweepPlan, SweepOutcome]:
    """Plan (every config checked first), refuse a changed spec on an existing out, run what is missing,
    write results; failed runs are in the outcome (and failures.json), not raised."""
    import json

    from ..rundir import atomic_write_text

    executor = executor or make_executor()
    the_plan = plan(spec, out)
    check_extends(the_plan)
    write_manifest(the_plan)
    outcome = run_tasks(unique_tasks(the_plan.tasks), executor, progress=progress)
    write_tables(the_plan.out)
    failures = [{"run": f.run_dir, "error": f.error, "node": f.node} for f in outcome.failures]
    atomic_write_text(the_plan.out / "failures.json", json.dumps(failures, indent=1) + "\n")
    return the_plan, outcome
