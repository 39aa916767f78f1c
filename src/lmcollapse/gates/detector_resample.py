"""`detector-resample`: importance resampling by a detector of generated text (Drayson et al., EMNLP 2025,
"Machine-generated text detection prevents language model collapse").

Each generation the model writes `upsample` times as many candidates as it contributes. A detector
(probes/detector.py) learns to tell them from real documents, and each candidate is weighted by
(1 - p_generated) ** beta: what reads as real is favoured, what is obviously generated is avoided. The
contribution is then drawn from the candidates in proportion to those weights, with at most `max_repeats`
copies of any one candidate, so the number of documents entering the data is the same as without the gate
(its cost is the extra sampling and the detector fits, counted in the generation's seconds).

The detector's p_generated of a candidate always comes from a detector that did not see it (two-fold
cross-fitting: each half of the candidates, with half of R, fits the detector that scores the other half).
The draw: every candidate stands `max_repeats` times, each copy with key log(w) + Gumbel noise, and the
`n` largest keys are taken: sampling without replacement in proportion to the weights. Score per document:
its p_generated."""
from __future__ import annotations

from typing import Literal

import math

import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import SYNTHETIC, Corpus
from lmcollapse.probes.detector import (
    FixedCorpusFeatures, auc, fit_classifier, ngram_features, p_generated_of, used_columns)
from lmcollapse.models.base import Capability
from lmcollapse.gates.base import GATES, GateContext, Producer

PROBE_LENGTH = 256  # hidden features: the state at the last of a document's first tokens


class DetectorResampleGateConfig(Section):
    upsample: float = Field(4.0, ge=1, description="candidates drawn per document the generation contributes")
    beta: float = Field(1.0, ge=0, description="a candidate's weight is (1 - p_generated) ** beta (0: no preference)")
    max_repeats: int = Field(2, ge=1, description="the most copies of one candidate the resample may hold")
    features: Literal["ngrams", "hidden"] = Field("ngrams", description="the detector's input: hashed token n-grams, "
                                                                        "or the model's final hidden state (gpt, hf)")


@GATES.register("detector-resample", "candidates drawn upsample x the contribution, weighted by (1 - p_generated)"
                                     "^beta from a detector of generated text, resampled with a cap on repeats "
                                     "(replaces free sampling)")
class DetectorResample(Producer):
    requires = ("sklearn",)
    config_class = DetectorResampleGateConfig

    def __init__(self, config=None):
        super().__init__(config)
        self._real_ngrams = FixedCorpusFeatures()  # R is the same every generation: featurized once a run

    @classmethod
    def model_needs(cls, section) -> str | None:
        return Capability.HIDDEN_STATES if section.features == "hidden" else None

    def generate(self, n: int, ctx: GateContext, *, seed: int, generation: int, first_id: int,
                 producer: str) -> tuple[Corpus, np.ndarray]:
        c = self.config
        rng = np.random.default_rng(seed)
        m = int(math.ceil(c.upsample * n))
        candidates = ctx.model.sample(m, sampler=ctx.sampler, seed=seed, generation=generation, first_id=first_id,
                                      producer=producer)
        p_generated = self._cross_fitted(candidates, ctx, rng)  # (m,)
        log_weight = c.beta * np.log(np.clip(1.0 - p_generated, 1e-12, None))  # (m,)
        copies = np.repeat(np.arange(m), c.max_repeats)  # (m * max_repeats,) candidate of each copy
        keys = log_weight[copies] + rng.gumbel(size=len(copies))
        chosen = np.sort(copies[np.argsort(-keys, kind="stable")[:n]])  # (n,) candidate indices, in drawing order
        picked = candidates.take(chosen)
        out = Corpus.from_flat(picked.tokens, picked.lengths, vocab_size=picked.vocab_size, eos_id=picked.eos_id,
                               origin=SYNTHETIC, generation=generation, producer=producer, seed=seed,
                               first_id=first_id)
        return out, p_generated[chosen]

    def _cross_fitted(self, candidates: Corpus, ctx: GateContext, rng: np.random.Generator) -> np.ndarray:
        """p_generated of every candidate from a detector fitted without it. Every document is featurized
        once (a row of the whole set's features is the document's own: rows are normalised one by one)."""
        from scipy import sparse

        featurize = self._features(ctx)
        order = rng.permutation(len(candidates))
        halves = [np.sort(order[0::2]), np.sort(order[1::2])]
        real_order = rng.permutation(len(ctx.real))
        # (m, F), (N, F); a row is its document's own, so R's rows in real_order are R reordered's features
        x_candidates, x_real = featurize(candidates), self._features_of_real(ctx)[real_order]
        if sparse.issparse(x_candidates):
            x_candidates, x_real = used_columns(x_candidates, x_real)
        real_halves = [np.arange(0, len(real_order), 2), np.arange(1, len(real_order), 2)]
        p = np.empty(len(candidates))
        p_real = np.empty(len(real_order))  # R's documents, each scored by the detector fitted on the other half
        for fit_half, score_half, real_half in ((0, 1, 0), (1, 0, 1)):
            classifier = fit_classifier(x_real[real_halves[real_half]], x_candidates[halves[fit_half]])
            p[halves[score_half]] = p_generated_of(classifier, x_candidates[halves[score_half]])
            p_real[real_halves[1 - real_half]] = p_generated_of(classifier, x_real[real_halves[1 - real_half]])
        self._auc = auc(p_real, p)
        return p

    def activity(self, produced: Corpus, score: np.ndarray) -> dict[str, float]:
        """The held-out AUC of the detector whose scores weighted the candidates (of the last round drawn)."""
        return {"detector_auc": self._auc} if getattr(self, "_auc", None) is not None else {}

    def _features(self, ctx: GateContext):
        if self.config.features == "ngrams":
            return ngram_features
        return lambda corpus: ctx.model.features(corpus, PROBE_LENGTH)

    def _features_of_real(self, ctx: GateContext):
        """R's features, in R's order: n-grams once a run; hidden states each generation (M_t's own)."""
        if self.config.features == "ngrams":
            return self._real_ngrams(ctx.real)
        return self._features(ctx)(ctx.real)
