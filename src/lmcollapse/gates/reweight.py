"""`reweight`: importance weights for paradigms that subsample a pool (accumulate-subsample, fresh).

Instead of drawing D_t uniformly from the pool, documents are drawn without replacement with weight
`real_weight` for real documents and `age_decay`^(g - 1) for synthetic ones born at generation g, so
real and older synthetic data (closer to the real distribution) are favoured. It filters nothing.
"""
from __future__ import annotations

import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import REAL, Corpus
from lmcollapse.gates.base import GATES, PoolWeighting


class ReweightGateConfig(Section):
    real_weight: float = Field(4.0, gt=0, description="sampling weight of a real document")
    age_decay: float = Field(0.5, gt=0, le=1, description="weight factor per generation of a synthetic document's age")


@GATES.register("reweight", "subsampling paradigms draw D_t with weight real_weight for real documents and "
                            "age_decay^(g-1) for synthetic ones born at generation g")
class Reweight(PoolWeighting):
    config_class = ReweightGateConfig

    def __init__(self, config: ReweightGateConfig | None = None):
        super().__init__(config)
        self.real_weight, self.age_decay = self.config.real_weight, self.config.age_decay

    def weights(self, pool: Corpus) -> np.ndarray:
        """(len(pool),) sampling probabilities."""
        synthetic_age = np.maximum(pool.generation.astype(np.float64) - 1, 0)
        w = np.where(pool.origin == REAL, self.real_weight, self.age_decay ** synthetic_age)
        return w / w.sum()
