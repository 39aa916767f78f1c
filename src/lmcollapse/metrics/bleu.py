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


def _clipped_matches_many(doc, gram, count, masks: np.ndarray) -> np.ndarray:
    """_clipped_matches within each subset of masks (R, n_docs): (R, n_docs), 0 for documents not kept.

    The pairs are sorted once, by count within each n-gram; in a subset, a pair's best other reference is
    then the first or the second kept pair of its n-gram, found by a running count of the kept pairs."""
    R, k = masks.shape
    same = gram[1:] == gram[:-1]  # pairs come sorted by n-gram
    shared = np.zeros(len(gram), bool)  # an n-gram found in a single document matches nothing in any
    shared[1:] |= same  # subset: leave it out
    shared[:-1] |= same
    doc, gram, count = doc[shared], gram[shared], count[shared]
    if len(doc) == 0:
        return np.zeros((R, k))
    by_gram = np.lexsort((-count, gram))  # by n-gram, largest count first
    g, c, d = gram[by_gram], count[by_gram], doc[by_gram]
    first = np.r_[True, g[1:] != g[:-1]]
    group = np.cumsum(first) - 1  # (P,) the n-gram of each pair, 0..G-1
    kept = masks[:, d]  # (R, P)
    running = np.cumsum(kept, axis=1, dtype=np.int32)  # (R, P) kept pairs up to and including each
    rank = running - (running - kept)[:, np.flatnonzero(first)][:, group]  # (R, P) 1: the n-gram's first kept
    best = np.zeros((R, group[-1] + 1))  # (R, G) largest kept count of each n-gram
    best_doc = np.full(best.shape, -1)  # (R, G) its document
    second = np.zeros(best.shape)  # (R, G) the next largest kept count
    r, p = np.nonzero(kept & (rank == 1))
    best[r, group[p]], best_doc[r, group[p]] = c[p], d[p]
    r, p = np.nonzero(kept & (rank == 2))
    second[r, group[p]] = c[p]
    best_other = np.where(best_doc[:, group] == d, second[:, group], best[:, group])  # (R, P)
    clipped = np.minimum(c, best_other) * kept  # (R, P)
    rows = np.arange(R)[:, None]
    return np.bincount((rows * k + d).ravel(), weights=clipped.ravel(), minlength=R * k).reshape(R, k)


def _log_precision_term(matches: np.ndarray, lengths: np.ndarray, n: int) -> np.ndarray:
    """log p_n / MAX_ORDER for documents of these lengths with these clipped matches (any shape alike)."""
    total = np.maximum(lengths - n + 1, 0)
    if n == 1:
        p = np.where(total > 0, matches / np.maximum(total, 1), 0.0)
    else:
        p = (matches + 1) / (np.maximum(total, 1) + 1)  # a document shorter than n: 1/2, as nltk
    with np.errstate(divide="ignore"):
        return np.log(p) / MAX_ORDER


def _brevity(lengths: np.ndarray, below: np.ndarray, above: np.ndarray) -> np.ndarray:
    """Brevity penalty against the closest other length, given the nearest other lengths below and above in
    sorted order (inf: none); ties go to the shorter, as nltk does."""
    closest = np.where(np.abs(lengths - below) <= np.abs(above - lengths), below, above)
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(lengths >= closest, 1.0, np.exp(1 - closest / np.maximum(lengths, 1e-9)))


def _flat(docs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lengths (k,) float, tokens (L,) int64, doc of each token (L,)) of documents side by side."""
    lengths = np.array([len(d) for d in docs], dtype=np.float64)
    tokens = np.concatenate([np.asarray(d, dtype=np.int64) for d in docs]) if docs else np.zeros(0, np.int64)
    return lengths, tokens, np.repeat(np.arange(len(docs)), lengths.astype(np.int64))


def self_bleu_scores(docs: list[np.ndarray]) -> np.ndarray:
    """(len(docs),) BLEU-4 of each document against the others."""
    k = len(docs)
    lengths, tokens, doc = _flat(docs)
    log_precision = np.zeros(k)
    for n in range(1, MAX_ORDER + 1):
        log_precision += _log_precision_term(_clipped_matches(*_pair_counts(tokens, doc, n, k), k), lengths, n)
    # In sorted order the candidates for the closest other length are the two neighbours.
    order = np.argsort(lengths, kind="stable")
    ranked = lengths[order]
    brevity = np.empty(k)
    brevity[order] = _brevity(ranked, np.r_[np.inf, ranked[:-1]], np.r_[ranked[1:], np.inf])
    scores = brevity * np.exp(log_precision)
    scores[lengths == 0] = 0.0
    return scores


def self_bleu_means(docs: list[np.ndarray], masks: np.ndarray) -> np.ndarray:
    """For each mask (R, k) over docs: the mean of self_bleu_scores of the documents it keeps, (R,), all masks
    at once, with no count or sort per subset."""
    R, k = masks.shape
    lengths, tokens, doc = _flat(docs)
    log_precision = np.zeros((R, k))
    for n in range(1, MAX_ORDER + 1):
        matches = _clipped_matches_many(*_pair_counts(tokens, doc, n, k), masks)  # (R, k)
        log_precision += _log_precision_term(matches, lengths, n)
    # The closest other length among the kept documents: their nearest kept neighbours in sorted order.
    order = np.argsort(lengths, kind="stable")
    ranked = np.r_[lengths[order], np.inf]  # (k + 1,): index k stands for "none"
    kept = masks[:, order]  # (R, k) in sorted order
    position = np.arange(k)
    up_to = np.maximum.accumulate(np.where(kept, position, -1), axis=1)  # (R, k) last kept at or before
    from_on = np.minimum.accumulate(np.where(kept, position, k)[:, ::-1], axis=1)[:, ::-1]  # first kept at or after
    below = np.c_[np.full((R, 1), -1), up_to[:, :-1]]  # (R, k) last kept strictly before
    above = np.c_[from_on[:, 1:], np.full((R, 1), k)]  # (R, k) first kept strictly after
    brevity = _brevity(ranked[:k], ranked[np.where(below < 0, k, below)], ranked[above])  # (R, k) sorted order
    scores = brevity * np.exp(log_precision[:, order])
    scores[:, lengths[order] == 0] = 0.0
    with np.errstate(invalid="ignore"):
        return (scores * kept).sum(axis=1) / kept.sum(axis=1)
