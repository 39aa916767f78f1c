"""What the model keeps of the real data: tail mass, support loss and real-set coverage."""
from __future__ import annotations

import numpy as np

from lmcollapse.metrics.base import (
    SHARE, TAIL_SHARE, GenerationView, metric, rare_keys)  # noqa: F401  (rare_keys: used by tests)
from lmcollapse.metrics.resampling import Resampled, weighted_mean


def _tail_mass(view: GenerationView, n: int) -> Resampled | None:
    grams = view.occurrences(n)
    if len(grams) == 0:
        return None
    per_doc = grams.per_doc_among(grams.member_of(view.real_stats.rare_ngrams(n)))  # tail occurrences
    total = grams.per_doc
    return weighted_mean(np.where(total > 0, per_doc / np.maximum(total, 1), 0.0), total)


for _n in (1, 2):
    metric(f"tail_mass_{_n}", f"share of generated {_n}-grams that belong to the real tail (the rarest real "
                              f"{_n}-gram types, {TAIL_SHARE:.0%} of real occurrences)", True, bounds=SHARE, concern="tails")(
        lambda view, n=_n: _tail_mass(view, n))


@metric("support_loss", "share of the real training set's distinct bigrams that M_t's samples no longer contain", False,
        bounds=SHARE, concern="tails")
def support_loss(view: GenerationView) -> Resampled | None:
    real = view.real_stats.bigrams()
    if len(real) == 0:
        return None
    grams = view.occurrences(2)
    kept = grams.presence_among(grams.member_of(real))  # the real bigrams the samples contain

    def on_subset(mask):
        return 1 - kept.count(mask) / len(real)

    return Resampled(1 - kept.total / len(real), grams.n_docs, on_subset,
                     lambda masks: 1 - kept.count_many(masks) / len(real))


@metric("real_coverage", "share of held-out real documents whose mean log-prob per token under M_t beats "
                         "a uniform guess (> -log V)", True, bounds=SHARE, concern="distance")
def real_coverage(view: GenerationView) -> Resampled | None:
    doc, logp = view.heldout_scores
    n_docs = len(view.held_out)
    per_doc = np.bincount(doc, weights=logp, minlength=n_docs) / np.maximum(np.bincount(doc, minlength=n_docs), 1)
    return weighted_mean((per_doc > -np.log(view.held_out.vocab_size)).astype(float))
