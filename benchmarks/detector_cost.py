"""What the detector of `detector-resample` costs against a generation (P20 item 4: at most half of one).

    python benchmarks/detector_cost.py [--models ngram,gpt] [--generations 2] [--out /tmp/detector-cost]

For each model row of the mitigation benchmark (its replace setting), runs `none` and `detector-resample`
for a few generations as a study's worker runs them (one torch thread) and reads the stages' seconds from the
manifests; the detector's share, its hashed n-gram features and the two cross-fitted logistic regressions
with their scoring (the gate's `_cross_fitted`), is timed around that call. Printed per row: `none`'s
generation (fit, sample, metrics), the gated generation, the detector's seconds and their ratio to `none`'s
generation, and the rest of the gate's extra cost: drawing `upsample` times as many candidates. Prints the
CPU it ran on.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import lmcollapse
from lmcollapse.gates.detector_resample import DetectorResample
from lmcollapse.studies import load_spec, mitigations

SETTING = "replace"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ngram,gpt")
    parser.add_argument("--generations", type=int, default=2)
    parser.add_argument("--out", default="/tmp/detector-cost")
    args = parser.parse_args()
    import torch

    from lmcollapse.models.neural.device import cpu_description

    torch.set_num_threads(1)  # what each worker of a study's local pool gets (sweep/task.py)
    print(f"{cpu_description()}; torch threads: 1\n")
    spec = mitigations.effective_spec(load_spec("mitigations"))
    chosen, _ = mitigations.points(spec, tuple(args.models.split(",")), out_dir=Path(args.out) / "study")
    detector_seconds = []
    original = DetectorResample._cross_fitted

    def timed(self, *a, **k):
        start = time.perf_counter()
        try:
            return original(self, *a, **k)
        finally:
            detector_seconds.append(time.perf_counter() - start)

    DetectorResample._cross_fitted = timed
    print("| model | none: fit + sample + metrics s/gen | detector-resample s/gen | detector s/gen | detector / "
          "none's generation | extra sampling s/gen |")
    print("|---|---|---|---|---|---|")
    for model in args.models.split(","):
        rows = {p.mitigation: p for p in chosen if p.model == model and p.setting == SETTING}
        if not {"none", "detector-resample"} <= set(rows):
            print(f"| {model} | (the benchmark runs no detector-resample row under {SETTING}) |||||")
            continue
        seconds = {}
        for label in ("none", "detector-resample"):
            detector_seconds.clear()
            out = Path(args.out) / model / label.replace(" ", "-")
            run = lmcollapse.run({**rows[label].config, "generations": args.generations}, out_dir=out, progress=False)
            stages = [run.manifest(t).seconds for t in range(args.generations)]
            seconds[label] = {k: float(np.mean([s.get(k, 0.0) for s in stages])) for k in ("fit", "sample", "metrics")}
            seconds[label]["detector"] = sum(detector_seconds) / max(len(detector_seconds), 1)
        none, gated = seconds["none"], seconds["detector-resample"]
        generation = none["fit"] + none["sample"] + none["metrics"]
        extra_sampling = gated["sample"] - gated["detector"] - none["sample"]
        print(f"| {model} | {none['fit']:.2f} + {none['sample']:.2f} + {none['metrics']:.2f} = {generation:.2f} | "
              f"{gated['fit'] + gated['sample'] + gated['metrics']:.2f} | {gated['detector']:.2f} | "
              f"{gated['detector'] / generation:.2f} | {extra_sampling:.2f} |")
    DetectorResample._cross_fitted = original


if __name__ == "__main__":
    main()
