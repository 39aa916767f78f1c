"""Several seeds' rows of one config, summarised per generation: the mean and a Student-t 95% interval."""
from __future__ import annotations

import numpy as np

from .metrics.base import column_bounds
from .metrics.resampling import CI_LEVEL
from .metrics.row import MetricsRow
from .stats import t_half_width


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
    """Per generation: the mean over seeds of each metric with a Student-t interval and the number of seeds
    behind it (a MetricsRow each, as flat JSON)."""
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
            if len(values) >= 2:
                half = t_half_width(values, level)
                row.intervals[name] = column_bounds(name).clip(row.values[name] - half, row.values[name] + half)
        out.append(row.to_json())
    return out
