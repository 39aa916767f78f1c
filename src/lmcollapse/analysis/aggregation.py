"""Several seeds' rows of one config, summarised per generation: the mean and a Student-t 95% interval.

One rule for every interval across seeds (seed groups, sweeps, the studies' claims): it needs at least
MIN_SEEDS_FOR_INTERVAL seeds, stays inside the range of the quantity it is about, and a ratio's is taken on
the log scale."""
from __future__ import annotations

import numpy as np

from lmcollapse.metrics.base import Column, column_bounds
from lmcollapse.metrics.resampling import CI_LEVEL
from lmcollapse.metrics.row import MetricsRow
from lmcollapse.analysis.stats import t_half_width

# With two seeds the 95% Student-t quantile is 12.7: the interval is some twenty times the seeds' own spread
# and spills outside what the quantity can take (a ratio "2.62 (-3.37 to 8.62)"); it says nothing, so none
# is given and readers are told how many seeds there are instead.
MIN_SEEDS_FOR_INTERVAL = 3
NAN = float("nan")


def too_few_seeds(seeds: int) -> bool:
    return seeds < MIN_SEEDS_FOR_INTERVAL


def few_seeds_note(seeds: int) -> str:
    """What is printed where an interval would be."""
    return f"no interval: {seeds} seed{'s' if seeds != 1 else ''}, {MIN_SEEDS_FOR_INTERVAL} or more needed"


def mean_over_seeds(values: np.ndarray, column: str | None = None, bounds: tuple | None = None,
                    log: bool = False, level: float = CI_LEVEL) -> tuple[float, float, float]:
    """(mean, low, high) of one quantity's finite per-seed values; low and high are NaN with fewer than
    MIN_SEEDS_FOR_INTERVAL of them. column: a metrics column whose range the interval stays in; bounds: a
    (low, high) range given directly (None: unbounded on that side). log: a positive ratio, summarised by its
    geometric mean with the interval taken on the log scale, so it stays positive and a doubling and a halving
    average to no change."""
    x = np.asarray(values, dtype=np.float64)
    x = x[np.isfinite(x) & ((x > 0) if log else True)]
    if len(x) == 0:
        return NAN, NAN, NAN
    y = np.log(x) if log else x
    centre = float(y.mean())
    if too_few_seeds(len(y)):
        return (float(np.exp(centre)) if log else centre), NAN, NAN
    half = t_half_width(y, level)
    low, high = centre - half, centre + half
    if log:
        centre, low, high = float(np.exp(centre)), float(np.exp(low)), float(np.exp(high))
    allowed = column_bounds(column) if column else Column("", "", None, bounds or (None, None))
    low, high = allowed.clip(low, high)
    return centre, float(low), float(high)


def metric_matrix(per_seed: list[list[dict]], metric: str) -> np.ndarray:
    """(seeds, generations) of one metric from each seed's rows; NaN where a seed has no value."""
    generations = max(len(rows) for rows in per_seed)
    values = np.full((len(per_seed), generations), np.nan)
    for s, rows in enumerate(per_seed):
        for r in rows:
            if r.get(metric) is not None:
                values[s, r["generation"]] = r[metric]
    return values


def aggregate_rows(per_seed: list[list[dict]], level: float = CI_LEVEL) -> list[dict]:
    """Per generation: the mean over seeds of each metric with a Student-t interval (from
    MIN_SEEDS_FOR_INTERVAL seeds on) and the number of seeds behind it (a MetricsRow each, as flat JSON)."""
    generations = max((len(rows) for rows in per_seed), default=0)
    parsed = [[MetricsRow.from_json(r).values for r in rows] for rows in per_seed]
    names = sorted({k for rows in parsed for r in rows for k in r})
    out = []
    for t in range(generations):
        row = MetricsRow(t)
        for name in names:
            values = np.array([rows[t][name] for rows in parsed
                               if len(rows) > t and rows[t].get(name) is not None], dtype=np.float64)
            if len(values) == 0:
                continue
            row.values[name] = float(values.mean())
            row.counts[name] = len(values)
            if not too_few_seeds(len(values)):
                _, low, high = mean_over_seeds(values, column=name, level=level)
                row.intervals[name] = (low, high)
        out.append(row.to_json())
    return out
