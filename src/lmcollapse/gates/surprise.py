"""`high-surprise`: train on the documents the model finds most surprising (Gambetta et al., 2025).

The model writes `upsample` times as many candidates as the generation contributes, and the contribution is
the candidates with the highest per-token negative log-likelihood under the model that wrote them: the tail
that self-consumption loses first is kept on purpose, where plain sampling over-represents the modes.
Score: the kept candidate's per-token NLL."""
from __future__ import annotations

import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.gates import selection
from lmcollapse.gates.base import GATES, GateContext, Producer


class HighSurpriseGateConfig(Section):
    upsample: float = Field(2.0, gt=1, description="candidates drawn per document the generation contributes")


@GATES.register("high-surprise", "upsample x the contribution drawn, the most surprising (highest per-token "
                                 "NLL under the model) kept (Gambetta et al. 2025)")
class HighSurprise(Producer):
    config_class = HighSurpriseGateConfig

    def generate(self, n: int, ctx: GateContext, *, seed: int, generation: int, first_id: int,
                 producer: str) -> tuple[Corpus, np.ndarray]:
        candidates = selection.draw_candidates(ctx, self.config.upsample, n, seed=seed, generation=generation,
                                               first_id=first_id, producer=producer)  # (m,)
        nll = -selection.per_token(ctx.model.log_prob(candidates), candidates)  # (m,)
        chosen = np.sort(np.argsort(-nll, kind="stable")[:n])  # (n,) the n most surprising, in drawing order
        picked = candidates.take(chosen)
        return (selection.as_contribution(picked, generation=generation, producer=producer, seed=seed,
                                          first_id=first_id), nll[chosen])

    def activity(self, produced: Corpus, score: np.ndarray) -> dict[str, float]:
        """n of upsample x n candidates reach the data."""
        return {"acceptance": 1.0 / self.config.upsample}
