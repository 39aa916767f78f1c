"""The n-gram occurrences of the generated documents, sorted once and shared by every metric that counts
them (distinct-n, repetition, tail mass, support loss), and counted again on half-samples of documents
without going back to the tokens.

A half-sample keeps a set of documents; what the counting metrics need of it is how many n-gram types
occur in at least one kept document. Those are read from the distinct (type, document) pairs: a type found
in a single document is present exactly when that document is kept (a per-document count does it), and
only the types shared by several documents need a pass over their pairs. Each half-sample then costs
O(documents + shared pairs) instead of a recount of every occurrence, and gives the same integers.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np


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


class Occurrences:
    """Every occurrence of an n-gram inside a document: its packed key and its document, in document order."""

    def __init__(self, keys: np.ndarray, docs: np.ndarray, n_docs: int):
        self.keys, self.docs, self.n_docs = keys, docs, n_docs

    def __len__(self) -> int:
        return len(self.keys)

    @cached_property
    def _by_key(self) -> tuple[np.ndarray, np.ndarray]:
        """(order (P,), first (P,)): a stable sort by key (documents stay ascending within a key) and where
        each new key starts in that order."""
        order = np.argsort(self.keys, kind="stable")  # stable is a radix-like merge for int64: the fastest here
        ordered = self.keys[order]
        return order, np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else np.zeros(0, bool)

    @cached_property
    def distinct(self) -> np.ndarray:
        """(types,) the sorted distinct keys."""
        order, first = self._by_key
        return self.keys[order[first]]

    @property
    def n_distinct(self) -> int:
        return len(self.distinct)

    @cached_property
    def inverse(self) -> np.ndarray:
        """(P,) the type index (into distinct) of each occurrence."""
        order, first = self._by_key
        out = np.empty(len(order), np.int64)
        out[order] = np.cumsum(first) - 1
        return out

    @cached_property
    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The distinct (type, document) pairs sorted by type then document: (type (Q,), doc (Q,), count (Q,))."""
        order, first = self._by_key
        doc = self.docs[order]
        new = first | np.r_[True, doc[1:] != doc[:-1]] if len(doc) else first
        starts = np.flatnonzero(new)
        counts = np.diff(np.r_[starts, len(doc)])
        return (np.cumsum(first)[starts] - 1), doc[starts], counts

    @cached_property
    def per_doc(self) -> np.ndarray:
        """(n_docs,) occurrences in each document."""
        return np.bincount(self.docs, minlength=self.n_docs)

    @cached_property
    def presence(self) -> Presence:
        pair_type, pair_doc, _ = self.pairs
        return Presence(pair_type, pair_doc, self.n_docs)

    def presence_among(self, keep_type: np.ndarray) -> Presence:
        """Presence of the types where keep_type (types,) is True."""
        pair_type, pair_doc, _ = self.pairs
        kept = keep_type[pair_type]
        return Presence(pair_type[kept], pair_doc[kept], self.n_docs)

    def member_of(self, sorted_keys: np.ndarray) -> np.ndarray:
        """(types,) whether each distinct key is in sorted_keys (sorted, distinct)."""
        if len(sorted_keys) == 0:
            return np.zeros(self.n_distinct, bool)
        position = np.minimum(np.searchsorted(sorted_keys, self.distinct), len(sorted_keys) - 1)
        return sorted_keys[position] == self.distinct
