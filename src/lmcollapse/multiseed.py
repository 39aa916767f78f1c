"""Several seeds of one config: run them (in parallel processes by default) and aggregate per generation.

Layout: ROOT/seeds.json (the seeds), ROOT/config.yaml, ROOT/seed-K/ (an ordinary run directory each, so
every seed resumes on its own) and ROOT/aggregate.jsonl (per generation and metric: mean over the seeds
and a Student-t 95% confidence interval, NAME_lo / NAME_hi, and NAME_n seeds).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .config import Config, to_yaml
from .errors import LmcollapseError
from .rundir import RunDir
from .aggregation import aggregate_rows, metric_matrix  # noqa: F401 - part of this module's interface
from .sweep.spec import parse_seeds  # noqa: F401 - part of this module's interface

MARKER = "seeds.json"


def is_multiseed(path: str | Path) -> bool:
    return (Path(path) / MARKER).is_file()


def seed_dirs(root: str | Path) -> list[Path]:
    info = json.loads((Path(root) / MARKER).read_text())
    return [Path(root) / f"seed-{s}" for s in info["seeds"]]


def run_seeds(config: Config, seeds: list[int], root: str | Path, workers: int | None = None,
              progress: bool = True, executor=None) -> Path:
    """Run (or resume) every seed under root, then write aggregate.jsonl. workers=1: one after another."""
    return run_groups([(config, seeds, Path(root))], workers=workers, progress=progress, executor=executor)[0]


def _prepare_root(config: Config, seeds: list[int], root: Path) -> list[int]:
    root.mkdir(parents=True, exist_ok=True)
    marker = root / MARKER
    if marker.is_file():
        seeds = sorted(set(json.loads(marker.read_text())["seeds"]) | set(seeds))
    marker.write_text(json.dumps({"seeds": seeds}))
    (root / "config.yaml").write_text(to_yaml(config))
    return seeds


def run_groups(groups: list[tuple[Config, list[int], Path]], workers: int | None = None,
               progress: bool = True, executor=None) -> list[Path]:
    """Several (config, seeds, root) groups through the sweep engine (a local pool of `workers` unless an
    executor is given), each root aggregated. Failed runs do not stop the others: they are listed in one
    LmcollapseError at the end, and running again retries only them."""
    from .sweep import make_executor, run_tasks
    from .sweep.task import RunTask

    tasks = []
    for index, (config, seeds, root) in enumerate(groups):
        root = Path(root)
        for s in _prepare_root(config, seeds, root):
            tasks.append(RunTask(config.model_copy(update={"seed": s}).model_dump(), str(root / f"seed-{s}"), index, s))
    outcome = run_tasks(tasks, executor or make_executor("local", workers=workers), progress=progress)
    roots = list(dict.fromkeys(Path(root) for _, _, root in groups))
    for root in roots:
        aggregate(root)
    if outcome.failures:
        print("\n".join(outcome.failure_report()), file=sys.stderr, flush=True)
        first = outcome.failures[0]
        raise LmcollapseError(f"{len(outcome.failures)} of {len(outcome.outcomes)} runs failed (the others are done; "
                              f"run the same command again to retry only these); first: {first.run_dir}: {first.error}")
    return roots


def seed_rows(root: str | Path) -> list[list[dict]]:
    """Each seed's rows, from its intact committed generations (the source of truth)."""
    return [RunDir(d).intact_rows() for d in seed_dirs(root)]


def aggregate(root: str | Path) -> list[dict]:
    rows = aggregate_rows(seed_rows(root))
    (Path(root) / "aggregate.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows
