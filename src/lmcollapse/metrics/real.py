"""What the model keeps of the real data: tail mass, support loss and real-set coverage."""
from __future__ import annotations

import numpy as np

from ..ngrams import doc_ngrams
from .base import SHARE, TAIL_SHARE, GenerationView, metric, rare_keys  # noqa: F401  (rare_keys: used by tests)
from .resampling import Resampled, weighted_mean


def _tail_mass(view: GenerationView, n: int) -> Resampled | None:
    rare = view.real_stats.rare_ngrams(n)
    samples = view.measured_samples
    keys, docs = doc_ngrams(samples, n)
    if len(keys) == 0:
        return None
    position = np.minimum(np.searchsorted(rare, keys), max(len(rare) - 1, 0))
    in_tail = (rare[position] == keys) if len(rare) else np.zeros(len(keys), bool)
    n_docs = len(samples)
    per_doc = np.bincount(docs, weights=in_tail, minlength=n_docs)
    total = np.bincount(docs, minlength=n_docs)
    return weighted_mean(np.where(total > 0, per_doc / np.maximum(total, 1), 0.0), total)


for _n in (1, 2):
    metric(f"tail_mass_{_n}", f"share of generated {_n}-grams that belong to the real tail (the rarest real "
                              f"{_n}-gram types, {TAIL_SHARE:.0%} of real occurrences)", True, bounds=SHARE, concern="tails")(
        lambda view, n=_n: _tail_mass(view, n))


@metric("support_loss", "share of the real training set's distinct bigrams that M_t's samples no longer contain", False,
        bounds=SHARE, concern="tails")
def support_loss(view: GenerationView) -> Resampled | None:
    real = view.real_stats.bigrams()
    samples = view.measured_samples
    keys, docs = doc_ngrams(samples, 2)
    if len(real) == 0:
        return None
    position = np.minimum(np.searchsorted(real, keys), len(real) - 1)
    hit = real[position] == keys
    index, hit_docs = position[hit], docs[hit]

    def on_subset(mask):
        return 1 - np.count_nonzero(np.bincount(index[mask[hit_docs]], minlength=len(real))) / len(real)

    return Resampled(on_subset(np.ones(len(samples), bool)), len(samples), on_subset)


@metric("real_coverage", "share of held-out real documents whose mean log-prob per token under M_t beats "
                         "a uniform guess (> -log V)", True, bounds=SHARE, concern="distance")
def real_coverage(view: GenerationView) -> Resampled | None:
    doc, logp = view.heldout_scores
    n_docs = len(view.held_out)
    per_doc = np.bincount(doc, weights=logp, minlength=n_docs) / np.maximum(np.bincount(doc, minlength=n_docs), 1)
    return weighted_mean((per_doc > -np.log(view.held_out.vocab_size)).astype(float))
