"""A sweep of 48 short count-model runs on each executor: one worker, the local pool, and Ray on this machine.

    pip install -e '.[ray]'
    python benchmarks/sweep_executors.py [--generations 5] [--workers 2]

Each executor runs the same 48 runs (4 orders x 3 paradigms x 4 seeds of count models on 500 KJV
verses) into a fresh folder. Printed per executor: the wall time of the sweep, the runs' own time (summed
seconds inside the runs), and the overhead per run: wall time x parallel slots - the runs' own time, over
the runs (what scheduling, process start-up and result transfer cost). Ray's start (ray.init of a local
cluster) is timed apart, since a cluster that is already up does not pay it. Every executor must give the
same results table; the script checks it.
"""
from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import pyarrow.parquet as pq  # noqa: E402

from lmcollapse.sweep import load_spec, make_executor, run_sweep  # noqa: E402


def spec(generations: int):
    return load_spec({"generations": generations, "corpus": {"n_train": 500, "n_eval": 200},
                      "sweep": {"grid": {"model.order": [1, 2, 3, 4],
                                         "paradigm.name": ["replace", "mix", "accumulate-subsample"]},
                                "seeds": [0, 1, 2, 3]}})


def timed(executor, folder: Path, generations: int, slots: int) -> dict:
    start = time.perf_counter()
    _, outcome = run_sweep(spec(generations), folder, executor, progress=False)
    wall = time.perf_counter() - start
    assert not outcome.failures, [f.error for f in outcome.failures]
    own = sum(o.seconds for o in outcome.outcomes)
    runs = len(outcome.outcomes)
    return {"wall": wall, "own": own, "runs": runs, "overhead": (wall * slots - own) / runs,
            "table": pq.read_table(folder / "results.parquet")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=5)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3, help="local pool and Ray sweeps, alternating")
    args = parser.parse_args()
    import ray

    root = Path(tempfile.mkdtemp(prefix="lmcollapse-bench-"))
    local_name, ray_name = f"local pool ({args.workers})", f"ray ({args.workers} CPUs)"
    results: dict[str, list[dict]] = {"one worker": [], local_name: [], ray_name: []}
    try:
        results["one worker"].append(timed(make_executor("local", workers=1), root / "one", args.generations, 1))
        start = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
        ray_start = time.perf_counter() - start
        # Alternating, each in a fresh folder: a shared machine's load drifts, and both should see the same.
        for i in range(args.repeats):
            results[local_name].append(timed(make_executor("local", workers=args.workers), root / f"local-{i}",
                                             args.generations, args.workers))
            results[ray_name].append(timed(make_executor("ray", storage=root / f"ray-{i}"), root / f"ray-{i}",
                                           args.generations, args.workers))
        ray.shutdown()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    reference = results["one worker"][0]["table"]
    print(f"{reference.num_rows} result rows, 48 runs; {os.cpu_count()} cores; median of {args.repeats} sweeps "
          f"for the pool and Ray")
    medians = {}
    for name, runs in results.items():
        same = all(r["table"].equals(reference) for r in runs)
        walls = sorted(r["wall"] for r in runs)
        medians[name] = walls[len(walls) // 2]
        overhead = sorted(r["overhead"] for r in runs)[len(runs) // 2]
        print(f"{name:>18}: {medians[name]:6.1f} s wall (each: {', '.join(f'{w:.1f}' for w in walls)}), runs' own "
              f"time {runs[0]['own']:6.1f} s, overhead per run {1000 * overhead:4.0f} ms, same results: {same}")
    pairs = sorted(r["wall"] / p["wall"] for p, r in zip(results[local_name], results[ray_name]))
    print(f"local pool speed-up over one worker: {medians['one worker'] / medians[local_name]:.2f}x")
    print(f"ray against the local pool: {100 * (medians[ray_name] / medians[local_name] - 1):+.1f}% (medians; "
          f"back-to-back pairs {', '.join(f'{100 * (p - 1):+.1f}%' for p in pairs)}); starting the local Ray "
          f"cluster took {ray_start:.1f} s more, which a running cluster does not pay")


if __name__ == "__main__":
    main()
