"""N-grams inside documents as int64 keys, with the document each comes from: the raw material of the
diversity, tail and support metrics. N-grams never cross a document boundary and never include the
end token (a corpus stores documents without it)."""
from __future__ import annotations

import numpy as np

from .corpus import Corpus
from .errors import LmcollapseError


def document_of_token(corpus: Corpus) -> np.ndarray:
    """(n_tokens,) index of the document each token belongs to."""
    return np.repeat(np.arange(len(corpus)), corpus.lengths)


def doc_ngrams(corpus: Corpus, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(keys (P,), docs (P,)): every n-gram occurrence within a document, key = sum tok_i V^(n-1-i)."""
    V = corpus.vocab_size
    if V ** n >= 2**63:
        raise LmcollapseError(f"{n}-grams over a vocabulary of {V} do not fit 63-bit keys; use a smaller n")
    tokens = corpus.tokens.astype(np.int64)
    doc = document_of_token(corpus)
    if len(tokens) < n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.arange(len(tokens) - n + 1)
    starts = starts[doc[starts] == doc[starts + n - 1]]  # the n-gram ends in the document it starts in
    keys = np.zeros(len(starts), np.int64)
    for i in range(n):
        keys = keys * V + tokens[starts + i]
    return keys, doc[starts]


def sorted_distinct(keys: np.ndarray) -> np.ndarray:
    """np.unique(keys) by sorting: several times faster than numpy 2's default for large int64 arrays."""
    if len(keys) == 0:
        return keys
    ordered = np.sort(keys)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


def ngram_counts(corpus: Corpus, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys (sorted), occurrences) of the n-grams inside documents, counted in chunks of
    documents so that memory follows the number of distinct n-grams, not the corpus."""
    from .models.ngram_table import COUNT_CHUNK, document_chunks

    keys, counts = np.zeros(0, np.int64), np.zeros(0, np.int64)
    for lo, hi in document_chunks(corpus.offsets, COUNT_CHUNK):
        part_keys, part_counts = np.unique(doc_ngrams(corpus.take(np.arange(lo, hi)), n)[0], return_counts=True)
        merged = np.concatenate([keys, part_keys])
        order = np.argsort(merged, kind="stable")
        merged, weights = merged[order], np.concatenate([counts, part_counts])[order]
        starts = np.flatnonzero(np.r_[True, merged[1:] != merged[:-1]]) if len(merged) else np.zeros(0, np.int64)
        keys, counts = merged[starts], np.add.reduceat(weights, starts) if len(starts) else weights
    return keys, counts
