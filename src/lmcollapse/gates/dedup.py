"""`dedup`: exact and near-duplicate removal with MinHash over token n-grams (shingles).

A candidate is dropped when it is identical to, or has an estimated Jaccard similarity of its shingle
sets of at least `threshold` with, a document already in the training set D_t, kept earlier in this
generation, or earlier in this batch. Candidate pairs come from locality-sensitive hashing (`bands`
bands of `rows` signature values each): two documents with Jaccard similarity s share a band with
probability 1 - (1 - s^rows)^bands (0.9996 at s = 0.8 with 16 x 4), so pairs above the threshold are
almost never missed, and each pair found is then checked on the whole signature. Score: the highest
estimated similarity to an earlier document.
"""
from __future__ import annotations

import zlib

import numpy as np
from pydantic import Field, model_validator

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.corpora.ngrams import doc_ngrams
from lmcollapse.gates.base import GATES, Filter, GateContext

MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
MAX_COMPARED = 50  # earlier members of one LSH bucket a document is checked against


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: a well-spread 64-bit hash of uint64 values (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def signatures(corpus: Corpus, n: int, num_perm: int, seed: int = 0) -> np.ndarray:
    """(documents, num_perm) MinHash signatures of each document's set of token n-grams; a document
    shorter than n is one shingle (its whole token sequence), an empty one gets all-max values."""
    keys, docs = doc_ngrams(corpus, n)
    short = np.flatnonzero((corpus.lengths < n) & (corpus.lengths > 0))
    if len(short):  # hash the whole short document into one key, offset away from n-gram keys
        whole = np.array([(zlib.crc32(corpus.doc(i).tobytes()) << 20 | int(corpus.lengths[i])) + 2**62
                          for i in short], dtype=np.int64)  # deterministic across processes, unlike hash()
        keys, docs = np.concatenate([keys, whole]), np.concatenate([docs, short])
    order = np.argsort(docs, kind="stable")
    keys, docs = keys[order].astype(np.uint64), docs[order]
    out = np.full((len(corpus), num_perm), MASK64, dtype=np.uint64)
    if len(keys) == 0:
        return out
    starts = np.r_[0, np.flatnonzero(docs[1:] != docs[:-1]) + 1]
    salts = _mix(np.arange(1, num_perm + 1, dtype=np.uint64) + np.uint64(seed) * np.uint64(1000003))
    for j, salt in enumerate(salts):
        out[docs[starts], j] = np.minimum.reduceat(_mix(keys ^ salt), starts)
    return out


class DedupGateConfig(Section):
    threshold: float = Field(0.8, gt=0, le=1, description="MinHash Jaccard similarity from which a document is a "
                                                          "near-duplicate")
    ngram: int = Field(3, ge=1, description="tokens per shingle")
    num_perm: int = Field(64, ge=1, description="MinHash permutations")
    bands: int = Field(16, ge=1, description="LSH bands (num_perm must be a multiple)")

    @model_validator(mode="after")
    def _bands_divide_permutations(self):
        if self.num_perm % self.bands:
            raise ValueError(f"num_perm ({self.num_perm}) must be a multiple of bands ({self.bands})")
        return self


@GATES.register("dedup", "drop exact and near-duplicate documents (MinHash Jaccard >= threshold over "
                         "token n-grams) of D_t, earlier keeps or earlier candidates")
class Dedup(Filter):
    config_class = DedupGateConfig

    def __init__(self, config: DedupGateConfig | None = None):
        super().__init__(config)
        c = self.config
        self.threshold, self.ngram, self.num_perm, self.bands = c.threshold, c.ngram, c.num_perm, c.bands

    def keep(self, corpus: Corpus, ctx: GateContext, rng) -> tuple[np.ndarray, np.ndarray]:
        reference = Corpus.concat([ctx.train, *ctx.earlier]) if ctx.earlier else ctx.train
        n_ref = len(reference)
        sig = np.concatenate([signatures(reference, self.ngram, self.num_perm),
                              signatures(corpus, self.ngram, self.num_perm)])  # (n_ref + n, num_perm)
        similarity = np.zeros(len(corpus))
        rows = self.num_perm // self.bands
        for b in range(self.bands):
            band = sig[:, b * rows:(b + 1) * rows]
            bucket = _mix(band[:, 0])
            for r in range(1, rows):
                bucket = _mix(bucket ^ band[:, r])
            order = np.argsort(bucket, kind="stable")  # stable: earlier documents first within a bucket
            sorted_bucket = bucket[order]
            starts = np.r_[0, np.flatnonzero(sorted_bucket[1:] != sorted_bucket[:-1]) + 1, len(order)]
            for lo, hi in zip(starts[:-1], starts[1:]):
                if hi - lo < 2:
                    continue
                members = order[lo:hi]
                for k in range(1, len(members)):
                    j = members[k]
                    if j < n_ref:
                        continue  # only candidates are judged
                    earlier = members[max(0, k - MAX_COMPARED):k]
                    estimate = (sig[earlier] == sig[j]).mean(axis=1).max()
                    similarity[j - n_ref] = max(similarity[j - n_ref], estimate)
        return similarity < self.threshold, similarity
