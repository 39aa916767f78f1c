"""The n-gram occurrences of the generated documents, sorted once (each n from the n-1 below it) and shared
by every metric that counts them (distinct-n, repetition, tail mass, support loss), and counted again on
half-samples of documents without going back to the tokens.

A half-sample keeps a set of documents; what the counting metrics need of it is how many n-gram types
occur in at least one kept document. Those are read from the distinct (type, document) pairs: a type found
in a single document is present exactly when that document is kept (a per-document count does it), and
only the types shared by several documents need a pass over their pairs. Each half-sample then costs
O(documents + shared pairs) instead of a recount of every occurrence, and gives the same integers.
"""
from __future__ import annotations

from functools import cached_property
from typing import Iterator

import numpy as np

from lmcollapse.corpora.corpus import Corpus
from lmcollapse.corpora.ngrams import document_of_token, sorted_ngram_levels


class Presence:
    """How many of a set of types occur in a chosen subset of documents, from their (type, document) pairs
    sorted by type."""

    def __init__(self, pair_type: np.ndarray, pair_doc: np.ndarray, n_docs: int):
        first = np.r_[True, pair_type[1:] != pair_type[:-1]] if len(pair_type) else np.zeros(0, bool)
        starts = np.flatnonzero(first)  # (types,) first pair of each type
        sizes = np.diff(np.r_[starts, len(pair_type)])
        single = sizes == 1
        self.private = np.bincount(pair_doc[starts[single]], minlength=n_docs)  # (n_docs,) types found only there
        shared = np.repeat(~single, sizes)
        self.shared_doc = pair_doc[shared]  # the pairs of types found in several documents, grouped by type
        self.shared_start = np.r_[0, np.cumsum(sizes[~single])[:-1]].astype(np.int64)
        self.total = len(starts)

    def count(self, mask: np.ndarray) -> int:
        """Types with at least one occurrence in the documents where mask (n_docs,) is True."""
        found = int(self.private[mask].sum())
        if len(self.shared_doc):
            found += int(np.count_nonzero(np.logical_or.reduceat(mask[self.shared_doc], self.shared_start)))
        return found

    def count_many(self, masks: np.ndarray) -> np.ndarray:
        """count() for each of masks (R, n_docs) at once: (R,). The masks are packed as bits, one row of
        64-bit words per document, so one OR-reduction over the shared types' pairs serves every mask, and
        the bits set are counted byte column by byte column (a 256-bin histogram each)."""
        found = np.rint(masks.astype(np.float64) @ self.private).astype(np.int64)  # (R,), exact below 2^53
        if len(self.shared_doc):
            bits = packed_by_document(masks)  # (n_docs, words): bit r of a document's row = mask r
            # A document's row is gathered as one opaque item of its words' bytes: numpy copies fixed-size
            # items several times faster than rows of a 2-D array.
            row = np.dtype((np.void, bits.itemsize * bits.shape[1]))
            gathered = bits.view(row)[:, 0][self.shared_doc].view(np.uint64).reshape(-1, bits.shape[1])
            anywhere = np.bitwise_or.reduceat(gathered, self.shared_start, axis=0)  # (types, words)
            column_bytes = anywhere.view(np.uint8)  # (types, 8 words): byte j holds masks 8j..8j+7
            histogram = np.stack([np.bincount(column_bytes[:, j], minlength=256) for j in range(column_bytes.shape[1])])
            per_bit = histogram @ BIT_TABLE  # (bytes, 8): types with that mask's bit set
            found += per_bit.reshape(-1)[: len(masks)]
        return found


def packed_by_document(masks: np.ndarray) -> np.ndarray:
    """masks (R, n_docs) boolean -> (n_docs, ceil(R / 64)) uint64, bit r (little-endian) set where mask r
    keeps the document. Packed along the rows of the transposed masks, which numpy does several times
    faster than down their columns."""
    R, n_docs = masks.shape
    words = -(-R // 64)
    by_document = np.zeros((n_docs, 64 * words), bool)
    by_document[:, :R] = masks.T
    return np.packbits(by_document, axis=1, bitorder="little").view(np.uint64)


BIT_TABLE = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1, bitorder="little").astype(np.int64)  # (256, 8)


class Occurrences:
    """The occurrences of n-grams inside documents, kept as their distinct (type, document) pairs: built from
    every occurrence's packed key and document, sorted by key then document, which are not kept (memory:
    the pairs only)."""

    def __init__(self, keys: np.ndarray, docs: np.ndarray, n_docs: int):
        self.n_docs, self.size = n_docs, len(keys)
        self.per_doc = np.bincount(docs, minlength=n_docs)  # (n_docs,) occurrences in each document
        # pairs: the distinct (type, document) pairs in the same order, (type (Q,), doc (Q,), count (Q,)),
        # type indexing `distinct` (types,), the sorted distinct keys.
        starts = np.flatnonzero(np.r_[True, (keys[1:] != keys[:-1]) | (docs[1:] != docs[:-1])]) if len(keys) \
            else np.zeros(0, np.int64)
        key, doc = keys[starts], docs[starts]
        self.pair_count = np.diff(np.r_[starts, len(keys)]).astype(np.int32)  # int32 as below: pairs number ~P
        first = np.r_[True, key[1:] != key[:-1]] if len(key) else np.zeros(0, bool)
        self.distinct = key[first]
        self.pair_type, self.pair_doc = np.cumsum(first, dtype=np.int32) - 1, doc

    def __len__(self) -> int:
        return self.size

    @property
    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return self.pair_type, self.pair_doc, self.pair_count

    @property
    def n_distinct(self) -> int:
        return len(self.distinct)

    @cached_property
    def presence(self) -> Presence:
        return Presence(self.pair_type, self.pair_doc, self.n_docs)

    def presence_among(self, keep_type: np.ndarray) -> Presence:
        """Presence of the types where keep_type (types,) is True."""
        kept = keep_type[self.pair_type]
        return Presence(self.pair_type[kept], self.pair_doc[kept], self.n_docs)

    def per_doc_among(self, keep_type: np.ndarray) -> np.ndarray:
        """(n_docs,) occurrences in each document of the types where keep_type (types,) is True."""
        return np.bincount(self.pair_doc, weights=self.pair_count * keep_type[self.pair_type], minlength=self.n_docs)

    def member_of(self, sorted_keys: np.ndarray) -> np.ndarray:
        """(types,) whether each distinct key is in sorted_keys (sorted, distinct)."""
        if len(sorted_keys) == 0:
            return np.zeros(self.n_distinct, bool)
        position = np.minimum(np.searchsorted(sorted_keys, self.distinct), len(sorted_keys) - 1)
        return sorted_keys[position] == self.distinct


def occurrence_levels(corpus: Corpus, up_to: int) -> Iterator[tuple[int, Occurrences]]:
    """(n, Occurrences of the n-grams of corpus's documents) for n = 1 .. up_to, each level's sort made from
    the one below (ngrams.sorted_ngram_levels)."""
    doc_of = document_of_token(corpus, np.int32)  # (N,) int32: half the memory
    for n, keys, positions in sorted_ngram_levels(corpus, up_to):
        found = Occurrences(keys, doc_of[positions], len(corpus))
        del keys, positions  # (P_n,) each: freed before the next level is sorted
        yield n, found
