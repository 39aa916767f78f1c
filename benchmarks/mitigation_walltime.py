"""What the full mitigation benchmark costs at its seeds, projected from a short run of every row (P20's must-show).

    python benchmarks/mitigation_walltime.py [--generations 2] [--workers 2] [--out /tmp/mitigation-walltime]

Runs every row of `lmcollapse reproduce mitigations` (every model, setting, mitigation and reference the spec
runs) for seed 0 and a few generations, as the study runs them (its local pool, one torch thread per worker;
a fine-tuning row's base pretrained on the way). Each run's cost is read from its manifests: generation 0 as
measured, the later generations at generation 1..G-1's measured mean scaled by the prior's shape over
generations (sweep/cost.py: accumulate's training set grows), to the spec's 20 generations. The full benchmark
is then played on W workers, longest first as the study hands runs out, at the seeds each model is run at:
the count models at the seed budget (16: where seeds by power stopped for both of them, docs/mitigations.md),
the GPT rows at 5 (P20's "at least 5") and at the budget. Printed: the CPU, per model the rows, the
process-minutes per seed and the pretraining, and the wall time of each plan against 0.4's 1 h 55 min for 3
seeds, and how many GPT seeds fit in 3 hours. A projection from measured per-generation costs, not a run of
the whole benchmark: it says so beside every figure.
"""
from __future__ import annotations

import argparse
import heapq
import json
import time
from pathlib import Path

import numpy as np

from lmcollapse.models.neural.device import cpu_description
from lmcollapse.running.base_model import BASE_RECORD
from lmcollapse.running.readback import stored_config
from lmcollapse.api import load_run
from lmcollapse.studies import load_spec, mitigations
from lmcollapse.studies.execution import run_study_tolerating
from lmcollapse.studies.mitigations import STARVED, MitigationStudy
from lmcollapse.sweep.cost import generation_estimates
from lmcollapse.sweep.task import RunTask

GOAL_MINUTES = 180  # P20: the benchmark at its stated seeds within 3 hours on 2 cores
V04_MINUTES = 115  # 0.4's full run, 3 seeds (docs/mitigations.md)
COUNT_MODELS = ("ngram", "ngram-markov")


def run_cost(config: dict, seconds: list[float], generations: int) -> float:
    """A run's process-seconds over `generations`, from its first len(seconds) generations' measured costs."""
    prior = generation_estimates(RunTask(config, ""), generations)
    later = seconds[1:] or seconds
    per_prior = sum(later) / max(sum(prior[1:len(seconds)] or prior[:1]), 1e-12)  # measured over prior
    return seconds[0] + sum(p * per_prior for p in prior[1:])


def wall_time(costs: list[float], workers: int) -> float:
    """Finishing time of the costs handed out longest first to `workers` workers (the local pool's order)."""
    free = [0.0] * workers
    for cost in sorted(costs, reverse=True):
        heapq.heappush(free, heapq.heappop(free) + cost)
    return max(free)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=2, help="generations each row runs here (>= 2)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("/tmp/mitigation-walltime"))
    parser.add_argument("--models", default=",".join(mitigations.MODELS))
    args = parser.parse_args()
    print(cpu_description())
    spec = mitigations.effective_spec(load_spec("mitigations"))
    full_generations, budget = spec["generations"], spec["power"]["seed_budget"]
    spec["generations"] = args.generations
    models = tuple(args.models.split(","))
    chosen, _ = mitigations.points(spec, models, args.out)
    start = time.perf_counter()
    sweep, _ = run_study_tolerating(MitigationStudy.name, [(p.tags, p.config) for p in chosen], [0], args.out,
                                    workers=args.workers, tolerate=STARVED)
    measured_wall = time.perf_counter() - start
    per_model: dict[str, list[float]] = {}
    beyond, rows = {}, []  # model -> per run: wall seconds beyond its work; (cost, row name)
    for point in sweep.points:
        for path in point.started():
            run = load_run(path)
            seconds = [run.manifest(t).work_seconds for t in range(run.generations_done)]
            files = [f.stat().st_mtime for f in Path(path).rglob("*") if f.is_file()]
            beyond.setdefault(point.tags["model"], []).append(max(files) - min(files) - sum(seconds))
            per_model.setdefault(point.tags["model"], []).append(run_cost(stored_config(path).model_dump(), seconds,
                                                                           full_generations))
            rows.append((per_model[point.tags["model"]][-1], " / ".join(point.tags[k] for k in
                                                                         ("model", "setting", "mitigation"))))
    bases = {}
    for record in (args.out / "bases").glob(f"*/{BASE_RECORD}"):
        bases.setdefault("gpt-finetune", []).append(float(json.loads(record.read_text())["process_seconds"]))
    pretrain = {m: sum(s) / len(s) for m, s in bases.items()}
    # what a run costs beyond its generations' work (the corpus, the tokenizer, the run folder): each run's wall
    # time from its folder's first file (the lock or the config) to its last, less the work its manifests
    # hold; per model the median, since the runs that waited for a base another worker was pretraining count
    # that wait too
    runs = sum(len(c) for c in per_model.values())
    overhead = {model: max(float(np.median(b)), 0.0) for model, b in beyond.items()}
    print(f"measured: {runs} rows x 1 seed x {args.generations} generations in {measured_wall / 60:.1f} min on "
          f"{args.workers} workers; beyond the manifests' work, per run (median; counted below): "
          + ", ".join(f"{m} {s:.1f} s" for m, s in overhead.items()) + "\n")

    def plan(gpt_seeds: int, count_seeds: int = budget) -> tuple[list[float], list[str]]:
        tasks, lines = [], []
        for model, costs in per_model.items():
            seeds = count_seeds if model in COUNT_MODELS else gpt_seeds
            runs = [c + overhead[model] for c in costs]
            runs[0] += pretrain.get(model, 0.0)  # the first run of a seed pretrains its base
            tasks += runs * seeds
            lines.append(f"| {model} | {len(costs)} | {sum(costs) / 60:.1f} | {pretrain.get(model, 0.0) / 60:.1f} | "
                         f"{seeds} | {sum(runs) * seeds / 60:.0f} |")
        return tasks, lines

    print("\nthe costliest rows, process-minutes per seed:", "; ".join(f"{name} {cost / 60:.1f}"
                                                                      for cost, name in sorted(rows)[::-1][:8]))
    for gpt_seeds in (5, budget):
        tasks, lines = plan(gpt_seeds)
        if gpt_seeds == 5:
            print(f"\n| model | rows | process-min per seed ({full_generations} generations) | base pretraining min per "
                  f"seed | seeds | process-min in all |\n|---|---|---|---|---|---|")
            print("\n".join(lines))
        minutes = wall_time(tasks, args.workers) / 60
        print(f"\nprojected wall time, count models at {budget} seeds and GPT rows at {gpt_seeds}, {args.workers} "
              f"workers: {minutes:.0f} min ({minutes / 60:.1f} h; 0.4 at 3 seeds: {V04_MINUTES} min; goal "
              f"{GOAL_MINUTES} min: {'met' if minutes <= GOAL_MINUTES else 'not met'})")
    default = len(load_spec("mitigations")["seeds"])
    minutes = wall_time(plan(default, default)[0], args.workers) / 60
    print(f"\nthe command's default, every row at the spec's {default} seeds: {minutes:.0f} min ({minutes / 60:.1f} h)")
    fits = [s for s in range(1, budget + 1) if wall_time(plan(s)[0], args.workers) / 60 <= GOAL_MINUTES]
    print(f"GPT seeds that fit in {GOAL_MINUTES} min beside the count models at {budget}: "
          f"{max(fits) if fits else 'none'}")
    print("(a projection from each row's first generations, not a run of the whole benchmark)")


if __name__ == "__main__":
    begun = time.perf_counter()
    main()
    print(f"(this script: {(time.perf_counter() - begun) / 60:.1f} min)")
