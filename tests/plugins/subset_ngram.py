"""A user's own model, outside the package: the count n-gram model fitted on only the first `fit_share` of
each generation's documents, a learner that sees less data than it is given. It subclasses the built-in
model and extends its section (order and smoothing still apply). tests/test_plugins.py loads it with
--plugin."""
import math

import numpy as np
from pydantic import Field

from lmcollapse.models import MODELS
from lmcollapse.models.ngram import NGramConfig, NGramModel


class SubsetNGramConfig(NGramConfig):
    fit_share: float = Field(0.5, gt=0, le=1, description="share of the training documents the model counts")


@MODELS.register("subset-ngram", "the count n-gram model fitted on the first fit_share of its documents")
class SubsetNGramModel(NGramModel):
    config_class = SubsetNGramConfig

    def fit(self, corpus, *, seed=None, progress=None, init=None):
        # The first documents: a fixed subset, so a resumed run refits the same model.
        kept = max(1, math.ceil(self.config.fit_share * len(corpus)))
        return super().fit(corpus.take(np.arange(kept)), seed=seed, progress=progress, init=init)
