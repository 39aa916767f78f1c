"""`theory check` rows for theory that reaches perplexity (theory/heldout.py): the bigram on KJV verses,
its held-out perplexity per generation against the expected log-loss the theory gives from R and E.

The theory is conditional on a run's R and E, which differ by seed; each seed's prediction is computed in
the worker that ran it. Rows, per case:
- log(perplexity_t / perplexity_0), mean over seeds, predicted against measured at the first, middle and last
  generations: within Z_LIMIT standard errors of the seeds' errors plus HELDOUT_TOLERANCE, the stated
  accuracy of the approximations (expected visits, a two-moment law per count);
- the generation at which the mean ratio first passes 1.25x: predicted (on the mean predicted path) against
  measured (on the mean measured path), within CROSSING_TOLERANCE generations (per seed a crossing moves
  with rare events: a context R never saw that generated text happens to visit changes a pair's loss by
  several nats at once).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmcollapse.config import applicable
from lmcollapse.running.readback import stored_config
from lmcollapse.running.rundir import RunDir
from lmcollapse.studies.theory_labels import paradigm_label, slug_of
from lmcollapse.theory.heldout import BOUND, heldout_for

HELDOUT_TOLERANCE = 0.05  # nats of log perplexity ratio the approximations may miss (about 5%)
CROSSING_TOLERANCE = 2  # generations


@dataclass(frozen=True)
class HeldoutCase:
    """The add-alpha bigram on a small KJV corpus (R of n_train verses, E of n_eval), pure sampling."""

    paradigm: str
    alpha: float
    rate: float = 1.0
    generations: int = 8
    n_train: int = 500
    n_eval: int = 300
    max_tokens: int = 64

    @property
    def label(self) -> str:
        return f"kjv bigram {paradigm_label(self.paradigm, self.rate, 0.5)} alpha={self.alpha} N={self.n_train}"

    @property
    def slug(self) -> str:
        return slug_of(self.label)

    @property
    def collect(self):
        return heldout_history

    def config(self, seed: int) -> dict:
        return {"seed": seed, "generations": self.generations, "metrics": ["heldout_ppl"], "save_models": False,
                "corpus": {"name": "kjv", "n_train": self.n_train, "n_eval": self.n_eval},
                "model": {"name": "ngram", "order": 2, "smoothing": self.alpha},
                "sampler": {"max_tokens": self.max_tokens},
                "paradigm": applicable("paradigm", {"name": self.paradigm, "rate": self.rate})}


def heldout_history(run_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """Read in the worker that ran it: measured log held-out perplexity (T,) and the theory's (T,)."""
    config = stored_config(run_dir)
    rows = RunDir(run_dir).metrics_rows(config.generations)
    measured = np.log([row["heldout_ppl"] for row in rows])
    return measured, heldout_for(config).log_loss


def seeds_for(battery_seeds: int) -> int:
    """Seeds per case from the battery's seeds per unigram case (a KJV run costs a hundred unigram runs)."""
    return max(battery_seeds // 20, 6)


def cases(quick: bool) -> list[HeldoutCase]:
    if quick:
        return [HeldoutCase("accumulate", 1e-3, rate=0.1, generations=8)]
    # three regimes: replace (crosses at once), accumulate (the smoothing floor's slow rise), a subsample at
    # the smaller alpha (real documents left out, rare pairs lost); the full-size grid is
    # benchmarks/heldout_theory.py's
    return [HeldoutCase("replace", 1e-3, generations=5), HeldoutCase("accumulate", 1e-3, rate=0.1),
            HeldoutCase("accumulate-subsample", 1e-4, rate=0.1)]


def crossing(log_ratio: np.ndarray) -> int | None:
    above = np.flatnonzero(log_ratio > np.log(BOUND))
    return int(above[0]) if len(above) else None


def heldout_rows(case: HeldoutCase, measured: np.ndarray, predicted: np.ndarray, z_limit: float) -> list[dict]:
    """The rows of one case from every seed's measured and predicted log perplexity, (seeds, T) each."""
    measured_ratio = measured - measured[:, :1]
    predicted_ratio = predicted - predicted[:, :1]
    error = measured_ratio - predicted_ratio  # (seeds, T): per seed, conditional on its own R and E
    seeds, last = measured.shape[0], measured.shape[1] - 1
    rows = []
    for t in sorted({1, last // 2, last}):
        se = float(error[:, t].std(ddof=1) / np.sqrt(seeds))
        tolerance = z_limit * se + HELDOUT_TOLERANCE
        rows.append({"case": case.label, "quantity": "log(perplexity_t / perplexity_0)", "generation": t,
                     "predicted": float(predicted_ratio[:, t].mean()), "measured": float(measured_ratio[:, t].mean()),
                     "se": se, "z": float(error[:, t].mean() / se) if se > 0 else 0.0, "tolerance": tolerance,
                     "ok": bool(abs(error[:, t].mean()) <= tolerance)})
    at_predicted, at_measured = crossing(predicted_ratio.mean(axis=0)), crossing(measured_ratio.mean(axis=0))
    if at_predicted is None and at_measured is None:
        ok = True
    elif at_predicted is None or at_measured is None:
        ok = (at_predicted or at_measured) >= last + 1 - CROSSING_TOLERANCE  # one crossed near the end
    else:
        ok = abs(at_predicted - at_measured) <= CROSSING_TOLERANCE
    rows.append({"case": case.label, "quantity": f"first generation above {BOUND}x generation 0 (mean path)",
                 "generation": -1, "predicted": float("nan") if at_predicted is None else float(at_predicted),
                 "measured": float("nan") if at_measured is None else float(at_measured), "se": float("nan"),
                 "z": float("nan"), "tolerance": float(CROSSING_TOLERANCE), "ok": bool(ok)})
    return rows
