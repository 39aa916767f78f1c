"""What the detector of `detector-importance` costs against a generation (P20 item 4: at most half of one).

    python benchmarks/detector_cost.py [--models ngram,gpt] [--generations 4] [--out /tmp/detector-cost]

For each model row of the mitigation benchmark (version 2, its replace setting), runs `none` and
`detector-importance beta 10` (Drayson et al. as published) for a few generations as a study's worker runs them
(one torch thread) and reads the stages' seconds from the manifests. The detector, hashed n-gram features of
the pool and of R with two cross-fitted logistic regressions and their scoring (the gate's `cross_fitted`), is
timed around that call. Beside it, in the same call on the same draws, the previous way of computing it (R
featurized again every generation, liblinear's primal solver, scikit-learn's scoring and AUC): its seconds and
the largest difference in p_generated. Printed per row: `none`'s generation (fit, sample, metrics), the detector's seconds old / new
(each the mean over the generations that ran it; the first of them featurizes R for the run) and the new one's
ratio to `none`'s generation. Prints the CPU it ran on.
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np

import lmcollapse
from lmcollapse.gates import detector_importance
from lmcollapse.gates.detector_importance import DetectorImportance
from lmcollapse.probes import detector
from lmcollapse.studies import load_spec, mitigations

SETTING = "replace"
GATED = "detector-importance beta 10"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="ngram,gpt")
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--out", default="/tmp/detector-cost")
    args = parser.parse_args()
    import torch

    from lmcollapse.models.neural.device import cpu_description

    torch.set_num_threads(1)  # what each worker of a study's local pool gets (sweep/task.py)
    print(f"{cpu_description()}; torch threads: 1\n")
    spec = mitigations.effective_spec(load_spec("mitigations"))
    chosen, _ = mitigations.points(spec, tuple(args.models.split(",")), out_dir=Path(args.out) / "study")
    new_seconds, old_seconds, differences = [], [], []
    current = DetectorImportance.cross_fitted

    def timed(train, real, rng, real_features=None):
        state = rng.bit_generator.state
        start = time.perf_counter()
        p, auc = current(train, real, rng, real_features)
        new_seconds.append(time.perf_counter() - start)
        again = np.random.default_rng()
        again.bit_generator.state = state  # the same draws for the previous path
        start = time.perf_counter()
        p_old, _ = previous_cross_fitted(current, train, real, again)
        old_seconds.append(time.perf_counter() - start)
        differences.append(float(np.max(np.abs(p - p_old))))
        return p, auc

    DetectorImportance.cross_fitted = staticmethod(timed)
    warm_up()  # scikit-learn's first fit in a process pays for its imports: not the detector's cost
    print("| model | none: fit + sample + metrics s/gen | detector s/call, previous / now (ratio) | "
          "detector now / none's generation | max p difference, previous - now |")
    print("|---|---|---|---|---|")
    for model in args.models.split(","):
        rows = {p.mitigation: p for p in chosen if p.model == model and p.setting == SETTING}
        if not {"none", GATED} <= set(rows):
            print(f"| {model} | (the benchmark runs no {GATED} row under {SETTING}) ||||")
            continue
        new_seconds.clear(), old_seconds.clear(), differences.clear()
        none = run_stages(rows["none"].config, args.generations, Path(args.out) / model / "none")
        run_stages(rows[GATED].config, args.generations, Path(args.out) / model / "gated")
        generation = none["fit"] + none["sample"] + none["metrics"]
        new, old = float(np.mean(new_seconds)), float(np.mean(old_seconds))
        print(f"| {model} | {none['fit']:.3f} + {none['sample']:.3f} + {none['metrics']:.3f} = {generation:.3f} | "
              f"{old:.4f} / {new:.4f} ({old / new:.2f}x) | {new / generation:.3f} | {max(differences):.1e} |")
    DetectorImportance.cross_fitted = staticmethod(current)


def run_stages(config: dict, generations: int, out: Path) -> dict[str, float]:
    """Mean seconds per generation of each stage of a fresh run of this config."""
    shutil.rmtree(out, ignore_errors=True)  # a fresh run: a finished one would resume with nothing to time
    run = lmcollapse.run({**config, "generations": generations}, out_dir=out, progress=False)
    stages = [run.manifest(t).seconds for t in range(generations)]
    return {k: float(np.mean([s.get(k, 0.0) for s in stages])) for k in ("fit", "sample", "metrics")}


def warm_up() -> None:
    x = np.eye(4)
    detector.fit_classifier(x[:2], x[2:]).predict_proba(x)


def previous_cross_fitted(cross_fitted, train, real, rng):
    """The gate's detector before this change: R featurized again on every call (no real_features), every fit
    by liblinear's primal solver, scores by scikit-learn's predict_proba, the AUC by its roc_auc_score."""
    from sklearn.metrics import roc_auc_score

    LogisticRegression = detector._logistic_regression()

    def sklearn_auc(p_real, p_generated):
        return float(roc_auc_score(np.r_[np.zeros(len(p_real)), np.ones(len(p_generated))], np.r_[p_real, p_generated]))

    def primal(x_real, x_generated, C: float = 1.0):
        from scipy import sparse

        n = min(x_real.shape[0], x_generated.shape[0])
        x = sparse.vstack([x_real[:n], x_generated[:n]])
        return LogisticRegression(C=C, solver="liblinear", dual=False, random_state=0).fit(
            x, np.r_[np.zeros(n), np.ones(n)])

    def sklearn_scores(classifier, x):
        return classifier.predict_proba(x)[:, 1]

    detector_importance.fit_classifier, detector_importance.auc = primal, sklearn_auc
    detector_importance.p_generated_of = sklearn_scores
    try:
        return cross_fitted(train, real, rng)
    finally:
        detector_importance.fit_classifier, detector_importance.auc = detector.fit_classifier, detector.auc
        detector_importance.p_generated_of = detector.p_generated_of


if __name__ == "__main__":
    main()
