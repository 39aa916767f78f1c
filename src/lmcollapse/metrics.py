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
    if s.n_tokens < 2:
        return None
    within = np.ones(s.n_tokens - 1, dtype=bool)  # within[i]: tokens i and i+1 share a document
    boundary = s.offsets[1:-1] - 1
    within[boundary[(boundary >= 0) & (boundary < s.n_tokens - 1)]] = False
    starts = np.flatnonzero(within)
    if not len(starts):
        return None
    keys = s.tokens[starts].astype(np.int64) * s.vocab_size + s.tokens[starts + 1]
    return float(count_distinct(keys) / len(keys))


def distinct_ngrams(real: Corpus, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct n-gram of `real` once: (contexts (m, order-1) with -1 before the start, tokens (m,))."""
    stream, targets = padded_stream(real.tokens, real.lengths, order, real.vocab_size, real.eos_id)
    ids = np.zeros(len(targets), dtype=np.int64)
    for j in range(order):  # grow the key one older token at a time, renumbering to stay in int64
        ids = np.unique(ids * (real.vocab_size + 1) + stream[targets - j], return_inverse=True)[1].reshape(-1)
    order_of_ids = np.argsort(ids, kind="stable")
    first = order_of_ids[np.r_[True, np.diff(ids[order_of_ids]) != 0]]
    rows = targets[first]
    contexts = np.stack([stream[rows - order + 1 + i] for i in range(order - 1)], axis=1).astype(np.int64) \
        if order > 1 else np.zeros((len(rows), 0), np.int64)
    contexts[contexts == real.vocab_size] = -1
    return contexts, stream[rows].astype(np.int64)


def count_distinct(keys: np.ndarray) -> int:
    """len(np.unique(keys)), by sorting (numpy 2's hash-based unique is several times slower here)."""
    if not len(keys):
        return 0
    ordered = np.sort(keys)
    return int((ordered[1:] != ordered[:-1]).sum() + 1)


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
