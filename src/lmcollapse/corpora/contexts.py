"""Every predicted position of a corpus with the tokens before it: what a next-token law is asked about."""
from __future__ import annotations

import numpy as np

from lmcollapse.corpora.corpus import Corpus


def positions(corpus: Corpus, with_end: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(doc (P,), position in doc (P,), target token (P,)) of every predicted symbol, in document order;
    the end token is the last target of each document when the corpus has one and with_end is set."""
    end = corpus.eos_id is not None and with_end
    per_doc = corpus.lengths + (1 if end else 0)
    doc = np.repeat(np.arange(len(corpus)), per_doc)
    starts = np.repeat(np.cumsum(per_doc) - per_doc, per_doc)
    pos = np.arange(len(doc)) - starts
    target = np.empty(len(doc), dtype=np.int64)
    inside = pos < corpus.lengths[doc]
    target[inside] = corpus.tokens[corpus.offsets[doc[inside]] + pos[inside]]
    target[~inside] = corpus.eos_id if end else 0
    return doc, pos, target


def context_rows(corpus: Corpus, doc: np.ndarray, pos: np.ndarray, width: int) -> np.ndarray:
    """(P, width) the `width` tokens before each position, -1 before the document starts."""
    out = np.full((len(doc), width), -1, dtype=np.int64)
    for k in range(1, width + 1):
        back = pos - k
        ok = back >= 0
        out[ok, width - k] = corpus.tokens[corpus.offsets[doc[ok]] + back[ok]]
    return out


def truth_log_probs(truth, corpus: Corpus) -> np.ndarray:
    """(documents,) log-probability of each document (end token included) under a known truth."""
    doc, pos, target = positions(corpus)
    probs = truth.next_token_probs(context_rows(corpus, doc, pos, max(truth.order, 1)))
    with np.errstate(divide="ignore"):
        logp = np.log(probs[np.arange(len(target)), target])
    return np.bincount(doc, weights=logp, minlength=len(corpus))
