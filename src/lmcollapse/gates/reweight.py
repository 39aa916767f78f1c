"""`reweight`: importance weights for paradigms that subsample a pool (accumulate-subsample, fresh).

Instead of drawing D_t uniformly from the pool, documents are drawn without replacement with weight
`real_weight` for real documents and `age_decay`^(g - 1) for synthetic ones born at generation g, so
real and older synthetic data (closer to the real distribution) are favoured. It filters nothing.
"""
from __future__ import annotations

import numpy as np

from ..corpus import REAL, Corpus
from .base import GATES, PoolWeighting


@GATES.register("reweight", "subsampling paradigms draw D_t with weight real_weight for real documents and "
                            "age_decay^(g-1) for synthetic ones born at generation g")
class Reweight(PoolWeighting):
    name = "reweight"

    def __init__(self, real_weight: float = 4.0, age_decay: float = 0.5):
        if real_weight <= 0 or not 0 < age_decay <= 1:
            raise ValueError("need real_weight > 0 and 0 < age_decay <= 1")
        self.real_weight, self.age_decay = real_weight, age_decay

    def weights(self, pool: Corpus) -> np.ndarray:
        """(len(pool),) sampling probabilities."""
        synthetic_age = np.maximum(pool.generation.astype(np.float64) - 1, 0)
        w = np.where(pool.origin == REAL, self.real_weight, self.age_decay ** synthetic_age)
        return w / w.sum()
