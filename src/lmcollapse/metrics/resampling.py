"""Confidence intervals for metrics measured on a finite set of documents, by half-sampling.

The plain bootstrap draws documents with replacement, and duplicated documents bias exactly the
statistics collapse studies care about: a repeated document adds no new n-grams (distinct-n drops) and is
its own perfect BLEU reference (self-BLEU jumps). Half-sampling draws half of the documents without
replacement, recomputes the metric, and turns the spread into a standard error with the delete-d
jackknife (Shao and Wu, 1989; valid for non-smooth statistics such as distinct counts):

    var = m / d * mean_r (theta_r - mean theta)^2,   m = n // 2 kept, d = n - m deleted,

and the interval is value +- z * sqrt(var), centred on the full-sample value (z = 1.96 for 95%).
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable

import numpy as np

CI_LEVEL = 0.95


@dataclass
class Resampled:
    """A metric's value plus the way to recompute it on a subset of its units (usually documents)."""

    value: float
    n_units: int
    on_subset: Callable[[np.ndarray], float]  # boolean mask (n_units,) -> the metric on those units

    def interval(self, rng: np.random.Generator, rounds: int, level: float = CI_LEVEL) -> tuple[float, float] | None:
        n = self.n_units
        if rounds < 2 or n < 4 or not np.isfinite(self.value):
            return None
        m, d = n // 2, n - n // 2
        values = np.empty(rounds)
        for r in range(rounds):
            mask = np.zeros(n, dtype=bool)
            mask[rng.choice(n, size=m, replace=False)] = True
            values[r] = self.on_subset(mask)
        values = values[np.isfinite(values)]
        if len(values) < 2:
            return None
        half = NormalDist().inv_cdf(0.5 + level / 2) * float(np.sqrt(m / d * values.var()))
        return self.value - half, self.value + half


def transformed(est: Resampled, fn: Callable[[float], float]) -> Resampled:
    """The same resampling scheme for fn(metric), e.g. perplexity from NLL."""
    return Resampled(fn(est.value), est.n_units, lambda mask: fn(est.on_subset(mask)))


def weighted_mean(values: np.ndarray, weights: np.ndarray | None = None) -> Resampled:
    """Mean over units of values (with per-unit weights, e.g. token counts: a ratio of sums)."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, dtype=np.float64)
    total = weights.sum()
    value = float((values * weights).sum() / total) if total > 0 else float("nan")

    def on_subset(mask):
        w = weights[mask]
        return float((values[mask] * w).sum() / w.sum()) if w.sum() > 0 else float("nan")

    return Resampled(value, len(values), on_subset)
