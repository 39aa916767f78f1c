"""Count tables of an n-gram model, built and queried with vectorised numpy (no per-token loop).

A context of j tokens is named by its key: the tokens as digits in base V+1, most recent token lowest
(V, the vocabulary size, doubles as the beginning-of-document pad, so contexts never cross documents).
The key of its j-1 most recent tokens is then simply ``key % (V+1)**(j-1)``. Level j of the table holds
the sorted distinct keys of every j-token context seen in training; a context's id is its rank there.
Successor counts of level j are stored sorted by ``context_id * V + token``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from lmcollapse.errors import LmcollapseError
from lmcollapse.corpora.ngrams import (
    COUNT_CHUNK, document_chunks, horner, merge_counts, padded_stream, prepend_older, sort_digits)

MAX_KEY = 2**62
ONE_SORT_MAX = 2**63 - 1  # (context key, token) pairs below this are counted with a single sort
DENSE_FIND_MAX = 2**20  # a level whose keys are all below this finds contexts by a gather (4 MiB at most)
HASH_MIN_BITS = 4
HASH_PROBES = 3  # slots a lookup reads before the keys still unresolved (a few %) are binary-searched
FIBONACCI = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: multiplying by it spreads nearby keys apart


def home_slot(keys: np.ndarray, size: int) -> np.ndarray:
    """(m,) int64 home slot of each non-negative key in a table of size 2^b: the top b bits of key * FIBONACCI
    (mod 2^64)."""
    return ((keys.astype(np.uint64) * FIBONACCI) >> np.uint64(64 - size.bit_length() + 1)).astype(np.int64)


def check_key_range(vocab_size: int, order: int) -> None:
    if (vocab_size + 1) ** max(order - 1, 0) >= MAX_KEY:
        raise LmcollapseError(f"model.order={order} is too high for a vocabulary of {vocab_size}: contexts must fit "
                              f"in 62 bits ((V+1)^(order-1) < 2^62); lower model.order")


def context_keys(contexts: np.ndarray, vocab_size: int) -> np.ndarray:
    """Keys of contexts (m, width) (pad = vocab_size, most recent token last) -> (m,) int64."""
    return horner(np.asarray(contexts, dtype=np.int64).T, vocab_size + 1)


def counted_by_level(stream: np.ndarray, targets: np.ndarray, order: int, V: int):
    """(j, sorted distinct pairs, their counts) for j = 1 .. order-1: the (j-token context, token) pair of
    every target of a padded stream, as context key * V + token.

    Level j's pairs come from level j-1's in one stable sort on the token j before the target: its pair is
    that token * (V+1)^(j-1) * V + the pair of level j-1, so a sequence in level j-1's order, sorted stably
    by that token, is in level j's. numpy sorts 16-bit symbols stably by counting, so each level costs one
    counting sort instead of a comparison sort of its int64 pairs."""
    digits = sort_digits(stream, V + 1)  # (S,) tokens and the pad
    position = targets[np.argsort(digits[targets], kind="stable")]  # (P,) targets by their token
    pair = stream[position].astype(np.int64)  # (P,) level 0's pair: the token
    for j in range(1, order):
        # the context's oldest token at this level (the pad before a document) joins the pair
        position, pair = prepend_older(digits, position, pair, j, (V + 1) ** (j - 1) * V)
        starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]]) if len(pair) else np.zeros(0, np.int64)
        yield j, pair[starts], np.diff(np.r_[starts, len(pair)])


@dataclass
class Level:
    """Counts for contexts of one length."""

    vocab_size: int
    keys: np.ndarray  # (n_ctx,) sorted distinct context keys; the id of a context is its index here
    pair_keys: np.ndarray  # (n_pairs,) sorted int64 context_id * V + token
    counts: np.ndarray  # (n_pairs,) int64 successor counts
    start: np.ndarray  # (n_ctx + 1,) int64 first pair index of each context
    total: np.ndarray  # (n_ctx,) int64 C(context)

    @classmethod
    def from_pairs(cls, keys, pair_keys, counts, vocab_size) -> "Level":
        counts = counts.astype(np.int64)
        start = np.zeros(len(keys) + 1, np.int64)  # pairs come grouped by context id: count them per id
        np.cumsum(np.bincount(pair_keys // vocab_size, minlength=len(keys)), out=start[1:])
        total = np.add.reduceat(counts, start[:-1]) if len(counts) else np.zeros(len(keys), np.int64)
        return cls(vocab_size, keys, pair_keys, counts, start, total)

    @classmethod
    def from_composite(cls, pairs: np.ndarray, counts: np.ndarray, vocab_size: int) -> "Level":
        """From sorted (context key * V + token) pairs and their counts."""
        ctx_key = pairs // vocab_size
        new_ctx = np.r_[True, ctx_key[1:] != ctx_key[:-1]]
        ctx_id = np.cumsum(new_ctx) - 1
        return cls.from_pairs(ctx_key[new_ctx], ctx_id * vocab_size + pairs % vocab_size, counts, vocab_size)

    @property
    def n_contexts(self) -> int:
        return len(self.keys)

    @cached_property
    def cum(self) -> np.ndarray:
        """Running total of the counts: drawing a successor in proportion to its count is one search."""
        return np.cumsum(self.counts)

    @cached_property
    def occurrence_start(self) -> np.ndarray:
        """(n_ctx + 1,) int64 the training occurrences counted before each context (contexts in id order; the
        last entry: all of them), so a context's occurrences are [start[c], start[c + 1])."""
        return np.r_[0, np.cumsum(self.total)]

    @cached_property
    def occurrence_pairs(self) -> np.ndarray:
        """The pair index of every training occurrence, grouped by context (int32, one per token counted).

        Drawing a successor in proportion to its count is then a single gather; the sampler uses this for
        the two deepest levels, where nearly every draw happens (the full context, or the back-off from an
        unseen one), and the running totals elsewhere: each level's table costs 4 bytes per training token."""
        return np.repeat(np.arange(len(self.counts), dtype=np.int32), self.counts)

    @cached_property
    def pair_tokens(self) -> np.ndarray:
        """(n_pairs,) int32 the token of each (context, token) pair."""
        return (self.pair_keys % self.vocab_size).astype(np.int32)

    @cached_property
    def id_of_key(self) -> np.ndarray | None:
        """(key range,) int32 context id of every possible key (-1: never occurred), for levels whose keys
        are few enough (one-token contexts, most often) that a gather beats a binary search; else None."""
        bound = int(self.keys[-1]) + 1 if len(self.keys) else 0
        if not 0 < bound <= DENSE_FIND_MAX:
            return None
        ids = np.full(bound, -1, np.int32)
        ids[self.keys] = np.arange(len(self.keys), dtype=np.int32)
        return ids

    @cached_property
    def id_by_hash(self) -> np.ndarray:
        """An open-addressing hash table of the context ids (int32, -1 for an empty slot), at most half
        full, probed linearly from each key's home slot: a lookup reads one or two slots where a binary search
        over every key reads about twenty."""
        size = 1 << max(HASH_MIN_BITS, (2 * len(self.keys) - 1).bit_length())
        table = np.full(size, -1, np.int32)
        waiting = np.arange(len(self.keys))  # ids not placed yet
        slot = home_slot(self.keys, size)
        while len(waiting):
            free = table[slot] < 0
            # Of the ids that reach one free slot together, one takes it (whichever numpy writes last: a
            # lookup finds an id wherever it sits on its probe path); the rest probe on.
            table[slot[free]] = waiting[free]
            placed = table[slot] == waiting
            waiting, slot = waiting[~placed], (slot[~placed] + 1) & (size - 1)
        return table

    @cached_property
    def key_by_hash(self) -> np.ndarray:
        """(slots,) int64 the key of the context in each slot of id_by_hash (-1 for an empty slot): a probe
        compares the key it reads with the one looked up, without going through the id."""
        table = self.id_by_hash
        return np.where(table >= 0, self.keys[np.maximum(table, 0)], -1)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """Context ids of keys, -1 where the context never occurred."""
        if self.id_of_key is not None:
            inside = keys < len(self.id_of_key)
            return np.where(inside, self.id_of_key[np.where(inside, keys, 0)], -1).astype(np.int64)
        if not len(self.keys):
            return np.full(len(keys), -1, np.int64)
        ids, slot_keys, wrap = self.id_by_hash, self.key_by_hash, len(self.id_by_hash) - 1
        slot = home_slot(keys, len(ids))  # (m,)
        read = slot_keys[slot]
        found = np.where(read == keys, ids[slot], -1).astype(np.int64)  # most keys end at their home slot
        todo = np.flatnonzero((read != keys) & (read >= 0))  # an empty slot ends the probe: the key is absent
        for _ in range(HASH_PROBES - 1):
            if not len(todo):
                break
            slot[todo] = (slot[todo] + 1) & wrap
            read = slot_keys[slot[todo]]
            hit = read == keys[todo]
            found[todo[hit]] = ids[slot[todo[hit]]]
            todo = todo[~hit & (read >= 0)]
        if len(todo):  # the few keys on long probe paths: one binary search beats many small probe rounds
            position = np.minimum(np.searchsorted(self.keys, keys[todo]), len(self.keys) - 1)
            found[todo] = np.where(self.keys[position] == keys[todo], position, -1)
        return found


class CountTable:
    """All levels 0..order-1 of an n-gram model, plus the back-off lookup."""

    def __init__(self, levels: list[Level], vocab_size: int):
        self.levels = levels
        self.vocab_size = vocab_size

    @property
    def order(self) -> int:
        return len(self.levels)

    @cached_property
    def next_context(self) -> np.ndarray:
        """For each top-level (context, token) pair, the top-level context id that follows it, or -1.

        A sampler that drew that pair needs no lookup for its next step: the following context occurred in
        training too (except after the end token or a document's last token, which are looked up as usual).
        """
        top, V = self.levels[-1], self.vocab_size
        context_of_pair = top.pair_keys // V
        follow_keys = (top.keys[context_of_pair] * (V + 1) + top.pair_keys % V) % (V + 1) ** (self.order - 1)
        return top.find(follow_keys)

    @classmethod
    def build(cls, tokens: np.ndarray, offsets: np.ndarray, order: int, vocab_size: int,
              eos_id: int | None) -> "CountTable":
        """Count every n-gram of the documents (tokens, offsets), chunk by chunk, so that memory follows the
        number of distinct n-grams rather than the corpus size."""
        V = vocab_size
        if (V + 1) ** (order - 1) * V >= ONE_SORT_MAX:
            stream, targets = padded_stream(tokens, np.diff(offsets), order, V, eos_id)
            return cls._build_wide(stream, targets, order, V)
        counts0 = np.zeros(V, dtype=np.int64)
        merged: list = [None] * order
        for lo, hi in document_chunks(offsets, COUNT_CHUNK):
            part = offsets[lo:hi + 1]
            stream, targets = padded_stream(tokens[part[0]:part[-1]], np.diff(part), order, V, eos_id)
            counts0 += np.bincount(stream[targets], minlength=V)  # level 0: the empty context needs no sort
            for j, pairs, counts in counted_by_level(stream, targets, order, V):
                merged[j] = (pairs, counts) if merged[j] is None else merge_counts(*merged[j], pairs, counts)
        seen0 = np.flatnonzero(counts0)
        levels = [Level.from_pairs(np.zeros(1, np.int64), seen0.astype(np.int64), counts0[seen0], V)]
        levels += [Level.from_composite(*merged[j], V) for j in range(1, order)]
        return cls(levels, V)

    @classmethod
    def _build_wide(cls, stream, targets, order: int, V: int) -> "CountTable":
        """(context key, token) does not fit one int64: number the contexts first, then count the pairs.
        Not chunked: only very large vocabularies with high orders come here."""
        next_tokens = stream[targets]
        key = np.zeros(len(targets), dtype=np.int64)
        levels = []
        for j in range(order):
            if j:
                key += stream[targets - j].astype(np.int64) * (V + 1) ** (j - 1)
            distinct, ctx = np.unique(key, return_inverse=True)
            pair = ctx.reshape(-1).astype(np.int64) * V + next_tokens
            del ctx
            pair_keys, counts = np.unique(pair, return_counts=True)
            levels.append(Level.from_pairs(distinct, pair_keys, counts, V))
        return cls(levels, V)

    def deepest(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Back-off rule: the longest suffix of each context seen in training.

        keys: (m,) full-width context keys. Returns (level, context id), each (m,). Most contexts are
        found at the top level, so lower levels are only searched for the misses.
        """
        m = len(keys)
        depth = np.zeros(m, dtype=np.int64)
        ctx = np.zeros(m, dtype=np.int64)
        todo = np.arange(m)
        for j in range(self.order - 1, 0, -1):
            if not len(todo):
                break
            found = self.levels[j].find(keys[todo] % (self.vocab_size + 1) ** j)
            hit = found >= 0
            depth[todo[hit]], ctx[todo[hit]] = j, found[hit]
            todo = todo[~hit]
        return depth, ctx  # rows still in `todo` stay at level 0, context 0 (the empty context)

    def _by_level(self, depth: np.ndarray):
        for j, level in enumerate(self.levels):
            rows = np.flatnonzero(depth == j)
            if len(rows):
                yield level, rows

    def pair_counts(self, depth: np.ndarray, ctx: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """C(context, token) for each row."""
        out = np.zeros(len(ctx), dtype=np.int64)
        for level, rows in self._by_level(depth):
            key = ctx[rows] * self.vocab_size + tokens[rows]
            pos = np.minimum(np.searchsorted(level.pair_keys, key), len(level.pair_keys) - 1)
            out[rows] = np.where(level.pair_keys[pos] == key, level.counts[pos], 0)
        return out

    def totals(self, depth: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ctx), dtype=np.int64)
        for level, rows in self._by_level(depth):
            out[rows] = level.total[ctx[rows]]
        return out

    def dense_counts(self, depth: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        """Successor counts as a dense (m, V) float array."""
        dense = np.zeros((len(ctx), self.vocab_size), dtype=np.float64)
        for level, rows in self._by_level(depth):
            first, n_succ = level.start[ctx[rows]], np.diff(level.start)[ctx[rows]]
            row_of_pair = np.repeat(rows, n_succ)
            pair = np.repeat(first - np.cumsum(n_succ) + n_succ, n_succ) + np.arange(n_succ.sum())
            dense[row_of_pair, level.pair_keys[pair] % self.vocab_size] = level.counts[pair]
        return dense

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for j, level in enumerate(self.levels):
            out[f"keys_{j}"], out[f"pair_keys_{j}"], out[f"counts_{j}"] = level.keys, level.pair_keys, level.counts
        return out

    @classmethod
    def from_arrays(cls, arrays, order: int, vocab_size: int) -> "CountTable":
        return cls([Level.from_pairs(arrays[f"keys_{j}"], arrays[f"pair_keys_{j}"], arrays[f"counts_{j}"], vocab_size)
                    for j in range(order)], vocab_size)
