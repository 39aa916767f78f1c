"""`perplexity`: keep generated documents that read like real ones to a reference model.

The reference is the generation-0 model (trained on real data only). Its per-token NLL on held-out real
documents fixes a band, [quantile `low`, quantile `high`] (5% and 95% by default); a candidate is kept
when its own per-token NLL under the reference falls inside. Too low: degenerate, repetitive text the
reference finds trivially predictable. Too high: noise. Score: the candidate's per-token NLL.
"""
from __future__ import annotations

import numpy as np
from pydantic import Field, model_validator

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.gates.base import GATES, Filter, GateContext


def per_token_nll(model, corpus: Corpus) -> np.ndarray:
    doc, logp = model.token_log_probs(corpus)
    counts = np.bincount(doc, minlength=len(corpus))
    return -np.bincount(doc, weights=logp, minlength=len(corpus)) / np.maximum(counts, 1)


class PerplexityGateConfig(Section):
    low: float = Field(0.05, ge=0, le=1, description="lower quantile of held-out real documents' NLL")
    high: float = Field(0.95, ge=0, le=1, description="upper quantile")

    @model_validator(mode="after")
    def _a_band(self):
        if not self.low < self.high:
            raise ValueError(f"need low < high (got low={self.low}, high={self.high})")
        return self


@GATES.register("perplexity", "keep documents whose per-token NLL under the generation-0 model lies in the band "
                              "of held-out real documents (quantiles low..high)")
class PerplexityBand(Filter):
    config_class = PerplexityGateConfig

    def __init__(self, config: PerplexityGateConfig | None = None):
        super().__init__(config)
        self.low, self.high = self.config.low, self.config.high
        self._band: tuple[float, float] | None = None  # fixed for the whole run: the reference and E never change

    def band(self, ctx: GateContext) -> tuple[float, float]:
        if self._band is None:
            real = per_token_nll(ctx.reference(), ctx.held_out)
            # "nearest": no interpolation, so an infinite NLL (a token the reference never saw) stays usable
            self._band = (float(np.quantile(real, self.low, method="nearest")),
                          float(np.quantile(real, self.high, method="nearest")))
        return self._band

    def keep(self, corpus: Corpus, ctx: GateContext, rng) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.band(ctx)
        nll = per_token_nll(ctx.reference(), corpus)
        return (nll >= lo) & (nll <= hi), nll
