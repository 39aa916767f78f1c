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
from .errors import LmcollapseError
from .models.ngram_table import COUNT_CHUNK, ONE_SORT_MAX, document_chunks, padded_stream
from .registry import Registry

METRICS = Registry("metric")
HIGHER_IS_BETTER: dict[str, bool | None] = {}
SUPPORT_THRESHOLD = 0.1  # "non-negligible" = above a tenth of the uniform probability 1/V
ENTROPY_POSITIONS = 200_000  # sampled positions averaged for model_entropy (standard error ~1e-3 nats)


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


@metric("model_entropy", "entropy (nats) of M_t's next-token law, averaged over contexts of M_t's own samples", True)
def model_entropy(view: GenerationView) -> float | None:
    s = view.samples
    if s.n_tokens == 0 and s.eos_id is None:
        return None
    # Generated documents are i.i.d., so the first ones covering ENTROPY_POSITIONS positions are an
    # unbiased sample of the model's contexts; using every position costs time and adds nothing visible.
    enough = int(np.searchsorted(s.offsets, ENTROPY_POSITIONS)) + 1
    return float(view.model.context_entropies(s.take(np.arange(min(enough, len(s))))).mean())


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
    key = ("distinct_real_ngrams", order)
    if key not in view.cache:  # the same for every generation: compute once per run
        view.cache[key] = distinct_ngrams(view.real, order)
    contexts, tokens = view.cache[key]
    if hasattr(view.model, "seen"):
        return float(view.model.seen(contexts, tokens).mean())
    probs = view.model.next_token_probs(contexts)[np.arange(len(tokens)), tokens]
    return float((probs > SUPPORT_THRESHOLD / view.real.vocab_size).mean())


@metric("distinct_2", "distinct bigrams / all bigrams within M_t's generated documents", True)
def distinct_2(view: GenerationView) -> float | None:
    s = view.samples
    wide = np.int64 if s.vocab_size**2 >= 2**31 else np.int32  # int32 keys sort about twice as fast
    distinct, total = np.zeros(0, wide), 0
    for lo, hi in document_chunks(s.offsets, COUNT_CHUNK):  # memory follows the distinct bigrams
        tokens = s.tokens[s.offsets[lo]:s.offsets[hi]].astype(wide)
        starts = s.offsets[lo:hi] - s.offsets[lo]
        within = np.ones(max(len(tokens) - 1, 0), dtype=bool)  # within[i]: tokens i, i+1 share a document
        boundary = starts[1:] - 1
        within[boundary[(boundary >= 0) & (boundary < len(within))]] = False
        keys = (tokens[:-1] * s.vocab_size + tokens[1:])[within]
        distinct, total = _union(distinct, keys), total + len(keys)
    return float(len(distinct) / total) if total else None


def distinct_ngrams(real: Corpus, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct n-gram of `real` once: (contexts (m, order-1) with -1 before the start, tokens (m,)).

    N-grams are packed into one int64 key (context key * V + token, as in the count tables) and
    collected chunk by chunk, so memory follows the number of distinct n-grams."""
    V, base, width = real.vocab_size, real.vocab_size + 1, order - 1
    if base**width * V >= ONE_SORT_MAX:
        raise LmcollapseError(f"support_fraction: order {order} n-grams over {V} tokens do not fit 63 bits; "
                              f"drop the metric or lower model.order")
    keys = np.zeros(0, np.int64)
    for lo, hi in document_chunks(real.offsets, COUNT_CHUNK):
        part = real.offsets[lo:hi + 1]
        stream, targets = padded_stream(real.tokens[part[0]:part[-1]], np.diff(part), order, V, real.eos_id)
        key = np.zeros(len(targets), dtype=np.int64)
        for i in range(width, 0, -1):  # Horner's rule, oldest context token first
            key *= base
            key += stream[targets - i]
        key = key * V + stream[targets]
        keys = _union(keys, key)
    tokens, context_key = keys % V, keys // V
    contexts = np.stack([(context_key // base**i) % base for i in range(width - 1, -1, -1)], axis=1) \
        if width else np.zeros((len(keys), 0), np.int64)
    contexts[contexts == V] = -1
    return contexts, tokens


def _union(sorted_keys: np.ndarray, new_keys: np.ndarray) -> np.ndarray:
    merged = np.sort(np.concatenate([sorted_keys, new_keys]))
    return merged[np.r_[True, merged[1:] != merged[:-1]]] if len(merged) else merged


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
