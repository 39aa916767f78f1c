"""The real share of the training set D_t that each paradigm implies, whatever the corpus (exact in
expectation): what the report and `theory compare` draw beside the measured share."""
from __future__ import annotations

import numpy as np


def expected_real_share(config, generations: int) -> np.ndarray:
    """The real share of D_t each paradigm implies, whatever the corpus (exact in expectation)."""
    par, n = config.paradigm, config.corpus.n_train
    t = np.arange(generations)
    if par.name == "replace":
        return (t == 0).astype(float)
    if par.name == "replay":
        return np.ones(generations)
    if par.name == "mix":
        return np.where(t == 0, 1.0, round(par.real_fraction * n) / n)
    m = round(par.rate * n)
    if par.name == "fresh":
        f = round(par.fresh_fraction * n)
        return (n + t * f) / (n + t * (f + m))
    return n / (n + t * m)
