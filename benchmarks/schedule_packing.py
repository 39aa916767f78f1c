"""How long a finished study would have taken on W workers in 0.4's run order and in longest-first order (P20 item 5).

    python benchmarks/schedule_packing.py OUT [--workers 2]

OUT is a study or sweep folder whose runs are done. Each run's cost is what it measured: the process-seconds
in its generations' manifests (a fine-tuning row's base pretraining, done before its runs, is not a run's).
Both orders are played on W workers, each taking the next run in the order when it is free (what the local
pool does): 0.4's order (the first run of each kind of model first, then the spec's order) and 0.5's (the
longest first by the prior estimate, sweep/cost.py, which is all a study knows before its runs start).
Printed: each order's finishing time, their ratio, the lower bound no order can beat (the larger of the
total over W and the longest run), and how well the prior ranks the runs (Spearman's rho against the measured
costs). A simulation from measured costs, not a second run: the runs' costs do not depend on their order.
"""
from __future__ import annotations

import argparse
import heapq
from pathlib import Path

from scipy.stats import spearmanr

from lmcollapse.errors import LmcollapseError
from lmcollapse.running.readback import stored_config
from lmcollapse.running.rundir import RunDir
from lmcollapse.sweep.cost import longest_first, run_estimate
from lmcollapse.sweep.plan import read_manifest
from lmcollapse.sweep.task import RunTask


def finishing_time(order: list[RunTask], cost: dict[str, float], workers: int) -> float:
    free = [0.0] * workers  # when each worker is next free
    for task in order:
        heapq.heappush(free, heapq.heappop(free) + cost[task.run_dir])
    return max(free)


def kinds_first(tasks: list[RunTask]) -> list[RunTask]:
    """0.4's order: the first run of each kind of model, then the rest as given."""
    seen: set[str] = set()
    first, rest = [], []
    for task in tasks:
        kind = task.config["model"]["name"]
        (rest if kind in seen else first).append(task)
        seen.add(kind)
    return first + rest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    tasks, cost = [], {}
    for run in read_manifest(args.out)["runs"]:  # in the spec's order
        rd = RunDir(args.out / run["dir"])
        config = stored_config(rd.path)
        seconds = [rd.generation(t).read_manifest().work_seconds for t in range(config.generations)]
        task = RunTask(config.model_dump(), str(rd.path))
        tasks.append(task)
        cost[task.run_dir] = sum(seconds)
    old = finishing_time(kinds_first(tasks), cost, args.workers)
    new = finishing_time(longest_first(tasks), cost, args.workers)
    bound = max(sum(cost.values()) / args.workers, max(cost.values()))
    rho = spearmanr([run_estimate(t) for t in tasks], [cost[t.run_dir] for t in tasks]).statistic
    print(f"{args.out}: {len(tasks)} runs, {sum(cost.values()) / 60:.1f} process-minutes measured, {args.workers} "
          f"workers\n")
    print("| order | finishes after (min) | over the lower bound |")
    print("|---|---|---|")
    for name, minutes in (("0.4: each kind's first run first, then the spec's order", old),
                          ("0.5: longest first by the prior", new)):
        print(f"| {name} | {minutes / 60:.1f} | {minutes / bound:.3f} |")
    print(f"\nold / new: {old / new:.3f}; lower bound {bound / 60:.1f} min; the prior ranks the runs with Spearman's "
          f"rho {rho:.2f} against their measured costs")


if __name__ == "__main__":
    try:
        main()
    except LmcollapseError as exc:  # a folder that is not a finished study: one line, not a traceback
        raise SystemExit(f"error: {exc}")
