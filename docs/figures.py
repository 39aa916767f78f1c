"""Make the figures of docs/theory.md from the real simulator and the closed forms.

    python docs/figures.py [--seeds 60] [--workers 2]

Writes docs/img/paradigms.png and docs/img/collapse-time.png (a few minutes on 2 cores).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lmcollapse.theory import predict  # noqa: E402
from lmcollapse.studies.theory_check import (COLLAPSE_ALPHA, COLLAPSE_EPS, COLLAPSE_N, COLLAPSE_TRUTH, Case,  # noqa: E402
                                     check_collapse_time, simulate)
from lmcollapse.theory.collapse_time import forgetting_collapse, forgetting_collapse_asymptotic  # noqa: E402

OUT = Path(__file__).parent / "img"
PARADIGMS = [("replace", {}), ("mix", {"real_fraction": 0.5}), ("accumulate", {"rate": 0.5}),
             ("accumulate-subsample", {"rate": 0.5})]


def coefficient(models, p):
    q = np.full(len(p), 1 / len(p))
    return ((models - q) @ (p - q)) / ((p - q) @ (p - q))


def paradigms_figure(seeds: int, workers: int, generations: int = 25) -> None:
    p = np.asarray(COLLAPSE_TRUTH) / np.sum(COLLAPSE_TRUTH)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for (name, kw), color in zip(PARADIGMS, ["C3", "C2", "C0", "C1"]):
        rate, rho = kw.get("rate", 1.0), kw.get("real_fraction", 0.5)
        # Left: the pseudo-count learner (alpha > 0) forgets the truth, except when data accumulates.
        pred = predict(name, p, 10.0, 50, generations, rate=rate, real_fraction=rho)
        case = Case(name, 10.0, 50, rate=rate, real_fraction=rho, generations=generations, truth=COLLAPSE_TRUTH)
        models, _ = simulate(case, seeds, workers)
        c = coefficient(models, p)
        left.plot(pred.c, color=color, label=name)
        left.errorbar(range(generations), c.mean(0), yerr=2 * c.std(0, ddof=1) / np.sqrt(seeds), fmt="o",
                      ms=3, color=color, alpha=0.7)
        # Right: exact maximum likelihood: diversity (collision impurity) under each policy.
        pred0 = predict(name, p, 0.0, 50, generations, rate=rate, real_fraction=rho)
        case0 = Case(name, 0.0, 50, rate=rate, real_fraction=rho, generations=generations, truth=COLLAPSE_TRUTH)
        models0, _ = simulate(case0, seeds, workers)
        h = 1 - (models0**2).sum(axis=2)
        right.plot(pred0.impurity / pred0.truth_impurity, color=color, label=name)
        right.errorbar(range(generations), h.mean(0) / pred0.truth_impurity,
                       yerr=2 * h.std(0, ddof=1) / np.sqrt(seeds) / pred0.truth_impurity, fmt="o", ms=3,
                       color=color, alpha=0.7)
    left.set(title="add-alpha learner (alpha=10, N=50): pull towards the truth c_t", xlabel="generation",
             ylabel="c_t in E[M_t] = q + c_t (p - q)")
    right.set(title="exact MLE (alpha=0, N=50): diversity", xlabel="generation",
              ylabel="E[collision impurity] / truth's")
    left.title.set_fontsize(9)
    right.title.set_fontsize(9)
    left.legend(fontsize=8)
    fig.text(0.5, 0.005, f"lines: closed forms; dots: mean of {seeds} simulator runs with 2 standard errors",
             ha="center", fontsize=8)
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    fig.savefig(OUT / "paradigms.png", dpi=110)


def collapse_time_figure(seeds: int, workers: int) -> None:
    p = COLLAPSE_TRUTH
    rates = np.logspace(0, -2, 25)
    exact = [forgetting_collapse("accumulate-subsample", p, COLLAPSE_ALPHA, COLLAPSE_N, r, COLLAPSE_EPS) for r in rates]
    asym = [forgetting_collapse_asymptotic(COLLAPSE_ALPHA, len(p), COLLAPSE_N, r, COLLAPSE_EPS) for r in rates]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.loglog(rates, exact, "-", color="black", label="closed form (exact recursion)")
    ax.loglog(rates, asym, ":", color="gray", label="asymptotic ((λ/ε)^(1/(1-λ)) - 1)/r")
    for r in (0.5, 0.1, 0.01):
        row = check_collapse_time(r, seeds if r >= 0.1 else max(seeds // 2, 20), workers)
        ax.errorbar([r], [row["measured"]], yerr=[[row["tolerance"]], [row["tolerance"]]], fmt="o", color="C1",
                    capsize=3, label="simulator (mean of seeds), with tolerance" if r == 0.5 else None)
    ax.set(xlabel="contribution rate r", ylabel="collapse generation n*(r)",
           title=f"accumulate-subsample: c_n < {COLLAPSE_EPS} (N={COLLAPSE_N}, α={COLLAPSE_ALPHA}, λ=1/2)")
    ax.title.set_fontsize(9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "collapse-time.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    paradigms_figure(args.seeds, args.workers)
    collapse_time_figure(args.seeds, args.workers)
    print(f"wrote {OUT / 'paradigms.png'} and {OUT / 'collapse-time.png'}")


if __name__ == "__main__":
    main()
