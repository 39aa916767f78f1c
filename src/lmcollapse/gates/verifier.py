"""`verifier`: keep documents the true source finds likely enough (known-truth corpora only).

With error_rate = 0 this is an oracle: a candidate passes when its per-token log-probability under the
truth is at least the `quantile` (10% by default) of the real training documents' values. With
error_rate = e > 0 every decision is flipped with probability e, independently: the imperfect verifier of
Feng et al. ("Beyond Model Collapse", 2024), which passes bad documents and rejects good ones alike.
Score: the candidate's per-token log-probability under the truth.
"""
from __future__ import annotations

import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.corpora.contexts import truth_log_probs
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.gates import selection
from lmcollapse.gates.base import GATES, Filter, GateContext


def per_token(truth, corpus: Corpus) -> np.ndarray:
    """(documents,) each document's per-token log-probability under the truth."""
    return selection.per_token(truth_log_probs(truth, corpus), corpus)


def good_threshold(truth, real: Corpus, quantile: float) -> float:
    """The per-token truth log-probability a document needs to count as good: the real documents' quantile."""
    return float(np.quantile(per_token(truth, real), quantile))


class VerifierGateConfig(Section):
    quantile: float = Field(0.1, ge=0, lt=1, description="the real documents' log-prob quantile a document must "
                                                         "reach")
    error_rate: float = Field(0.0, ge=0, le=0.5, description="share of decisions flipped (a noisy verifier)")


@GATES.register("verifier", "keep documents whose per-token log-prob under the known truth reaches the real "
                            "documents' `quantile`; error_rate flips decisions (noisy verifier)")
class Verifier(Filter):
    needs_truth = True
    config_class = VerifierGateConfig

    def __init__(self, config: VerifierGateConfig | None = None):
        super().__init__(config)
        self.quantile, self.error_rate = self.config.quantile, self.config.error_rate
        self._threshold: float | None = None  # from R, fixed for the whole run

    def keep(self, corpus: Corpus, ctx: GateContext, rng) -> tuple[np.ndarray, np.ndarray]:
        if ctx.truth is None:
            raise LmcollapseError("filter verifier needs a known-truth corpus (categorical or markov); a text "
                                  "corpus has no true source to verify against")
        if self._threshold is None:
            self._threshold = good_threshold(ctx.truth, ctx.real, self.quantile)
        score = per_token(ctx.truth, corpus)
        decision = score >= self._threshold
        flip = rng.random(len(corpus)) < self.error_rate
        return decision ^ flip, score
