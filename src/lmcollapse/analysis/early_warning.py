"""Early warning: the first generation at which a metric departs significantly from generation 0.

Two tests, both two-sided, each generation t = 1..T-1 compared with generation 0, Bonferroni-corrected
over the T-1 comparisons so that the chance of any false flag for a metric whose law never changes is
at most ALPHA (5%):

- several seeds: paired t-test on the per-seed differences m_t - m_0 (df = seeds - 1). Covers all the
  randomness of the loop (data draws, fitting, sampling).
- one run: z-test on (m_t - m_0) / sqrt(se_t^2 + se_0^2), the standard errors taken from the metric's
  half-sampling interval. It treats each generation's model as fixed and asks whether the difference
  exceeds what the finite sample of documents explains; use several seeds for a test that also covers
  the randomness of training.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from lmcollapse.metrics.base import watched_for_departures
from lmcollapse.metrics.resampling import CI_LEVEL
from lmcollapse.metrics.row import MetricsRow
from lmcollapse.analysis.stats import t_sf

ALPHA = 0.05
Z_CI = NormalDist().inv_cdf(0.5 + CI_LEVEL / 2)


@dataclass
class Departure:
    metric: str
    generation: int  # first generation that departs from generation 0
    direction: str  # "up" or "down"
    p_value: float  # of that generation's test, before the Bonferroni correction
    test: str


def _first(p_values: list[float], deltas: list[float], alpha: float) -> tuple[int, float, str] | None:
    level = alpha / max(len(p_values), 1)
    for t, (p, d) in enumerate(zip(p_values, deltas), start=1):
        if p < level:
            return t, p, "up" if d > 0 else "down"
    return None


def paired_t_departure(values: np.ndarray, alpha: float = ALPHA) -> tuple[int, float, str] | None:
    """values (seeds, generations), NaN where missing -> (generation, p, direction) of the first departure."""
    p_values, deltas = [], []
    for t in range(1, values.shape[1]):
        d = values[:, t] - values[:, 0]
        d = d[np.isfinite(d)]
        if len(d) < 2:
            p_values.append(1.0)
            deltas.append(0.0)
            continue
        sd = d.std(ddof=1)
        if sd == 0:  # every seed moved by exactly the same amount: certain if it moved at all
            p_values.append(1.0 if d.mean() == 0 else 0.0)
        else:
            p_values.append(2 * t_sf(abs(d.mean()) / (sd / np.sqrt(len(d))), len(d) - 1))
        deltas.append(float(d.mean()))
    return _first(p_values, deltas, alpha)


def z_departure(values: np.ndarray, half_widths: np.ndarray, alpha: float = ALPHA) -> tuple[int, float, str] | None:
    """values, CI half-widths (generations,) of one run -> (generation, p, direction) of the first departure."""
    se = half_widths / Z_CI
    p_values, deltas = [], []
    for t in range(1, len(values)):
        spread = np.hypot(se[t], se[0])
        delta = values[t] - values[0]
        ok = np.isfinite(delta) and np.isfinite(spread) and spread > 0
        p_values.append(2 * (1 - NormalDist().cdf(abs(delta) / spread)) if ok else 1.0)
        deltas.append(float(delta) if ok else 0.0)
    return _first(p_values, deltas, alpha)


def p_text(p: float) -> str:
    """A p-value as printed: below double precision's resolution of 1 - cdf it is a bound, not 0."""
    return "p < 1e-15" if p < 1e-15 else f"p = {p:.2g}"


def warnings_for_run(rows: list[dict], alpha: float = ALPHA) -> list[Departure]:
    """One run's metrics rows -> a Departure per metric (with an interval) that departs from generation 0."""
    out = []
    parsed = [MetricsRow.from_json(r) for r in rows]
    names = sorted({name for r in parsed for name in r.intervals if watched_for_departures(name)})
    for name in names:
        values = np.array([_num(r.values.get(name)) for r in parsed])
        # The interval is value +- z*SE, cut at the metric's range (a share's at 0 or 1): its longer side is
        # the uncut half-width, so a cut never makes the test think the metric more certain than it is.
        half = np.array([max(_num(r.values.get(name)) - _num(r.interval(name)[0]),
                             _num(r.interval(name)[1]) - _num(r.values.get(name))) for r in parsed])
        found = z_departure(values, half, alpha)
        if found:
            out.append(Departure(name, found[0], found[2], found[1], "z-test on half-sampling standard errors"))
    return out


def warnings_for_seeds(per_seed_rows: list[list[dict]], alpha: float = ALPHA) -> list[Departure]:
    """Rows of several seeds of one config -> a Departure per metric that departs from generation 0."""
    generations = max(len(rows) for rows in per_seed_rows)
    parsed = [[MetricsRow.from_json(r) for r in rows] for rows in per_seed_rows]
    names = sorted({k for rows in parsed for r in rows for k in r.values if watched_for_departures(k)})
    out = []
    for name in names:
        values = np.full((len(parsed), generations), np.nan)
        for s, rows in enumerate(parsed):
            for r in rows:
                values[s, r.generation] = _num(r.values.get(name))
        found = paired_t_departure(values, alpha)
        if found:
            out.append(Departure(name, found[0], found[2], found[1], "paired t-test across seeds"))
    return out


def _num(value) -> float:
    return float("nan") if value is None else float(value)
