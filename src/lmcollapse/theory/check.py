"""`lmcollapse theory check`: the real simulator, many seeds, against the closed forms.

Each case is an ordinary lmcollapse run (categorical truth, single-token documents, unigram add-alpha
model) repeated over seeds. For every generation we compare, with a z-score against the Monte-Carlo
standard error across seeds:
  impurity    E[1 - sum_v M_t(v)^2]            (pseudocount.predict; Wright-Fisher when alpha = 0)
  mean coef   E[c_t], where M_t projected on q + c (p - q)
  real share  E[real fraction of D_t]
A row fails when |z| > Z_LIMIT; quantities with no randomness must match to 1e-9.
"""
from __future__ import annotations

import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from .pseudocount import predict

Z_LIMIT = 4.5  # two-sided false alarm 7e-6 per row: a few hundred rows stay below 0.3% in all
TRUTH = (0.35, 0.25, 0.2, 0.12, 0.08)


@dataclass(frozen=True)
class Case:
    paradigm: str
    alpha: float
    n: int
    rate: float = 1.0
    real_fraction: float = 0.5
    generations: int = 6

    @property
    def label(self) -> str:
        extra = {"mix": f" rho={self.real_fraction}", "accumulate": f" r={self.rate}",
                 "accumulate-subsample": f" r={self.rate}", "fresh": f" r={self.rate}"}.get(self.paradigm, "")
        return f"{self.paradigm}{extra} alpha={self.alpha} N={self.n}"

    def config(self, seed: int) -> dict:
        return {"seed": seed, "generations": self.generations, "metrics": ["real_fraction"],
                "corpus": {"name": "categorical", "probs": list(TRUTH), "doc_length": 1, "n_train": self.n,
                           "n_eval": 10},
                "model": {"name": "ngram", "order": 1, "smoothing": self.alpha},
                "paradigm": {"name": self.paradigm, "rate": self.rate, "real_fraction": self.real_fraction}}


QUICK_GRID = [Case("replace", 0.0, 30), Case("mix", 1.0, 30, real_fraction=0.5),
              Case("accumulate-subsample", 0.5, 30, rate=0.5)]
FULL_GRID = [Case(par, alpha, n, rate=rate)
             for alpha in (0.0, 1.0) for n in (20, 60)
             for par, rate in (("replace", 1.0), ("mix", 1.0), ("accumulate", 0.5),
                               ("accumulate-subsample", 0.5), ("accumulate-subsample", 0.1))]


def simulate_seed(case: Case, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One run of the real runner: (models (T, V), training real fractions (T,))."""
    import lmcollapse

    with tempfile.TemporaryDirectory(prefix="lmcollapse-check-") as tmp:
        run = lmcollapse.run(case.config(seed), out_dir=os.path.join(tmp, "run"))
        models = np.array([run.model(t).next_token_probs(()) for t in range(case.generations)])
        shares = np.array([row["real_fraction"] for row in run.metrics])
    return models, shares


def _simulate(args):
    case, seeds = args
    return [simulate_seed(case, s) for s in seeds]


def simulate(case: Case, seeds: int, workers: int = 1):
    chunks = [list(range(i, seeds, max(workers, 1))) for i in range(max(workers, 1))]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_simulate, [(case, c) for c in chunks]))
    else:
        parts = [_simulate((case, chunks[0]))]
    results = [r for part in parts for r in part]
    return np.stack([r[0] for r in results]), np.stack([r[1] for r in results])  # (S, T, V), (S, T)


def _row(case, quantity, t, predicted, samples) -> dict:
    mean = float(np.mean(samples))
    se = float(np.std(samples, ddof=1) / np.sqrt(len(samples)))
    if se < 1e-12:  # no randomness (up to float noise): must match exactly
        z = 0.0 if abs(mean - predicted) < 1e-9 else float("inf")
    else:
        z = (mean - predicted) / se
    return {"case": case.label, "quantity": quantity, "generation": t, "predicted": float(predicted),
            "measured": mean, "se": se, "z": z, "ok": bool(abs(z) <= Z_LIMIT)}


def check_case(case: Case, seeds: int, workers: int = 1) -> list[dict]:
    models, shares = simulate(case, seeds, workers)
    pred = predict(case.paradigm, TRUTH, case.alpha, case.n, case.generations, rate=case.rate,
                   real_fraction=case.real_fraction)
    p = pred.p
    q = np.full(len(p), 1 / len(p))
    coef = (models - q) @ (p - q) / ((p - q) @ (p - q))  # (S, T) projection of each model on q + c (p - q)
    rows = []
    for t in range(case.generations):
        rows.append(_row(case, "impurity", t, pred.impurity[t], 1 - (models[:, t] ** 2).sum(axis=1)))
        rows.append(_row(case, "mean coef", t, pred.c[t], coef[:, t]))
        rows.append(_row(case, "real share", t, pred.real_share[t], shares[:, t]))
    return rows


def run_checks(grid: list[Case], seeds: int, workers: int = 1, progress=None) -> list[dict]:
    rows = []
    for i, case in enumerate(grid):
        if progress:
            progress(i, len(grid), case)
        rows += check_case(case, seeds, workers)
    return rows
