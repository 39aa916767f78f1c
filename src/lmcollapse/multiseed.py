"""Several seeds of one config: run them (in parallel processes by default) and aggregate per generation.

Layout: ROOT/seeds.json (the seeds), ROOT/config.yaml, ROOT/seed-K/ (an ordinary run directory each, so
every seed resumes on its own) and ROOT/aggregate.jsonl (per generation and metric: mean over the seeds
and a Student-t 95% confidence interval, NAME_lo / NAME_hi, and NAME_n seeds).
"""
from __future__ import annotations

import json
import multiprocessing
import os
import signal
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .config import Config, to_yaml, validate
from .errors import LmcollapseError, RunInterrupted
from .rundir import RunDir
from .metrics.resampling import CI_LEVEL
from .stats import t_quantile

MARKER = "seeds.json"


def parse_seeds(text: str) -> list[int]:
    """'0-9', '1,4,7' or '0-4,10' -> sorted distinct seeds."""
    seeds: set[int] = set()
    try:
        for part in text.split(","):
            part = part.strip()
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if hi < lo:
                    raise ValueError
                seeds.update(range(lo, hi + 1))
            elif part:
                seeds.add(int(part))
    except ValueError:
        raise LmcollapseError(f"--seeds {text!r}: write seeds like 0-9, 1,4,7 or 0-4,10 (non-negative integers)") from None
    if not seeds or min(seeds) < 0:
        raise LmcollapseError(f"--seeds {text!r}: give at least one non-negative seed")
    return sorted(seeds)


def is_multiseed(path: str | Path) -> bool:
    return (Path(path) / MARKER).is_file()


def seed_dirs(root: str | Path) -> list[Path]:
    info = json.loads((Path(root) / MARKER).read_text())
    return [Path(root) / f"seed-{s}" for s in info["seeds"]]


# In a pool worker: whether it is inside a run now, whether it has been interrupted, and the pool's stop
# event (set by the parent before it signals anyone).
_running = False
_interrupted = False
_stop_event = None


def _worker_start(stop_event) -> None:
    """Pool workers: Ctrl-C interrupts a run (which says where it stopped), once: later signals do not cut
    the run's cleanup short, and an interrupted worker starts no other run. An idle worker leaves quietly
    instead of printing multiprocessing's traceback."""
    global _stop_event
    _stop_event = stop_event

    def on_interrupt(signum, frame):
        global _interrupted
        if _interrupted:
            return
        _interrupted = True
        if _running:
            raise KeyboardInterrupt
        os._exit(130)

    signal.signal(signal.SIGINT, on_interrupt)


def _run_one(config_data: dict, out_dir: str, threads: int | None = None) -> str:
    global _running
    from .runner import execute

    # A run handed to a worker's queue cannot be cancelled from the parent: the worker refuses it instead.
    if _interrupted or (_stop_event is not None and _stop_event.is_set()):
        raise RunInterrupted(f"{out_dir} was not started: the runs were interrupted")

    if threads is not None and config_data["model"]["name"] != "ngram":  # neural backends use torch threads
        import torch

        torch.set_num_threads(threads)  # workers share the cores instead of each taking all of them
    _running = True
    try:
        execute(validate(config_data), out_dir, progress=False)
    finally:
        _running = False
    return out_dir


def run_seeds(config: Config, seeds: list[int], root: str | Path, workers: int | None = None,
              progress: bool = True) -> Path:
    """Run (or resume) every seed under root, then write aggregate.jsonl. workers=1: one after another."""
    return run_groups([(config, seeds, Path(root))], workers=workers, progress=progress)[0]


def _prepare_root(config: Config, seeds: list[int], root: Path) -> list[int]:
    root.mkdir(parents=True, exist_ok=True)
    marker = root / MARKER
    if marker.is_file():
        seeds = sorted(set(json.loads(marker.read_text())["seeds"]) | set(seeds))
    marker.write_text(json.dumps({"seeds": seeds}))
    (root / "config.yaml").write_text(to_yaml(config))
    return seeds


def run_groups(groups: list[tuple[Config, list[int], Path]], workers: int | None = None,
               progress: bool = True) -> list[Path]:
    """Several (config, seeds, root) groups in one pool of processes (a sweep), each root aggregated."""
    jobs = []  # (config data, run directory, root)
    for config, seeds, root in groups:
        root = Path(root)
        for s in _prepare_root(config, seeds, root):
            jobs.append((config.model_copy(update={"seed": s}).model_dump(), root / f"seed-{s}", root))
    workers = workers or min(len(jobs), multiprocessing.cpu_count())
    total = sum(j[0]["generations"] for j in jobs)
    run_dirs = [j[1] for j in jobs]
    if workers == 1:
        for data, out_dir, _ in jobs:
            _run_one(data, str(out_dir))
            if progress:
                print(f"[lmcollapse] {out_dir} done ({_done_generations(run_dirs)}/{total} generations)",
                      file=sys.stderr, flush=True)
    else:
        # spawn: a fresh interpreter per worker, safe with torch and threads in the parent
        context = multiprocessing.get_context("spawn")
        stop_event = context.Event()
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_worker_start,
                                 initargs=(stop_event,)) as pool:
            threads = max(1, multiprocessing.cpu_count() // workers)
            futures = [pool.submit(_run_one, data, str(out_dir), threads) for data, out_dir, _ in jobs]
            try:
                _watch(run_dirs, total, futures, progress)
                for f in futures:
                    f.result()  # re-raise the first failure (one line, from the worker)
            except (KeyboardInterrupt, RunInterrupted):
                _stop(pool, futures, stop_event)
                roots = ", ".join(dict.fromkeys(str(root) for _, _, root in groups))
                raise RunInterrupted(f"interrupted: {_done_generations(run_dirs)} of {total} generations are committed "
                                     f"under {roots}; runs in progress were abandoned; run the same command again "
                                     f"to resume") from None
    roots = list(dict.fromkeys(Path(root) for _, _, root in groups))
    for root in roots:
        aggregate(root)
    return roots


def _stop(pool: ProcessPoolExecutor, futures, stop_event, patience: float = 60.0) -> None:
    """Stop a pool after Ctrl-C: no worker starts another run (the event is set before anyone is signalled),
    the runs not yet handed out are dropped, the running ones are interrupted (a terminal sends them SIGINT
    itself, `kill -INT` only this process), and the workers are waited for."""
    stop_event.set()
    for future in futures:
        future.cancel()
    pool.shutdown(wait=False, cancel_futures=True)
    for child in multiprocessing.active_children():
        try:
            os.kill(child.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + patience
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)


def _done_generations(run_dirs: list[Path]) -> int:
    return sum(len(RunDir(d).read_metrics_jsonl()) for d in run_dirs)


def _watch(run_dirs: list[Path], total: int, futures, progress: bool) -> None:
    """A progress bar fed by the seeds' metrics files (the workers themselves stay quiet)."""
    bar = None
    if progress and sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("[bold]generations (all runs)"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       transient=True)
        task = bar.add_task("", total=total)
        bar.start()
    reported = -total
    try:
        while True:
            finished = all(f.done() for f in futures)
            done = _done_generations(run_dirs)
            if bar is not None:
                bar.update(task, completed=done)
            elif progress and (done - reported >= max(total // 10, 1) or (finished and done != reported)):
                print(f"[lmcollapse] {done}/{total} generations done (all runs)", file=sys.stderr, flush=True)
                reported = done
            if finished:
                break
            time.sleep(0.5)
    finally:
        if bar is not None:
            bar.stop()


def metric_matrix(per_seed: list[list[dict]], metric: str) -> np.ndarray:
    """(seeds, generations) of one metric from each seed's rows; NaN where a seed has no value."""
    generations = max(len(rows) for rows in per_seed)
    values = np.full((len(per_seed), generations), np.nan)
    for s, rows in enumerate(per_seed):
        for r in rows:
            if r.get(metric) is not None:
                values[s, r["generation"]] = r[metric]
    return values


def seed_rows(root: str | Path) -> list[list[dict]]:
    """Each seed's rows, from its intact committed generations (the source of truth)."""
    return [RunDir(d).metrics_rows(RunDir(d).committed()) for d in seed_dirs(root)]


def aggregate_rows(per_seed: list[list[dict]], level: float = CI_LEVEL) -> list[dict]:
    """Per generation: mean over seeds and Student-t interval of each metric (NAME, NAME_lo, NAME_hi, NAME_n)."""
    generations = max((len(rows) for rows in per_seed), default=0)
    names = sorted({k for rows in per_seed for r in rows for k in r
                    if k != "generation" and not k.endswith(("_lo", "_hi"))})
    out = []
    for t in range(generations):
        row: dict = {"generation": t}
        for name in names:
            values = np.array([rows[t][name] for rows in per_seed
                               if len(rows) > t and rows[t].get(name) is not None], dtype=np.float64)
            if len(values) == 0:
                continue
            row[name] = float(values.mean())
            row[f"{name}_n"] = len(values)
            if len(values) >= 2:
                half = t_quantile(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
                row[f"{name}_lo"], row[f"{name}_hi"] = row[name] - half, row[name] + half
        out.append(row)
    return out


def aggregate(root: str | Path) -> list[dict]:
    rows = aggregate_rows(seed_rows(root))
    (Path(root) / "aggregate.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows
