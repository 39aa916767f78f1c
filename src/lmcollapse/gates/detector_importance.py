"""`detector-importance`: detector-guided importance resampling of the training pool, as Drayson et al. publish
it (EMNLP 2025, "Machine-generated text detection prevents language model collapse"; their code,
GeorgeDrayson/model_collapse, src/utils/data_selection_strategy.py and config/data_selection).

At every generation t >= 1 the pool is D_t's documents plus, with `include_real` (the paper's human data
share of 1), every real document of R not already in it; a detector of generated text scores every pool
document without knowing which is which, and the learner trains on `upsample` x |pool| documents drawn in
proportion to (1 - p_generated) ** beta, at most `max_copies` copies of any one (the paper's bias factor 10,
upsampling 1.5 and, in the configuration its runs use, 3 repeats; its train.py defaults to 10). Documents
that read as human fill the training set; what is obviously generated nearly vanishes. D_t itself, what the
policy keeps and builds on, is left as it was.

The detector (probes/detector.py: hashed n-gram logistic regression, where the paper uses a ModernBERT
fine-tuned on other data) learns R against D_t's generated documents. Every document is scored by a
detector that did not see it (two folds over R and the generated documents), and the AUC of those held-out
scores is the generation's `detector_auc`: how much there was to go on. The draw: every document stands
`max_copies` times, each copy with key log(w) + Gumbel noise, and the largest keys are taken, which samples
copies without replacement in proportion to the weights, as the paper's numpy choice does."""
from __future__ import annotations

import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import REAL, Corpus
from lmcollapse.gates.base import GATES, GateContext, Resampler
from lmcollapse.probes.detector import (
    FixedCorpusFeatures, auc, fit_classifier, ngram_features, p_generated_of, used_columns)


class DetectorImportanceGateConfig(Section):
    beta: float = Field(10.0, ge=0, description="a document's weight is (1 - p_generated) ** beta (the paper's "
                                                "bias factor; 0: uniform)")
    upsample: float = Field(1.5, ge=1, description="the learner's set holds upsample x the pool's documents")
    max_copies: int = Field(3, ge=1, description="the most copies of one document the resample may hold")
    include_real: bool = Field(True, description="R joins the pool (the paper's human data share of 1)")


@GATES.register("detector-importance", "the pool (D_t and R) resampled upsample x its size, weight (1 - "
                                       "p_generated)^beta from a detector of generated text, at most max_copies "
                                       "each (Drayson et al. 2025 as published)")
class DetectorImportance(Resampler):
    requires = ("sklearn",)
    config_class = DetectorImportanceGateConfig

    def __init__(self, config=None):
        super().__init__(config)
        self._real_features = FixedCorpusFeatures()  # R is the same every generation: featurized once a run

    def resample(self, train: Corpus, ctx: GateContext, rng: np.random.Generator) -> tuple[Corpus, dict]:
        c = self.config
        pool = train
        if c.include_real:
            missing = np.flatnonzero(~np.isin(ctx.real.doc_id, train.doc_id))  # R's documents not in D_t
            pool = Corpus.concat([train, ctx.real.take(missing)])
        p_generated, detector_auc = self.cross_fitted(pool, ctx.real, rng, self._real_features(ctx.real))
        log_weight = c.beta * np.log(np.clip(1.0 - p_generated, 1e-12, None))  # (|pool|,)
        want = min(int(round(c.upsample * len(pool))), c.max_copies * len(pool))
        copies = np.repeat(np.arange(len(pool)), c.max_copies)  # (|pool| * max_copies,) the document of each copy
        keys = log_weight[copies] + rng.gumbel(size=len(copies))
        chosen = np.sort(copies[np.argsort(-keys, kind="stable")[:want]])  # (want,) documents, repeats adjacent
        activity = {"detector_auc": detector_auc} if detector_auc is not None else {}
        return pool.take(chosen), activity

    @staticmethod
    def cross_fitted(train: Corpus, real: Corpus, rng: np.random.Generator,
                     real_features=None) -> tuple[np.ndarray, float | None]:
        """(p_generated of every document of train from a detector that did not see it, the AUC of the held-out
        scores of R against train's generated documents; None when train holds fewer than two generated
        documents, whose p_generated is then 0 for every document: nothing to tell apart). real_features:
        ngram_features(real) where the caller has them already."""
        from scipy import sparse

        generated = np.flatnonzero(train.origin != REAL)
        if len(generated) < 2:
            return np.zeros(len(train)), None
        real_rows = np.flatnonzero(train.origin == REAL)
        new_real = real_rows[~np.isin(train.doc_id[real_rows], real.doc_id)]  # fresh real documents, not in R
        x_real = ngram_features(real) if real_features is None else real_features  # (N, HASH_DIM)
        if len(new_real):  # a row's features are its document's own, so the fresh rows stack below R's
            real = Corpus.concat([real, train.take(new_real)])
            x_real = sparse.vstack([x_real, ngram_features(train.take(new_real))], format="csr")
        x_real, x_generated = used_columns(x_real, ngram_features(train.take(generated)))
        fold_real = rng.permutation(len(real)) % 2  # (N,) 0 or 1, half each
        fold_generated = rng.permutation(len(generated)) % 2
        p_real, p_gen = np.empty(len(real)), np.empty(len(generated))
        for k in (0, 1):  # fit on the other fold, score this one
            fit_r = rng.permutation(np.flatnonzero(fold_real != k))  # shuffled: the fit takes the first n of each
            fit_g = rng.permutation(np.flatnonzero(fold_generated != k))
            classifier = fit_classifier(x_real[fit_r], x_generated[fit_g])
            # every row scored (one sparse product), this fold's kept: cheaper than cutting the fold's rows out
            p_real[fold_real == k] = p_generated_of(classifier, x_real)[fold_real == k]
            p_gen[fold_generated == k] = p_generated_of(classifier, x_generated)[fold_generated == k]
        held_out_auc = auc(p_real, p_gen)
        p = np.empty(len(train))
        p[generated] = p_gen
        p[real_rows] = p_real[_positions_in(real.doc_id, train.doc_id[real_rows])]
        return p, held_out_auc


def _positions_in(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """(len(wanted),) where each wanted id stands in ids (every one is there)."""
    order = np.argsort(ids, kind="stable")
    return order[np.searchsorted(ids[order], wanted)]
