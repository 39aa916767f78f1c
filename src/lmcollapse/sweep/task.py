"""One run of a sweep, and what came of it: the unit every executor schedules.

A task carries its resolved config as plain data and its run directory, so it can be pickled to a pool
worker or shipped to a Ray node; running it is `runner.execute`, which resumes the directory from its
last committed generation. That is what makes a killed sweep, or a run retried on another node, end
with the numbers of an uninterrupted one.
"""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

from lmcollapse import plugins
from lmcollapse.config import validate
from lmcollapse.errors import LmcollapseError, RunDirBusy, RunInterrupted
from lmcollapse.models import MODELS
from lmcollapse.running.loop import execute

# How long a run waits for its directory's lock before it counts as busy: a run retried after its node
# died may find the lock still held for a moment by the dying worker on shared storage.
LOCK_PATIENCE_S = 60.0


@dataclass(frozen=True)
class RunTask:
    config: dict  # the resolved config, Config.model_dump()
    run_dir: str
    point: int = 0  # index of the sweep point
    seed: int = 0
    values: dict[str, Any] = field(default_factory=dict)  # the point's varied keys
    label: str = ""  # the point's label, for messages ("model.order=3", "gpt replace")
    # Called with the run directory where the run ran, once it is done; its return value comes back in the
    # outcome. For callers that need more than the files (the theory check reads every generation's model
    # there, in parallel, instead of in the parent). A module-level function, so that it pickles.
    collect: Callable[[str], Any] | None = None
    # The user's plugins loaded where the task was planned (plugins.py): a worker imports them first.
    plugins: tuple[str, ...] = field(default_factory=plugins.loaded)
    group: str | None = None  # the sweep folder's name: what experiment trackers group the run under
    # For a run whose length is not known in advance (the theory check runs until one token is left): a
    # module-level predicate on the run directory. While it is false the run is extended by half its
    # length again (raising `generations` resumes a run), up to max_generations; the numbers do not
    # depend on the steps taken, since a resumed run equals an uninterrupted one.
    until: Callable[[str], bool] | None = None
    max_generations: int | None = None

    @property
    def generations(self) -> int:
        return int(self.config["generations"])

    @property
    def uses_torch(self) -> bool:
        """Whether the run's model trains with PyTorch (as the model class declares; plugins loaded first)."""
        return "torch" in MODELS.get(self.config["model"]["name"]).requires


@dataclass(frozen=True)
class RunOutcome:
    run_dir: str
    ok: bool
    error: str | None = None  # one line, when not ok
    seconds: float = 0.0
    node: str | None = None  # where it ran (Ray), for the failure list
    value: Any = None  # what task.collect returned


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, LmcollapseError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def execute_task(task: RunTask, threads: int | None = None, node: str | None = None) -> RunOutcome:
    """Run (or resume) one task; a failure is an outcome, not an exception, so the sweep goes on.

    threads: the CPU threads this run may use (the pool shares the cores out among its workers).
    Ctrl-C is not a failure: RunInterrupted and KeyboardInterrupt propagate.
    """

    start = time.perf_counter()
    try:
        plugins.load_all(task.plugins)  # in a worker, before the config names what they register
        if threads is not None and task.uses_torch:
            import torch

            torch.set_num_threads(threads)
        _execute_patiently(task, task.config)
        config = task.config
        while task.until is not None and not task.until(task.run_dir):
            config = {**config, "generations": extended_length(config["generations"])}
            if task.max_generations is not None and config["generations"] > task.max_generations:
                raise LmcollapseError(f"{task.run_dir}: its stop rule did not hold within {task.max_generations} "
                                      "generations; raise max_generations")
            _execute_patiently(task, config)
        value = task.collect(task.run_dir) if task.collect is not None else None
    except (KeyboardInterrupt, RunInterrupted):
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of one run is reported, the others go on
        return RunOutcome(task.run_dir, False, one_line(exc), time.perf_counter() - start, node)
    return RunOutcome(task.run_dir, True, None, time.perf_counter() - start, node, value)


def extended_length(generations: int) -> int:
    """The next length of a run extended until its stop rule holds: half as long again."""
    return generations + max(1, generations // 2)


def _execute_patiently(task: RunTask, config: dict) -> None:
    """Run or resume task's directory to config's generations, waiting out a lock a dying worker still holds."""
    deadline = time.monotonic() + LOCK_PATIENCE_S
    while True:
        try:
            execute(validate(config), task.run_dir, progress=False, group=task.group, values=task.values)
            return
        except RunDirBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def thread_environment(threads: int):
    """Within the block, processes started from this one cap their numeric libraries' thread pools at
    `threads` (the libraries read these variables when they load, so they must be set before a worker
    starts, not inside it)."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    os.environ.update({name: str(threads) for name in THREAD_VARIABLES})
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
