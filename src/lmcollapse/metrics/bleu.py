"""Self-BLEU, vectorised: each document's BLEU-4 against all the other documents as references.

Per order n: clipped n-gram matches (a hypothesis n-gram counts at most as often as it occurs in the
reference that has it most, excluding the hypothesis itself), add-one smoothing for n > 1 (Lin and Och,
2004; nltk's method2), uniform weights, and the brevity penalty against the closest other length.
"""
from __future__ import annotations

import numpy as np

MAX_ORDER = 4


def _pair_counts(tokens: np.ndarray, doc: np.ndarray, n: int, n_docs: int):
    """Distinct (document, n-gram) pairs with their counts: (doc (P,), gram key (P,), count (P,)).

    tokens, doc: (L,) all documents' tokens side by side and the document of each."""
    starts = np.arange(max(len(tokens) - n + 1, 0))
    starts = starts[doc[starts] == doc[starts + n - 1]]  # n-grams inside one document
    top = int(tokens.max()) + 1 if len(tokens) else 1
    if top ** n * n_docs < 2**62:  # one integer key per (n-gram, document): a 1-D unique is fast
        key = np.zeros(len(starts), np.int64)
        for i in range(n):
            key = key * top + tokens[starts + i]
        pair, count = np.unique(key * n_docs + doc[starts], return_counts=True)
        return pair % n_docs, pair // n_docs, count
    windows = np.stack([tokens[starts + i] for i in range(n)], axis=1)  # (P, n)
    _, gram = np.unique(windows, axis=0, return_inverse=True)
    pairs, count = np.unique(np.stack([gram.reshape(-1), doc[starts]], axis=1), axis=0, return_counts=True)
    return pairs[:, 1], pairs[:, 0], count


def _clipped_matches(doc, gram, count, n_docs: int) -> np.ndarray:
    """Per document: sum over its n-grams of min(count, best count of that n-gram in another document)."""
    if len(doc) == 0:
        return np.zeros(n_docs)
    order = np.lexsort((-count, gram))  # by n-gram, largest count first
    g, c, d = gram[order], count[order], doc[order]
    first = np.r_[True, g[1:] != g[:-1]]
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    top1, top1_doc = c[starts], d[starts]
    second = starts + 1
    has_second = np.r_[second[:-1] < starts[1:], second[-1:] < len(g)] if len(starts) else np.zeros(0, bool)
    top2 = np.where(has_second, c[np.minimum(second, len(g) - 1)], 0)
    best_other = np.where(d == top1_doc[group], top2[group], top1[group])
    return np.bincount(d, weights=np.minimum(c, best_other), minlength=n_docs)


def self_bleu_scores(docs: list[np.ndarray]) -> np.ndarray:
    """(len(docs),) BLEU-4 of each document against the others."""
    k = len(docs)
    lengths = np.array([len(d) for d in docs], dtype=np.float64)
    tokens = np.concatenate([np.asarray(d, dtype=np.int64) for d in docs]) if k else np.zeros(0, np.int64)
    doc = np.repeat(np.arange(k), lengths.astype(np.int64))
    log_precision = np.zeros(k)
    for n in range(1, MAX_ORDER + 1):
        matches = _clipped_matches(*_pair_counts(tokens, doc, n, k), k)
        total = np.maximum(lengths - n + 1, 0)
        if n == 1:
            p = np.where(total > 0, matches / np.maximum(total, 1), 0.0)
        else:
            p = (matches + 1) / (np.maximum(total, 1) + 1)  # a document shorter than n: 1/2, as nltk
        with np.errstate(divide="ignore"):
            log_precision += np.log(p) / MAX_ORDER
    # Brevity penalty: the closest length among the other documents (ties: the shorter, as nltk does);
    # in sorted order the candidates are the two neighbours.
    order = np.argsort(lengths, kind="stable")
    ranked = lengths[order]
    below = np.r_[np.inf, ranked[:-1]]  # neighbour before in sorted order (inf: none)
    above = np.r_[ranked[1:], np.inf]
    take_below = np.abs(ranked - below) <= np.abs(above - ranked)
    closest = np.empty(k)
    closest[order] = np.where(take_below, below, above)
    with np.errstate(divide="ignore", over="ignore"):
        brevity = np.where(lengths >= closest, 1.0, np.exp(1 - closest / np.maximum(lengths, 1e-9)))
    scores = brevity * np.exp(log_precision)
    scores[lengths == 0] = 0.0
    return scores
