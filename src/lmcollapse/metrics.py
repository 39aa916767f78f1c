"""Collapse measurements taken at every generation, each registered with its direction and meaning.

A metric is a function of a GenerationView returning a float, or None when it does not apply (for
example kl_to_truth on real text). Non-finite values are written to metrics.jsonl as null.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import numpy as np

from .corpus import Corpus
from .divergence import exact_divergence
from .models.ngram_table import padded_stream
from .registry import Registry

METRICS = Registry("metric")
HIGHER_IS_BETTER: dict[str, bool | None] = {}
SUPPORT_THRESHOLD = 0.1  # "non-negligible" = above a tenth of the uniform probability 1/V


def metric(name: str, description: str, higher_is_better: bool | None):
    def decorate(fn: Callable[["GenerationView"], float | None]):
        HIGHER_IS_BETTER[name] = higher_is_better
        return METRICS.register(name, description)(fn)

    return decorate


@dataclass
class GenerationView:
    """Everything a metric may look at for generation t."""

    generation: int
    model: Any  # M_t, fitted on train
    train: Corpus  # D_t
    pool: Corpus  # what D_t was drawn from
    samples: Corpus  # S_t, all generated documents
    kept: Corpus  # K_t, those that passed the gates
    real: Corpus  # R
    held_out: Corpus  # E
    truth: Any | None = None
    doc_length: int | None = None
    cache: dict = field(default_factory=dict)  # per-run values that do not change (real n-gram ids)

    @cached_property
    def heldout_token_logp(self) -> np.ndarray:
        return self.model.token_log_probs(self.held_out)[1]

    @cached_property
    def divergence(self) -> tuple[float, float]:
        return exact_divergence(self.truth, self.model, self.doc_length)


@metric("n_train", "documents in the training set D_t", None)
def n_train(view: GenerationView) -> float:
    return float(len(view.train))


@metric("real_fraction", "share of D_t's documents that are real (from provenance)", True)
def real_fraction(view: GenerationView) -> float:
    return view.train.real_fraction()


@metric("pool_real_fraction", "share of real documents in the pool D_t was drawn from", True)
def pool_real_fraction(view: GenerationView) -> float:
    return view.pool.real_fraction()


@metric("acceptance_rate", "share of generated documents that passed the quality gates", None)
def acceptance_rate(view: GenerationView) -> float | None:
    return len(view.kept) / len(view.samples) if len(view.samples) else None


@metric("heldout_nll", "nats per token (end token included) of held-out real documents under M_t", False)
def heldout_nll(view: GenerationView) -> float:
    return float(-view.heldout_token_logp.mean())


@metric("heldout_ppl", "exp(heldout_nll): perplexity of held-out real text", False)
def heldout_ppl(view: GenerationView) -> float:
    return float(np.exp(-view.heldout_token_logp.mean()))


@metric("model_entropy", "entropy (nats) of M_t's next-token law, averaged over M_t's own samples", True)
def model_entropy(view: GenerationView) -> float | None:
    if view.samples.n_tokens == 0 and view.samples.eos_id is None:
        return None
    return float(view.model.context_entropies(view.samples).mean())


@metric("kl_to_truth", "exact KL(truth || M_t) in nats per token (known-truth sources)", False)
def kl_to_truth(view: GenerationView) -> float | None:
    return None if view.truth is None else view.divergence[0]


@metric("tv_to_truth", "mean total-variation distance of next-token laws, M_t vs truth (known-truth sources)", False)
def tv_to_truth(view: GenerationView) -> float | None:
    return None if view.truth is None else view.divergence[1]


@metric("support_fraction", "share of R's distinct n-grams (n = model order) M_t still supports: seen in "
                            "training for count models, p > 0.1/V for others", True)
def support_fraction(view: GenerationView) -> float | None:
    order = getattr(view.model, "order", None)
    if order is None:
        return None
    first = view.cache.get(("ngram_first", order))
    if first is None:
        first = _first_occurrences(view.real, order)
        view.cache[("ngram_first", order)] = first
    if hasattr(view.model, "seen_in_training"):
        return float(view.model.seen_in_training(view.real)[first].mean())
    _, logp = view.model.token_log_probs(view.real)
    return float((logp[first] > np.log(SUPPORT_THRESHOLD / view.real.vocab_size)).mean())


@metric("distinct_2", "distinct bigrams / all bigrams within M_t's generated documents", True)
def distinct_2(view: GenerationView) -> float | None:
    s = view.samples
    if s.n_tokens < 2:
        return None
    within = np.ones(s.n_tokens - 1, dtype=bool)  # within[i]: tokens i and i+1 share a document
    boundary = s.offsets[1:-1] - 1
    within[boundary[(boundary >= 0) & (boundary < s.n_tokens - 1)]] = False
    starts = np.flatnonzero(within)
    if not len(starts):
        return None
    keys = s.tokens[starts].astype(np.int64) * s.vocab_size + s.tokens[starts + 1]
    return float(len(np.unique(keys)) / len(keys))


def _first_occurrences(real: Corpus, order: int) -> np.ndarray:
    """Index (among predicted positions of `real`) of the first occurrence of each distinct n-gram."""
    stream, targets = padded_stream(real.tokens, real.lengths, order, real.vocab_size, real.eos_id)
    ids = np.zeros(len(targets), dtype=np.int64)
    for j in range(order):  # grow the key one older token at a time, renumbering to stay in int64
        ids = np.unique(ids * (real.vocab_size + 1) + stream[targets - j], return_inverse=True)[1].reshape(-1)
    return np.unique(ids, return_index=True)[1]


def default_metrics() -> list[str]:
    return METRICS.names()


def measure(view: GenerationView, names: list[str]) -> dict[str, float | None]:
    row: dict[str, float | None] = {"generation": view.generation}
    for name in names:
        value = METRICS.get(name)(view)
        if value is None:
            continue
        row[name] = float(value) if np.isfinite(value) else None
    return row
