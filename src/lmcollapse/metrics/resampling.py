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
    # Optional, the same for many subsets at once: masks (R, n_units) -> (R,). Metrics whose half-samples
    # reduce to sums over units (means, counts of types present) do all rounds in a few array operations.
    on_subsets: Callable[[np.ndarray], np.ndarray] | None = None

    def interval(self, rng: np.random.Generator, rounds: int, level: float = CI_LEVEL) -> tuple[float, float] | None:
        n = self.n_units
        if rounds < 2 or n < 4 or not np.isfinite(self.value):
            return None
        m, d = n // 2, n - n // 2
        masks = np.zeros((rounds, n), dtype=bool)  # (R, n): the half-samples, drawn in order from the stream
        for r in range(rounds):
            masks[r, rng.choice(n, size=m, replace=False)] = True
        if self.on_subsets is not None:
            values = np.asarray(self.on_subsets(masks), dtype=np.float64)
        else:
            values = np.array([self.on_subset(mask) for mask in masks], dtype=np.float64)
        values = values[np.isfinite(values)]
        if len(values) < 2:
            return None
        half = NormalDist().inv_cdf(0.5 + level / 2) * float(np.sqrt(m / d * values.var()))
        return self.value - half, self.value + half


def transformed(est: Resampled, fn: Callable[[float], float]) -> Resampled:
    """The same resampling scheme for fn(metric), e.g. perplexity from NLL."""
    many = None if est.on_subsets is None else (lambda masks: np.array([fn(v) for v in est.on_subsets(masks)]))
    return Resampled(fn(est.value), est.n_units, lambda mask: fn(est.on_subset(mask)), many)


def ratio_of_sums(numerator: np.ndarray, denominator: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
    """masks (R, n) -> (R,) sum(numerator[mask]) / sum(denominator[mask]) for each mask (nan where the
    denominator's sum is 0): one matrix product per sum. None when a term is not finite (a product with
    a mask's zeros would turn an excluded infinity into nan)."""
    if not (np.isfinite(numerator).all() and np.isfinite(denominator).all()):
        return None

    def on_subsets(masks):
        chosen = masks.astype(np.float64)
        top, bottom = chosen @ numerator, chosen @ denominator
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(bottom != 0, top / bottom, np.nan)

    return on_subsets


def weighted_mean(values: np.ndarray, weights: np.ndarray | None = None) -> Resampled:
    """Mean over units of values (with per-unit weights, e.g. token counts: a ratio of sums)."""
    values = np.asarray(values, dtype=np.float64)
    weights = np.ones_like(values) if weights is None else np.asarray(weights, dtype=np.float64)
    total = weights.sum()
    value = float((values * weights).sum() / total) if total > 0 else float("nan")

    def on_subset(mask):
        w = weights[mask]
        return float((values[mask] * w).sum() / w.sum()) if w.sum() > 0 else float("nan")

    return Resampled(value, len(values), on_subset, ratio_of_sums(values * weights, weights))
