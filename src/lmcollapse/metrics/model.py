"""Metrics of the model and its training data: provenance shares, held-out likelihood, entropy, support
and the distance to a known truth."""
from __future__ import annotations

import numpy as np

from lmcollapse.corpora.contexts import context_rows, positions, truth_log_probs
from lmcollapse.models.base import Capability
from lmcollapse.metrics.base import NON_NEGATIVE, SHARE, GenerationView, metric, weighted_mean_ratio
from lmcollapse.metrics.divergence import exact_divergence
from lmcollapse.metrics.resampling import Resampled, transformed



@metric("n_train", "documents in the training set D_t", None, by_design=True, concern="composition")
def n_train(view: GenerationView) -> float:
    return float(len(view.train))


@metric("real_fraction", "share of D_t's documents that are real (from provenance)", True, by_design=True, bounds=SHARE, concern="composition")
def real_fraction(view: GenerationView) -> float:
    return view.train.real_fraction()


@metric("pool_real_fraction", "share of real documents in the pool D_t was drawn from", True, by_design=True,
        bounds=SHARE, concern="composition")
def pool_real_fraction(view: GenerationView) -> float:
    return view.pool.real_fraction()


@metric("acceptance_rate", "share of generated documents that passed the quality gates", None, needs=("gates",),
        bounds=SHARE, concern="composition")
def acceptance_rate(view: GenerationView) -> float | None:
    if view.acceptance is not None:
        return view.acceptance
    return len(view.kept) / len(view.samples) if len(view.samples) else None


@metric("heldout_nll", "nats per token (end token included) of held-out real documents under M_t", False,
        bounds=NON_NEGATIVE, concern="distance")
def heldout_nll(view: GenerationView) -> Resampled:
    return view.heldout_nll()


@metric("heldout_ppl", "exp(heldout_nll): perplexity of held-out real text", False, bounds=(1.0, None), concern="distance")
def heldout_ppl(view: GenerationView) -> Resampled:
    return transformed(view.heldout_nll(), lambda nll: float(np.exp(nll)))


@metric("model_entropy", "entropy (nats) of M_t's next-token law, averaged over contexts of M_t's own samples", True,
        bounds=NON_NEGATIVE)
def model_entropy(view: GenerationView) -> float | None:
    return view.samples_entropy


@metric("kl_to_truth", "KL(truth || M_t) in nats per token (known-truth sources): exact for count models; "
                       "for neural ones estimated on the held-out truth documents, with an interval", False,
        needs=("truth",), bounds=NON_NEGATIVE, concern="distance")
def kl_to_truth(view: GenerationView) -> float | Resampled | None:
    if view.truth is None:
        return None
    if view.model.supports(Capability.ENUMERABLE_CONTEXTS):
        return exact_divergence(view.truth, view.model, view.doc_length)[0]
    # A model that reads the whole prefix has no finite state space to enumerate. Held-out documents are
    # draws from the truth, so the mean of log p_true - log p_model per symbol estimates the same KL without
    # bias (chain rule), and half-sampling the documents gives its interval.
    doc, logp = view.heldout_scores
    n = len(view.held_out)
    model_logp = np.bincount(doc, weights=logp, minlength=n)
    return weighted_mean_ratio(truth_log_probs(view.truth, view.held_out) - model_logp, np.bincount(doc, minlength=n))


@metric("tv_to_truth", "mean total-variation distance of next-token laws, M_t vs truth, over the truth's positions "
                       "(known-truth sources; exact for count models, estimated on held-out documents for neural)",
        False, needs=("truth",), bounds=SHARE, concern="distance")
def tv_to_truth(view: GenerationView) -> float | Resampled | None:
    if view.truth is None:
        return None
    if view.model.supports(Capability.ENUMERABLE_CONTEXTS):
        return exact_divergence(view.truth, view.model, view.doc_length)[1]
    held = view.held_out
    doc, pos, _ = positions(held)
    p_true = view.truth.next_token_probs(context_rows(held, doc, pos, max(view.truth.order, 1)))  # (P, V)
    p_model = view.model.position_probs(held, doc, pos)  # (P, V)
    tv = 0.5 * np.abs(p_true - p_model).sum(axis=1)  # (P,)
    return weighted_mean_ratio(np.bincount(doc, weights=tv, minlength=len(held)), np.bincount(doc, minlength=len(held)))


@metric("support_fraction", "share of R's distinct n-grams (n = model order) that M_t saw in training (count "
                            "models; support_loss measures any model from its samples)", True, needs=("support",),
        bounds=SHARE, concern="tails")
def support_fraction(view: GenerationView) -> float | None:
    if not view.model.supports(Capability.SUPPORT):
        return None
    contexts, tokens = view.real_stats.distinct_ngrams(view.model.context_width + 1)
    return float(view.model.seen(contexts, tokens).mean())
