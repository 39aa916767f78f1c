"""What the detector of `detector-resample` costs against a generation (P20 item 4: at most half of one).

    python benchmarks/detector_cost.py [--models ngram,gpt] [--generations 2] [--out /tmp/detector-cost]

For each model row of the mitigation benchmark (its replace setting), runs `none` and `detector-resample`
for a few generations as a study's worker runs them (one torch thread) and reads the stages' seconds from the
manifests; the detector's share, its hashed n-gram features and the two cross-fitted logistic regressions
with their scoring (the gate's `_cross_fitted`), is timed around that call. Printed per row: `none`'s
generation (fit, sample, metrics), the gated generation, the detector's seconds and their ratio to `none`'s
generation, and the rest of the gate's extra cost: drawing `upsample` times as many candidates. Beside the
detector, in the same call on the same draws, 0.4's way of computing it (every half featurized on its own, fits
over all 262,144 hashed columns): its seconds and the largest difference in p_generated. Prints the CPU it ran
on.
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
    detector_seconds, old_seconds, differences = [], [], []
    original = DetectorResample._cross_fitted

    def timed(self, candidates, ctx, rng):
        state = rng.bit_generator.state
        start = time.perf_counter()
        p = original(self, candidates, ctx, rng)
        detector_seconds.append(time.perf_counter() - start)
        again = np.random.default_rng()
        again.bit_generator.state = state  # the same draws for the old path
        start = time.perf_counter()
        p_old = old_cross_fitted(candidates, ctx, again)
        old_seconds.append(time.perf_counter() - start)
        differences.append(float(np.max(np.abs(p - p_old))))
        return p

    DetectorResample._cross_fitted = timed
    warm_up()  # scikit-learn's first fit in a process pays for its imports: not the detector's cost
    print("| model | none: fit + sample + metrics s/gen | detector-resample s/gen | detector s/gen, old / new (ratio) | "
          "detector / none's generation | extra sampling s/gen | max p difference, old - new |")
    print("|---|---|---|---|---|---|---|")
    for model in args.models.split(","):
        rows = {p.mitigation: p for p in chosen if p.model == model and p.setting == SETTING}
        if not {"none", "detector-resample"} <= set(rows):
            print(f"| {model} | (the benchmark runs no detector-resample row under {SETTING}) |||||")
            continue
        seconds = {}
        for label in ("none", "detector-resample"):
            detector_seconds.clear(), old_seconds.clear(), differences.clear()
            out = Path(args.out) / model / label.replace(" ", "-")
            run = lmcollapse.run({**rows[label].config, "generations": args.generations}, out_dir=out, progress=False)
            stages = [run.manifest(t).seconds for t in range(args.generations)]
            seconds[label] = {k: float(np.mean([s.get(k, 0.0) for s in stages])) for k in ("fit", "sample", "metrics")}
            seconds[label]["detector"] = sum(detector_seconds) / max(len(detector_seconds), 1)
            seconds[label]["old"] = sum(old_seconds) / max(len(old_seconds), 1)
            seconds[label]["difference"] = max(differences, default=0.0)
        none, gated = seconds["none"], seconds["detector-resample"]
        generation = none["fit"] + none["sample"] + none["metrics"]
        # the gate's sample stage ran both detector paths; the old one is not part of the generation
        extra_sampling = gated["sample"] - gated["detector"] - gated["old"] - none["sample"]
        gated_generation = gated["fit"] + gated["sample"] - gated["old"] + gated["metrics"]
        print(f"| {model} | {none['fit']:.2f} + {none['sample']:.2f} + {none['metrics']:.2f} = {generation:.2f} | "
              f"{gated_generation:.2f} | {gated['old']:.3f} / {gated['detector']:.3f} "
              f"({gated['old'] / gated['detector']:.2f}x) | {gated['detector'] / generation:.3f} | "
              f"{extra_sampling:.2f} | {gated['difference']:.1e} |")
    DetectorResample._cross_fitted = original


def warm_up() -> None:
    from lmcollapse.probes.detector import fit_classifier

    x = np.eye(4)
    fit_classifier(x[:2], x[2:]).predict_proba(x)


def old_cross_fitted(candidates, ctx, rng) -> np.ndarray:
    """The gate's detector as 0.4 computed it: each half featurized on its own (the candidates twice), every
    fit over all of the hashed columns."""
    from lmcollapse.probes.detector import Detector

    order = rng.permutation(len(candidates))
    halves = [np.sort(order[0::2]), np.sort(order[1::2])]
    real = ctx.real.take(rng.permutation(len(ctx.real)))
    real_halves = [real.take(np.arange(0, len(real), 2)), real.take(np.arange(1, len(real), 2))]
    p = np.empty(len(candidates))
    for fit_half, score_half, real_half in ((0, 1, 0), (1, 0, 1)):
        detector = Detector.fit(real_halves[real_half], candidates.take(halves[fit_half]))
        p[halves[score_half]] = detector.p_generated(candidates.take(halves[score_half]))
    return p


if __name__ == "__main__":
    main()
