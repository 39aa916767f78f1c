"""Run a list of tasks on an executor: skip the finished ones, show progress, collect failures.

Every multi-run command goes through here (`sweep`, `run --seeds`, `reproduce`), so each takes any
executor, resumes only what is missing, and lets one failing run leave the others alone.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Sequence

from ..errors import RunInterrupted
from ..config import NOT_IDENTITY
from ..readback import stored_config
from ..rundir import RunDir
from .executors import Executor
from .task import RunOutcome, RunTask


@dataclass
class SweepOutcome:
    tasks: list[RunTask]
    outcomes: list[RunOutcome] = field(default_factory=list)
    skipped: int = 0  # already finished before this call

    @property
    def failures(self) -> list[RunOutcome]:
        return [o for o in self.outcomes if not o.ok]

    def failure_report(self) -> list[str]:
        """A headline and one line per failed run with its one-line error ([] when none failed)."""
        if not self.failures:
            return []
        names = {t.run_dir: f"{t.label or 'base'}, seed {t.seed}" for t in self.tasks}
        return ([f"{len(self.failures)} of {len(self.outcomes)} runs failed (the others are done; run the same "
                 f"command again to retry only these):"]
                + [f"  {names.get(f.run_dir, f.run_dir)} ({f.run_dir}): {f.error}" for f in self.failures])


def committed(task: RunTask) -> int:
    """Generations the task's directory holds now (0 when it does not exist yet, or no longer: a collect that
    keeps only numbers removes the directory in its worker before the outcome reaches the progress count)."""
    try:
        return len(RunDir(task.run_dir).read_metrics_jsonl())
    except FileNotFoundError:
        return 0


def finished(task: RunTask) -> bool:
    """Whether the task's run is complete and intact with this very config: nothing to do."""

    rd = RunDir(task.run_dir)
    if not rd.exists() or committed(task) < task.generations:
        return False
    try:
        same = stored_config(rd.path).model_dump(exclude=NOT_IDENTITY) == {
            k: v for k, v in task.config.items() if k not in NOT_IDENTITY}
        return same and not rd.inspect().damaged and (task.until is None or task.until(task.run_dir))
    except Exception:  # noqa: BLE001 - anything odd: let the run itself look and say what is wrong
        return False


class ProgressWatcher:
    """Runs done, generations done, failures and the time left, read from the run directories (so it works
    for runs on other machines too); a bar on a terminal, a line every 10% or 30 s otherwise."""

    def __init__(self, tasks: Sequence[RunTask], where: str, show: bool):
        self.tasks = list(tasks)
        self.reported: set[str] = set()
        self.total = sum(t.generations for t in self.tasks)
        self.start_done = self.generations_done()
        self.runs_done = 0
        self.failures = 0
        self.where = where
        self.show = show
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def generations_done(self) -> int:
        # A reported run counts whole (its directory may be gone: a collect may discard it); the others are
        # read from their directories, so runs on other machines show progress too.
        return sum(t.generations if t.run_dir in self.reported else min(committed(t), t.generations)
                   for t in self.tasks)

    def line(self) -> str:
        done = self.generations_done()
        made = done - self.start_done
        elapsed = time.monotonic() - self.started
        left = ""
        if made > 0 and done < self.total:
            seconds = elapsed / made * (self.total - done)
            left = f", about {_duration(seconds)} left"
        failed = f", {self.failures} failed" if self.failures else ""
        return (f"{self.runs_done}/{len(self.tasks)} runs, {done}/{self.total} generations{failed}, "
                f"{_duration(elapsed)} elapsed{left}")

    def __enter__(self):
        if self.show:
            print(f"[lmcollapse] {len(self.tasks)} runs ({self.runs_done} already done) on {self.where}",
                  file=sys.stderr, flush=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self.show and exc[0] is None:
            print(f"[lmcollapse] {self.line()}", file=sys.stderr, flush=True)

    def _loop(self) -> None:
        terminal = sys.stderr.isatty()
        last_line, last_fraction = time.monotonic(), 0.0
        while not self._stop.wait(1.0 if terminal else 2.0):
            text = self.line()
            if terminal:
                print(f"\r[lmcollapse] {text}\x1b[K", end="", file=sys.stderr, flush=True)
                continue
            fraction = self.generations_done() / max(self.total, 1)
            if fraction - last_fraction >= 0.1 or time.monotonic() - last_line >= 30:
                print(f"[lmcollapse] {text}", file=sys.stderr, flush=True)
                last_line, last_fraction = time.monotonic(), fraction
        if terminal:
            print("\r\x1b[K", end="", file=sys.stderr, flush=True)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def run_tasks(tasks: Sequence[RunTask], executor: Executor, progress: bool = True) -> SweepOutcome:
    """Run what is not finished yet; RunInterrupted on Ctrl-C says how much is committed."""
    todo, done = [], []
    for t in tasks:
        (done if finished(t) else todo).append(t)
    result = SweepOutcome(list(tasks), skipped=len(done))
    for t in done:  # finished before: what a collect reads is read here
        if t.collect is not None:
            result.outcomes.append(RunOutcome(t.run_dir, True, value=t.collect(t.run_dir)))
    if not todo:
        return result
    watcher = ProgressWatcher(tasks, executor.start(len(todo)), progress)
    watcher.runs_done = result.skipped

    def report(outcome: RunOutcome) -> None:
        result.outcomes.append(outcome)
        watcher.runs_done += 1
        watcher.failures += not outcome.ok
        if outcome.ok:
            watcher.reported.add(outcome.run_dir)

    try:
        with watcher:
            executor.run(todo, report)
    except (KeyboardInterrupt, RunInterrupted):
        raise RunInterrupted(f"interrupted: {watcher.generations_done()} of {watcher.total} generations are "
                             f"committed over {len(tasks)} runs; runs in progress were abandoned; run the same "
                             f"command again to resume") from None
    return result
