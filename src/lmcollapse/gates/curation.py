"""`bt-curation`: curation by K-way Bradley-Terry choice under a reward (Ferbach et al., NeurIPS 2024,
"Self-consuming generative models with curated data provably optimize human preferences").

For every document the generation contributes, the model writes K candidates and one of them is kept, chosen
with probability exp(r(x_i) / temperature) / sum_j exp(r(x_j) / temperature): the choice a user with reward r
makes under the Bradley-Terry (Plackett-Luce) model. The reward is the document's per-token log-likelihood
under the known truth (`reward: truth`, known-truth corpora) or under the generation-0 model, trained on real
data only (`reward: reference`, any corpus). Score: the kept candidate's reward."""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.corpora.contexts import truth_log_probs
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.gates import selection
from lmcollapse.gates.base import GATES, GateContext, Producer


class BTCurationGateConfig(Section):
    k: int = Field(4, ge=2, description="candidates per kept document (the K of the K-way choice)")
    reward: Literal["truth", "reference"] = Field("reference", description="per-token log-likelihood under the "
                                                  "known truth, or under the generation-0 model")
    temperature: float = Field(0.1, gt=0, description="the choice is softmax(reward / temperature) over the K")


@GATES.register("bt-curation", "K candidates per document, one kept with probability softmax(reward / "
                               "temperature), the reward a per-token log-likelihood under the truth or the "
                               "generation-0 model (Ferbach et al. 2024)")
class BTCuration(Producer):
    config_class = BTCurationGateConfig

    @classmethod
    def truth_needed(cls, section) -> bool:
        return section.reward == "truth"

    def generate(self, n: int, ctx: GateContext, *, seed: int, generation: int, first_id: int,
                 producer: str) -> tuple[Corpus, np.ndarray]:
        c = self.config
        rng = np.random.default_rng(seed)
        candidates = selection.draw_candidates(ctx, c.k, n, seed=seed, generation=generation, first_id=first_id,
                                               producer=producer)  # (n * k,)
        reward = self.reward(candidates, ctx)  # (n * k,)
        groups = reward[: n * c.k].reshape(n, c.k)  # (n, k): each row one choice
        chosen = np.arange(n) * c.k + selection.gumbel_choice(groups / c.temperature, rng)  # (n,)
        picked = candidates.take(chosen)
        return (selection.as_contribution(picked, generation=generation, producer=producer, seed=seed,
                                          first_id=first_id), reward[chosen])

    def reward(self, corpus: Corpus, ctx: GateContext) -> np.ndarray:
        if self.config.reward == "truth":
            if ctx.truth is None:
                raise LmcollapseError("gate bt-curation with reward: truth needs a known-truth corpus (categorical or "
                                      "markov); use reward: reference on text")
            return selection.per_token(truth_log_probs(ctx.truth, corpus), corpus)
        return selection.per_token(ctx.reference().log_prob(corpus), corpus)

    def activity(self, produced: Corpus, score: np.ndarray) -> dict[str, float]:
        """One candidate in K reaches the data: the acceptance of a filter that kept one in K."""
        return {"acceptance": 1.0 / self.config.k}
