"""Folders of many runs written by lmcollapse 0.3, before every multi-run was a sweep, and their upgrade.

0.3 wrote two formats: `run --seeds` (ROOT/seeds.json, ROOT/config.yaml, ROOT/seed-K/ and
ROOT/aggregate.jsonl) and `reproduce` (the same seed group once per variant, under OUT/A/B/). `upgrade`
turns either into a sweep folder in place: each seed's run directory is moved (never recomputed) to the
name the sweep gives its config, each seed group becomes a point tagged with its relative folder
("gpt/replace"), and sweep.json and the result tables are written. Running the study again with the same
--out then re-tags the points with the study's own labels; its runs are found done.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from lmcollapse.errors import LmcollapseError
from lmcollapse.running.readback import stored_config
from lmcollapse.running.rundir import RunDir
from lmcollapse.sweep.plan import plan, write_manifest
from lmcollapse.sweep.sweepdir import SweepDir
from lmcollapse.sweep.results import write_tables
from lmcollapse.sweep.spec import Axis, SweepSpec

SEEDS_MARKER = "seeds.json"  # 0.3's marker of a seed group
SEED_DIR = "seed-{}"
GROUP_FILES = ("aggregate.jsonl", SEEDS_MARKER)  # beside the group's config file; the marker goes last
DEPTH = 3  # how deep under a folder 0.3's reproduce put its seed groups (OUT/A/B)


def seed_groups(path: str | Path) -> list[Path]:
    """The 0.3 seed groups in path: path itself, or the ones below it (reproduce), in sorted order."""
    path = Path(path)
    if (path / SEEDS_MARKER).is_file():
        return [path]
    found = []
    for depth in range(1, DEPTH + 1):
        found += [p.parent for p in path.glob("/".join(["*"] * depth) + "/" + SEEDS_MARKER)]
    return sorted(found)


def legacy_kind(path: str | Path) -> str | None:
    """"--seeds" or "reproduce" for a 0.3 folder of many runs, else None."""
    groups = seed_groups(path)
    if not groups:
        return None
    return "--seeds" if groups == [Path(path)] else "reproduce"


def upgrade(path: str | Path) -> Path:
    """Convert the 0.3 folder at path into a sweep folder, in place; safe to run again after an interruption."""
    path = Path(path)
    groups = seed_groups(path)
    if not groups:
        raise LmcollapseError(f"{path} holds no folder of seeds written by lmcollapse 0.3 (no {SEEDS_MARKER}); "
                              f"nothing to upgrade")
    if SweepDir.is_sweep(path):  # an upgrade interrupted after every run was moved: only the cleanup is left
        _remove_groups(path, groups)
        return path
    values, tags, seeds = [], [], set()
    for group in groups:
        label = "." if group == path else group.relative_to(path).as_posix()
        group_seeds = json.loads((group / SEEDS_MARKER).read_text())["seeds"]
        config = stored_config(group).model_dump()
        config.pop("seed")
        values.append(config)
        tags.append({"group": label})
        seeds.update(group_seeds)
    single = groups == [path]
    axes = [] if single else [Axis("points", tuple(values), tuple(tags))]
    spec = SweepSpec(values[0] if single else {}, axes, sorted(seeds))
    the_plan = plan(spec, path)
    targets = {(t.point, t.seed): Path(t.run_dir) for t in the_plan.tasks}
    SweepDir(path).runs.mkdir(exist_ok=True)
    for index, group in enumerate(groups):
        for seed in json.loads((group / SEEDS_MARKER).read_text())["seeds"]:
            old, new = group / SEED_DIR.format(seed), targets[(0 if single else index, seed)]
            if not RunDir.is_run(old):
                continue  # moved already, or never started
            if RunDir.is_run(new):
                shutil.rmtree(old)  # two groups of one config: the same run twice
            else:
                old.rename(new)
    write_manifest(the_plan)  # only once every run is in place
    write_tables(path)
    _remove_groups(path, groups)
    return path


def _remove_groups(path: Path, groups: list[Path]) -> None:
    """The 0.3 files of each seed group, and the folders they leave empty."""
    for group in groups:
        RunDir(group).config_file.unlink(missing_ok=True)
        for name in GROUP_FILES:
            (group / name).unlink(missing_ok=True)
        if group != path:
            for leftover in [group, *group.parents]:
                if leftover == path or any(leftover.iterdir()):
                    break
                leftover.rmdir()
