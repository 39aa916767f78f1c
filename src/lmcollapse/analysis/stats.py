"""Student-t tail probabilities, quantiles and the interval of a mean over seeds (scipy.stats underneath):
the one place the aggregation and the early warning take them from."""
from __future__ import annotations

from functools import lru_cache

import numpy as np


def t_sf(t: float, df: float) -> float:
    """P(T > t), T ~ Student t with df degrees of freedom."""
    from scipy import stats  # here: importing scipy.stats takes half a second, and most commands never need it

    return float(stats.t.sf(t, df))


def t_half_width(values: np.ndarray, level: float = 0.95) -> float:
    """Half the width of the Student-t interval of the mean of values (at least two): the one formula every
    mean over seeds uses."""
    n = len(values)
    return t_quantile(0.5 + level / 2, n - 1) * float(np.std(values, ddof=1)) / np.sqrt(n)


@lru_cache(maxsize=256)  # the same few (level, seeds) pairs come back for every metric and generation
def t_quantile(p: float, df: float) -> float:
    """q with P(T <= q) = p."""
    from scipy import stats

    return float(stats.t.ppf(p, df))
