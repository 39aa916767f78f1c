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
