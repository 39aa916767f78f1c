"""Experiment trackers: each generation's metrics also go to the tools a lab already compares runs in.

The run directory stays the record; a tracker is a copy. A tracker that cannot start or log (not installed,
a server that does not answer) costs one warning and the run goes on. Every tracker implements the
Tracker contract; TRACKERS enforces it. What a tracker is told:
- start(): once per invocation of a run, with the resolved config as parameters (dotted keys), the run
  directory as a tag, a name and a group (the sweep folder's name for a run of a sweep, with the point's
  varied keys among the parameters), and the id it returned the last time, so that a resumed run logs to
  the same tracked run; it returns the id to remember (trackers.json in the run directory);
- log(): each generation the run commits, with the generation as the step: values and interval ends;
- finish(): when the run stops, finished or not.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import ClassVar

from lmcollapse.registry import Registry


@dataclass
class TrackedRun:
    run_dir: str
    name: str  # the run directory's name
    group: str | None  # the sweep folder's name, for a run of a sweep
    params: dict[str, str]  # the resolved config as dotted keys (and the point's varied keys)
    previous_id: str | None = None  # what start() returned when this run was tracked before
    tags: dict[str, str] = field(default_factory=dict)


class Tracker(abc.ABC):
    name: ClassVar[str]
    module: ClassVar[str]  # the library it needs (extras.py names the extra that installs it)

    @abc.abstractmethod
    def start(self, run: TrackedRun) -> str | None:
        """Open (or reopen) the tracked run; the id to reopen it with next time."""

    @abc.abstractmethod
    def log(self, generation: int, values: dict[str, float]) -> None:
        """One generation's metrics, the generation as the step."""

    @abc.abstractmethod
    def finish(self) -> None:
        """Close the tracked run (the run stopped, finished or not)."""


TRACKERS = Registry("tracker", contract=Tracker)
