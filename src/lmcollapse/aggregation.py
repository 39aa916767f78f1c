"""Several seeds' rows of one config, summarised per generation: the mean and a Student-t 95% interval."""
from __future__ import annotations

import numpy as np

from .metrics.resampling import CI_LEVEL
from .stats import t_quantile


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
    """Per generation: mean over seeds and Student-t interval of each metric (NAME, NAME_lo, NAME_hi, NAME_n)."""
    generations = max((len(rows) for rows in per_seed), default=0)
    names = sorted({k for rows in per_seed for r in rows for k in r
                    if k != "generation" and not k.endswith(("_lo", "_hi"))})
    out = []
    for t in range(generations):
        row: dict = {"generation": t}
        for name in names:
            values = np.array([rows[t][name] for rows in per_seed
                               if len(rows) > t and rows[t].get(name) is not None], dtype=np.float64)
            if len(values) == 0:
                continue
            row[name] = float(values.mean())
            row[f"{name}_n"] = len(values)
            if len(values) >= 2:
                half = t_quantile(0.5 + level / 2, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
                row[f"{name}_lo"], row[f"{name}_hi"] = row[name] - half, row[name] + half
        out.append(row)
    return out
