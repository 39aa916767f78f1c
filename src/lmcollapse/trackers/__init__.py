"""Experiment trackers (MLflow, TensorBoard, W&B): see base.py for the contract and what they are told."""
from __future__ import annotations

import dataclasses
import json
from typing import Callable

from lmcollapse.extras import installed
from lmcollapse.trackers import mlflow, tensorboard, wandb  # noqa: F401  (each registers its tracker)
from lmcollapse.trackers.base import TRACKERS, TrackedRun, Tracker

__all__ = ["TRACKERS", "TrackedRun", "Tracker", "TrackerSet", "open_trackers", "flat_params"]

EXTRA = {"mlflow": "mlflow", "tensorboard": "tensorboard", "wandb": "wandb"}  # tracker -> the extra installing it


def flat_params(data, prefix: str = "") -> dict[str, str]:
    """A nested config as dotted keys -> text, as trackers show parameters."""
    out = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(flat_params(value, f"{prefix}{key}."))
    else:
        out[prefix.rstrip(".")] = json.dumps(data) if isinstance(data, (list, tuple)) else str(data)
    return out


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:200]}" if text else type(exc).__name__


class TrackerSet:
    """The trackers a run logs to; each one that fails is dropped with a one-line warning."""

    def __init__(self, trackers: list[Tracker], warn: Callable[[str], None]):
        self.trackers, self.warn = trackers, warn

    def _each(self, what: str, call) -> None:
        for tracker in list(self.trackers):
            try:
                call(tracker)
            except Exception as exc:  # noqa: BLE001 - a tracker's failure never stops the run
                self.warn(f"warning: tracker {tracker.name} could not {what} ({_first_line(exc)}); the run goes on, "
                          f"its directory holds every number")
                self.trackers.remove(tracker)

    def log(self, generation: int, row: dict) -> None:
        values = {k: float(v) for k, v in row.items()
                  if k != "generation" and isinstance(v, (int, float)) and not isinstance(v, bool) and v == v}
        self._each("log generation %d" % generation, lambda t: t.log(generation, values))

    def finish(self) -> None:
        self._each("finish", lambda t: t.finish())


def not_installed_note(name: str) -> str:
    return (f"warning: tracker {name} is not installed (pip install 'lmcollapse[{EXTRA[name]}]'); the run goes on "
            f"without it")


def drop_missing(tasks: list, warn: Callable[[str], None]) -> list:
    """The sweep's run tasks without the trackers that are not installed, each said once here rather than once
    per run by every worker (a study of 72 runs warned 72 times). Trackers are not part of a run's identity,
    so the runs keep their directories."""
    missing = sorted({name for task in tasks for name in task.config.get("trackers") or []
                      if name in TRACKERS and not installed(TRACKERS.get(name).module)})
    if not missing:
        return list(tasks)
    for name in missing:
        warn(not_installed_note(name).replace("the run goes on", f"the {len(tasks)} runs go on"))
    return [dataclasses.replace(task, config={**task.config, "trackers": [
        n for n in task.config.get("trackers") or [] if n not in missing]}) for task in tasks]


def open_trackers(names: list[str], rd, config_data: dict, warn: Callable[[str], None], group: str | None = None,
                  values: dict | None = None) -> TrackerSet:
    """Start the named trackers for run directory rd (ids of earlier invocations from its trackers.json)."""
    ids = json.loads(rd.tracker_file.read_text()) if rd.tracker_file.is_file() else {}
    params = flat_params(config_data) | {f"point.{k}": str(v) for k, v in (values or {}).items()}
    started = []
    for name in names:
        cls = TRACKERS.get(name)
        if not installed(cls.module):
            warn(not_installed_note(name))
            continue
        tracker = cls()
        run = TrackedRun(str(rd.path), rd.path.name, group, params, ids.get(name), {"lmcollapse.run_dir": str(rd.path)})
        try:
            ids[name] = tracker.start(run)
        except Exception as exc:  # noqa: BLE001 - an unreachable server, a bad URI: a warning
            warn(f"warning: tracker {name} could not start ({_first_line(exc)}); the run goes on without it")
            continue
        started.append(tracker)
    if started:
        rd.tracker_file.write_text(json.dumps(ids, indent=1))
    return TrackerSet(started, warn)
