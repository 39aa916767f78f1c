"""What a study will cost before it runs: each model row of `reproduce paper` run for a few generations
under replace, as a sweep worker runs it (one torch thread), its stages timed, and the whole study's
generation work extrapolated from them (P19: "say what it costs"; P20 plans from it).

    python benchmarks/study_costs.py [--generations 2] [--out /tmp/study-costs]

Printed per row: the process-seconds of each stage (fit, sample, metrics) per generation, the epochs early
stopping ran where it does, a base's pretraining (the fine-tuning row pretrains one per seed), and the
extrapolation: rows x policies x seeds x generations of the spec at that per-generation cost, plus the
bases, in core-minutes (divide by the workers for wall time on an otherwise idle machine). Beside the measured
costs: the prior a study schedules its runs by before any is timed (sweep/cost.py), to see how far off it is. Other policies
cost about what replace costs except where the training set grows (accumulate). The CPU is printed first.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import lmcollapse
from lmcollapse.models.neural.device import cpu_description
from lmcollapse.running.base_model import BASE_RECORD
from lmcollapse.studies import load_spec, paper
from lmcollapse.sweep.cost import generation_estimates
from lmcollapse.sweep.task import RunTask


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=2)
    parser.add_argument("--out", default="/tmp/study-costs")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)  # what each worker of a study's local pool gets (sweep/task.py)
    print(f"{cpu_description()}; torch threads: 1")
    spec = paper.effective_spec(load_spec("paper"))
    out = Path(args.out)
    chosen = [p for p in paper.points(spec, out_dir=out / "study") if p.label == "replace"]
    runs = len(spec["paradigms"]) * len(spec["seeds"])
    print(f"reproduce paper: {len(chosen)} model rows x {len(spec['paradigms'])} policies x {len(spec['seeds'])} "
          f"seeds x {spec['generations']} generations\n")
    print("| row | fit s/gen | sample s/gen | metrics s/gen | scheduling prior s/gen | epochs run | base pretraining s "
          "| study core-minutes |")
    print("|---|---|---|---|---|---|---|---|")
    total = 0.0
    for p in chosen:
        run = lmcollapse.run({**p.config, "generations": args.generations}, out_dir=out / p.model, progress=False)
        stages = [run.manifest(t).seconds for t in range(args.generations)]
        mean = {k: float(np.mean([s.get(k, 0.0) for s in stages])) for k in ("fit", "sample", "metrics")}
        epochs = [row.get("epochs_run") for row in run.metrics]
        bases = list((out / "study" / "bases").glob(f"*/{BASE_RECORD}")) if p.model == "gpt-finetune" else []
        pretrain = float(np.mean([_record_seconds(b) for b in bases])) if bases else 0.0
        minutes = (sum(mean.values()) * runs * spec["generations"] + pretrain * len(spec["seeds"])) / 60
        total += minutes
        prior = float(np.mean(generation_estimates(RunTask(p.config, ""), args.generations)))
        print(f"| {p.model} | {mean['fit']:.1f} | {mean['sample']:.1f} | {mean['metrics']:.1f} | {prior:.1f} | "
              f"{'-' if epochs[0] is None else ' / '.join(str(int(e)) for e in epochs)} | "
              f"{pretrain:.0f} | {minutes:.0f} |")
    print(f"\nthe study's generation work, extrapolated: about {total:.0f} core-minutes")


def _record_seconds(record: Path) -> float:
    import json

    return float(json.loads(record.read_text())["process_seconds"])


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"(this script: {time.perf_counter() - start:.0f} s)")
