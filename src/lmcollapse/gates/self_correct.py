"""`self-correct`: gamma-self-correction (Gillman et al., ICML 2024, "Self-correcting self-consuming loops for
generative model training").

The paper's idealised correction maps the model's law q to (1 / (1 + gamma)) q + (gamma / (1 + gamma)) pi(q),
pi a corrector towards the data's law; gamma = 0 is no correction and gamma -> infinity hands the loop the
target itself. Here the mixture is drawn exactly, document by document: each of the generation's documents
comes from the corrector with probability gamma / (1 + gamma), else from the model. The corrector is the known
truth (`corrector: truth`, where the paper's toy experiments have theirs), or for text the generation-0 model
(`corrector: reference`: the model trained on real data only, the best stand-in for the data's law a run has;
in the fine-tuning regime, the base fine-tuned on R). Score: 1 for a corrected document, 0 for the model's."""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from lmcollapse import seeding
from lmcollapse.config import Section
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.gates import selection
from lmcollapse.gates.base import GATES, GateContext, Producer


class SelfCorrectGateConfig(Section):
    gamma: float = Field(0.5, ge=0, description="correction strength: a document is the corrector's with "
                                                "probability gamma / (1 + gamma)")
    corrector: Literal["truth", "reference"] = Field("truth", description="the known truth, or the generation-0 "
                                                                         "model")


@GATES.register("self-correct", "each document drawn from the corrector (the truth or the generation-0 model) "
                                "with probability gamma / (1 + gamma), else from the model (Gillman et al. 2024)")
class SelfCorrect(Producer):
    config_class = SelfCorrectGateConfig

    @classmethod
    def truth_needed(cls, section) -> bool:
        return section.corrector == "truth"

    def generate(self, n: int, ctx: GateContext, *, seed: int, generation: int, first_id: int,
                 producer: str) -> tuple[Corpus, np.ndarray]:
        c = self.config
        rng = np.random.default_rng(seed)
        corrected = rng.random(n) < c.gamma / (1 + c.gamma)  # (n,) which documents the corrector writes
        k = int(corrected.sum())
        own = ctx.model.sample(n - k, sampler=ctx.sampler, seed=seed, generation=generation, first_id=first_id,
                               producer=producer)
        fixed = self._corrector_documents(k, ctx, seeding.derived_seed(seed, generation, "self-correct"),
                                          generation, first_id + n - k, producer)
        order = np.empty(n, dtype=np.int64)  # (n,) position of each document in [own, fixed]
        order[~corrected] = np.arange(n - k)
        order[corrected] = n - k + np.arange(k)
        both = Corpus.concat([own, fixed]).take(order)
        return (selection.as_contribution(both, generation=generation, producer=producer, seed=seed,
                                          first_id=first_id), corrected.astype(np.float64))

    def _corrector_documents(self, k: int, ctx: GateContext, seed: int, generation: int, first_id: int,
                             producer: str) -> Corpus:
        if self.config.corrector == "reference":
            return ctx.reference().sample(k, seed=seed, generation=generation, first_id=first_id, producer=producer)
        if ctx.truth is None:
            raise LmcollapseError("gate self-correct with corrector: truth needs a known-truth corpus (categorical or "
                                  "markov); use corrector: reference on text")
        real = ctx.real
        doc_length = int(real.lengths.max()) if real.eos_id is None else None  # fixed-length chains: R's length
        return ctx.truth.sample(k, doc_length, np.random.default_rng(seed), first_id=first_id,
                                generation=generation, producer=producer, seed=seed)

    def activity(self, produced: Corpus, score: np.ndarray) -> dict[str, float]:
        """The share of the contribution the corrector wrote (0: the model's own documents, unchanged)."""
        return {"corrected_share": float(np.mean(score)) if len(score) else 0.0}
