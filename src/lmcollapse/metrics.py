"""Collapse measurements taken at every generation, each registered with its direction and meaning.

A metric is a function of a GenerationView returning a float, a Resampled value (which also gets a 95%
confidence interval, written as NAME_lo and NAME_hi; see resampling.py), or None when it does not apply
(for example kl_to_truth on real text). Non-finite values are written to metrics.jsonl as null.
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
from .resampling import Resampled, transformed

METRICS = Registry("metric")
HIGHER_IS_BETTER: dict[str, bool | None] = {}
OPT_IN: set[str] = set()  # metrics computed only when the config lists them (slow or need an extra)
SUPPORT_THRESHOLD = 0.1  # "non-negligible" = above a tenth of the uniform probability 1/V
ENTROPY_POSITIONS = 200_000  # sampled positions averaged for model_entropy (standard error ~1e-3 nats)
MEASURED_DOCS = 50_000  # generated documents the sample-based metrics look at (bounded time and memory)


def metric(name: str, description: str, higher_is_better: bool | None, default: bool = True):
    def decorate(fn: Callable[["GenerationView"], "float | Resampled | None"]):
        HIGHER_IS_BETTER[name] = higher_is_better
        if not default:
            OPT_IN.add(name)
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
    local: dict = field(default_factory=dict)  # per-generation values shared by several metrics
    acceptance: float | None = None  # share of drawn documents that passed the gates (runner with gates)

    @cached_property
    def measured_samples(self) -> Corpus:
        """The first MEASURED_DOCS generated documents: i.i.d. draws, so a uniform subsample of S_t."""
        if len(self.samples) <= MEASURED_DOCS:
            return self.samples
        return self.samples.take(np.arange(MEASURED_DOCS))

    @cached_property
    def heldout_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(document index, log-prob) of every predicted symbol of the held-out documents."""
        return self.model.token_log_probs(self.held_out)

    @property
    def heldout_token_logp(self) -> np.ndarray:
        return self.heldout_scores[1]

    def heldout_nll(self) -> Resampled:
        doc, logp = self.heldout_scores
        n = len(self.held_out)
        return weighted_mean_ratio(-np.bincount(doc, weights=logp, minlength=n), np.bincount(doc, minlength=n))

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
    if view.acceptance is not None:
        return view.acceptance
    return len(view.kept) / len(view.samples) if len(view.samples) else None


@metric("heldout_nll", "nats per token (end token included) of held-out real documents under M_t", False)
def heldout_nll(view: GenerationView) -> Resampled:
    return view.heldout_nll()


@metric("heldout_ppl", "exp(heldout_nll): perplexity of held-out real text", False)
def heldout_ppl(view: GenerationView) -> Resampled:
    return transformed(view.heldout_nll(), lambda nll: float(np.exp(nll)))


def weighted_mean_ratio(sums: np.ndarray, counts: np.ndarray) -> Resampled:
    """sum(sums) / sum(counts) over documents: a per-token mean with documents as resampling units."""
    from .resampling import weighted_mean

    counts = counts.astype(np.float64)
    return weighted_mean(np.where(counts > 0, sums / np.maximum(counts, 1), 0.0), counts)


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
    return [name for name in METRICS.names() if name not in OPT_IN]


def measure(view: GenerationView, names: list[str], rng: np.random.Generator | None = None,
            rounds: int = 0) -> dict[str, float | None]:
    """One metrics row; Resampled values get NAME_lo / NAME_hi from `rounds` half-samples drawn with rng."""
    row: dict[str, float | None] = {"generation": view.generation}
    for name in names:
        value = METRICS.get(name)(view)
        if value is None:
            continue
        estimate = value if isinstance(value, Resampled) else None
        value = estimate.value if estimate else value
        row[name] = float(value) if np.isfinite(value) else None
        if estimate is not None and rng is not None and row[name] is not None:
            interval = estimate.interval(rng, rounds)
            if interval is not None:
                row[f"{name}_lo"], row[f"{name}_hi"] = (float(v) if np.isfinite(v) else None for v in interval)
    return row


def interval_columns(row: dict) -> set[str]:
    """The NAME_lo / NAME_hi keys of a metrics row."""
    return {k for k in row if (k.endswith("_lo") or k.endswith("_hi")) and k[:-3] in row}


from . import metrics_diversity, metrics_real  # noqa: E402,F401  (register their metrics)
