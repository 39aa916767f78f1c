"""Run a list of tasks on an executor: skip the finished ones, show progress, collect failures.

Every multi-run command goes through here (`sweep`, `run --seeds`, `reproduce`), so each takes any
executor, resumes only what is missing, and lets one failing run leave the others alone.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from lmcollapse.running import loop as runner
from lmcollapse.config import validate
from lmcollapse.errors import RunInterrupted
from lmcollapse.running.rundir import RunDir
from lmcollapse.sweep.cost import generation_estimates, longest_first
from lmcollapse.sweep.executors import Executor
from lmcollapse.sweep.task import RunOutcome, RunTask


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
    """Whether the task's run is complete and intact with this very config (runner.finished, the one test of
    that) and its stop rule, if any, holds: nothing to do."""
    try:
        return runner.finished(validate(task.config), RunDir(task.run_dir)) and (
            task.until is None or task.until(task.run_dir))
    except Exception:  # noqa: BLE001 - anything odd: let the run itself look and say what is wrong
        return False


class WorkClock:
    """The time left to a sweep, weighing each generation by what it costs.

    Generations are not alike: in `reproduce paper --scale cpu-large` a GPT generation takes minutes and a
    count-model one under a second, so counting generations alone forecast 8 hours for 2.5. Each generation
    has a prior cost (cost.py: the model's work estimate, on a training set that grows under accumulate);
    each generation committed while the watch runs has its process-seconds read from its manifest (earlier
    ones are not read: a resumed run may hold thousands). A kind of model's generations left cost their
    priors times that kind's measured-to-prior ratio so far (the ratio of all kinds timed, for a kind not
    timed yet), and that work is turned into wall time at the rate work was done since the watch began
    (which counts the workers, and their neighbours on the machine)."""

    def __init__(self, tasks: Sequence[RunTask]):
        self.tasks = list(tasks)
        self.prior = {t.run_dir: generation_estimates(t) for t in self.tasks}
        # run_dir -> (generations committed, seconds of those committed since the watch began)
        self.read = {t.run_dir: (min(committed(t), t.generations), 0.0) for t in self.tasks}
        self.start = {run_dir: timed for run_dir, (timed, _) in self.read.items()}

    @staticmethod
    def kind(task: RunTask) -> str:
        return str((task.config.get("model") or {}).get("name", ""))

    def _update(self, task: RunTask) -> None:
        timed, seconds = self.read[task.run_dir]
        rd = RunDir(task.run_dir)
        for t in range(timed, min(committed(task), task.generations)):
            try:
                seconds += rd.generation(t).read_manifest().work_seconds
            except (OSError, ValueError):
                break  # not written yet, or gone with a collect: read again later
            timed = t + 1
        self.read[task.run_dir] = (timed, seconds)

    def wall_seconds_left(self, elapsed: float, reported: set[str]) -> float | None:
        """Wall seconds until every task is done (those in `reported` are), or None without generations
        timed since the watch began."""
        for task in self.tasks:
            if self.read[task.run_dir][0] < task.generations:  # a run read to its end is not read again
                self._update(task)
        made = sum(seconds for _, seconds in self.read.values())
        if made <= 0 or elapsed <= 0:
            return None
        by_kind: dict[str, list[float]] = {}  # kind -> [measured seconds, prior seconds] of the timed generations
        for task in self.tasks:
            timed, seconds = self.read[task.run_dir]
            if timed > self.start[task.run_dir]:
                totals = by_kind.setdefault(self.kind(task), [0.0, 0.0])
                totals[0] += seconds
                totals[1] += sum(self.prior[task.run_dir][self.start[task.run_dir]:timed])
        overall = sum(m for m, _ in by_kind.values()) / max(sum(p for _, p in by_kind.values()), 1e-12)
        ratio = {kind: m / p if p > 0 else overall for kind, (m, p) in by_kind.items()}
        work_left = sum(sum(self.prior[task.run_dir][self.read[task.run_dir][0]:]) * ratio.get(self.kind(task), overall)
                        for task in self.tasks if task.run_dir not in reported)
        return work_left * elapsed / made


@dataclass(frozen=True)
class ExpectedEnd:
    """Runs that stop with an error that is a result of the study, not a failure (a mitigation whose gates
    pass no document has failed as a mitigation): the progress line counts them under their own label."""

    applies: Callable[[RunOutcome], bool]
    label: str  # e.g. "starved by their gates"


class ProgressWatcher:
    """Runs done, generations done, failures and the time left, read from the run directories (so it works
    for runs on other machines too); a bar on a terminal, a line every 10% or 30 s otherwise."""

    def __init__(self, tasks: Sequence[RunTask], where: str, show: bool, expected_end: ExpectedEnd | None = None):
        self.tasks = list(tasks)
        self.reported: set[str] = set()
        self.total = sum(t.generations for t in self.tasks)
        self.start_done = self.generations_done()
        self.runs_done = 0
        self.failures = 0
        self.ended = 0  # runs that stopped as expected_end says a run may
        self.expected_end = expected_end
        self.where = where
        self.show = show
        self.started = time.monotonic()
        self.work = WorkClock(self.tasks)
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
        if any(task.until is not None for task in self.tasks):
            # a run extended until a condition holds (theory check) has no known length: an estimate from its
            # initial length is no estimate (0.4.0 said "about 1 h 26 min left" for a job of 42 s)
            left = ", runs of unknown length: no time estimate"
        elif made > 0 and done < self.total:
            seconds = self.work.wall_seconds_left(elapsed, self.reported)
            if seconds is None:  # no timings to go by: every generation counted alike
                seconds = elapsed / made * (self.total - done)
            left = f", about {_duration(seconds)} left"
        failed = f", {self.failures} failed" if self.failures else ""
        if self.ended:
            failed += f", {self.ended} {self.expected_end.label}"
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


def run_tasks(tasks: Sequence[RunTask], executor: Executor, progress: bool = True,
              expected_end: ExpectedEnd | None = None) -> SweepOutcome:
    """Run what is not finished yet; RunInterrupted on Ctrl-C says how much is committed. expected_end: the
    runs whose error is a result (counted apart from failures in the progress line)."""
    todo, done = [], []
    for t in tasks:
        (done if finished(t) else todo).append(t)
    result = SweepOutcome(list(tasks), skipped=len(done))
    for t in done:  # finished before: what a collect reads is read here
        if t.collect is not None:
            result.outcomes.append(RunOutcome(t.run_dir, True, value=t.collect(t.run_dir)))
    if not todo:
        return result
    # longest first: a long run started last would leave the other workers idle at the end (cost.py)
    todo = longest_first(todo, {t.run_dir: committed(t) for t in todo})
    watcher = ProgressWatcher(tasks, executor.start(len(todo)), progress, expected_end)
    watcher.runs_done = result.skipped

    def report(outcome: RunOutcome) -> None:
        result.outcomes.append(outcome)
        watcher.runs_done += 1
        if not outcome.ok and expected_end is not None and expected_end.applies(outcome):
            watcher.ended += 1
        else:
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
