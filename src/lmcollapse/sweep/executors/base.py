"""The executor contract: run a list of tasks somewhere, report each outcome as it comes.

An executor decides only *where* runs happen (a local process pool, a Ray cluster); what a run does,
how it resumes and where its results go are the task's and the run directory's business, so every
executor gives the same numbers.
"""
from __future__ import annotations

import abc
from typing import Callable, ClassVar, Sequence

from lmcollapse.registry import Registry
from lmcollapse.sweep.task import RunOutcome, RunTask


class Executor(abc.ABC):
    """Built from its section (declared beside each executor) by EXECUTORS.build."""

    name: ClassVar[str]
    config_class: ClassVar[type]

    def __init__(self, config=None):
        self.config = self.config_class() if config is None else config

    @abc.abstractmethod
    def start(self, n_tasks: int) -> str:
        """Get ready for n_tasks runs (size a pool, connect to a cluster, check its storage) and say in one
        line where they will go. A problem here is an LmcollapseError, before any run starts."""

    @abc.abstractmethod
    def run(self, tasks: Sequence[RunTask], report: Callable[[RunOutcome], None]) -> None:
        """Run every task and call report(outcome) in the calling thread as each one ends. A failing run is
        an outcome (ok=False), never an exception. On Ctrl-C: start nothing more, stop the runs in
        progress (their committed generations stay), then raise RunInterrupted."""


EXECUTORS = Registry("executor", Executor)
