"""Planning a sweep: every (point, seed) as a run task named by its config, the manifest (sweep.json) that
records them, and the rule that an existing folder may only gain points or seeds. Every multi-run command
writes this format: `sweep`, `run --seeds` (a sweep of one point) and `reproduce` (a study: a sweep whose
points are tagged, plus an analysis of its results). The folder's files are named in sweepdir.py.

A run directory is named by a hash of its resolved config (rundir.run_dir_name), so the same run is never
computed twice, whichever point asks for it. On an existing OUT a spec may only add points or seeds:
anything the folder holds that the new spec drops or changes is refused before anything runs.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lmcollapse.errors import LmcollapseError
from lmcollapse.running.rundir import RunDir, write_text_if_changed
from lmcollapse.version import __version__
from lmcollapse.sweep.spec import Point, SweepSpec, point_config
from lmcollapse.sweep.sweepdir import SweepDir
from lmcollapse.sweep.task import RunTask

FORMAT = 1


@dataclass
class SweepPlan:
    out: Path
    spec: SweepSpec
    points: list[Point]
    tasks: list[RunTask]

    @property
    def runs(self) -> list[dict]:
        return [{"point": t.point, "seed": t.seed, "dir": str(Path(t.run_dir).relative_to(self.out))}
                for t in self.tasks]

    def manifest(self) -> dict:
        return {"format": FORMAT, "lmcollapse_version": __version__, "base": self.spec.base,
                **self.spec.describe(), "varied": self.spec.varied_keys, "tag_columns": self.spec.tag_columns,
                "points": [{"index": p.index, "label": p.label, "values": p.values, "tags": p.tags}
                           for p in self.points],
                "runs": self.runs}


def is_sweep(path: str | Path) -> bool:
    return SweepDir.is_sweep(path)


def read_manifest(out: str | Path) -> dict:
    path = SweepDir(out).manifest_file
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        raise LmcollapseError(f"{path} is damaged or unreadable; restore it, or run the sweep again with its spec "
                              f"(--out {out}) to rewrite it") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise LmcollapseError(f"{out} holds a sweep of another format; use a matching lmcollapse or a new --out")
    return manifest


def plan(spec: SweepSpec, out: str | Path) -> SweepPlan:
    """Every (point, seed) as a task, each config checked (one line naming the axis on a problem)."""
    out = Path(out)
    points = spec.points()
    tasks = []
    for point in points:
        for seed in spec.seeds:
            config = point_config(spec, point, seed)
            run_dir = RunDir.for_config(config, root=SweepDir(out).runs).path
            tasks.append(RunTask(config.model_dump(), str(run_dir), point.index, seed, point.values, label=point.label,
                                 group=out.name))
    return SweepPlan(out, spec, points, tasks)


def check_extends(plan_: SweepPlan) -> None:
    """On an existing OUT: the new spec must keep every run the folder was asked for (it may add some)."""
    if not is_sweep(plan_.out):
        if RunDir.is_run(plan_.out):
            raise LmcollapseError(f"--out {plan_.out} holds a single run, not a sweep (its seeds or points would hide "
                                  f"it); choose a new --out")
        if plan_.out.exists() and any(plan_.out.iterdir()):
            raise LmcollapseError(f"--out {plan_.out} is a folder that holds something other than a sweep; choose an "
                                  f"empty or new folder")
        return
    old = read_manifest(plan_.out)
    # A study's folder is its own; a folder that names none (a sweep, or one written before sweep.json named
    # its study, as 0.4.0 and `upgrade` wrote them) may be taken over by a study whose runs it holds.
    if old.get("study") not in (None, plan_.spec.study):
        what = lambda study: f"the {study} study" if study else "a sweep"  # noqa: E731
        raise LmcollapseError(f"--out {plan_.out} holds {what(old['study'])}, not {what(plan_.spec.study)}; choose a "
                              f"new --out")
    new_dirs = {r["dir"] for r in plan_.runs}
    dropped = [r for r in old.get("runs", []) if r["dir"] not in new_dirs]
    if dropped:
        labels = {p["index"]: p["label"] for p in old.get("points", [])}
        first = dropped[0]
        raise LmcollapseError(f"--out {plan_.out} holds a sweep this spec changes: its run of point "
                              f"{labels.get(first['point'], first['point'])!r}, seed {first['seed']} is not in the "
                              f"new spec ({len(dropped)} such runs; a run's folder is named by its whole config, so "
                              f"a changed value, or another --bases, names other runs); a sweep may only gain points "
                              f"or seeds: keep the old spec's axes and values, or choose a new --out")


def write_manifest(plan_: SweepPlan) -> bool:
    """sweep.json for the plan, unless the folder already holds it; whether it wrote."""
    text = json.dumps(plan_.manifest(), indent=1, default=str) + "\n"
    if not plan_.out.exists():
        plan_.out.mkdir(parents=True)
    return write_text_if_changed(SweepDir(plan_.out).manifest_file, text)
