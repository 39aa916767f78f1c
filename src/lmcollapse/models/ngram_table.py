"""Count tables of an n-gram model, built and queried with vectorised numpy (no per-token loop).

Contexts form a trie by level: level j holds every distinct context of j tokens seen in training.
A level-j context is named by its id, and its key in the level-j table is
``parent_id * (V + 1) + older_token`` where parent is the (j-1)-token suffix. ``V`` (the vocabulary
size) doubles as the beginning-of-document pad, so contexts never cross document boundaries.
Successor counts of level j are stored sorted by ``context_id * V + token``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def padded_stream(tokens: np.ndarray, lengths: np.ndarray, order: int, vocab_size: int,
                  eos_id: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Lay documents end to end, each after order-1 pad symbols and before its end token.

    Returns (stream, target_positions): stream is int32 with pad = vocab_size; target_positions are the
    stream positions of every predicted symbol (document tokens, plus the end token when eos_id is set).
    """
    pad = order - 1
    extra = pad + (1 if eos_id is not None else 0)
    seg_len = lengths + extra  # (n_docs,)
    seg_start = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(seg_len[:-1], out=seg_start[1:])
    stream = np.full(int(seg_len.sum()), vocab_size, dtype=np.int32)
    # Stream position of each token: its document's segment start, past the pad, plus its index.
    token_start = np.repeat(seg_start + pad, lengths)
    within = np.arange(len(tokens), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    stream[token_start + within] = tokens
    if eos_id is not None:
        stream[seg_start + pad + lengths] = eos_id
    is_target = np.ones(len(stream), dtype=bool)
    for k in range(pad):
        is_target[seg_start + k] = False
    return stream, np.flatnonzero(is_target)


@dataclass
class Level:
    """Counts for contexts of one length."""

    trie_keys: np.ndarray | None  # (n_ctx,) sorted int64 keys naming each context; None at level 0
    pair_keys: np.ndarray  # (n_pairs,) sorted int64 context_id * V + token
    counts: np.ndarray  # (n_pairs,) int64 successor counts
    cum: np.ndarray  # (n_pairs,) int64 running total of counts (for inverse-CDF sampling)
    start: np.ndarray  # (n_ctx + 1,) int64 first pair index of each context
    total: np.ndarray  # (n_ctx,) int64 C(context)

    @property
    def n_contexts(self) -> int:
        return len(self.total)


class CountTable:
    """All levels 0..order-1 of an n-gram model, plus context lookup."""

    def __init__(self, levels: list[Level], vocab_size: int):
        self.levels = levels
        self.vocab_size = vocab_size

    @property
    def order(self) -> int:
        return len(self.levels)

    @classmethod
    def build(cls, stream: np.ndarray, targets: np.ndarray, order: int, vocab_size: int) -> "CountTable":
        V = vocab_size
        next_tokens = stream[targets].astype(np.int64)
        ctx = np.zeros(len(targets), dtype=np.int64)  # level-0 context id of every target
        levels = []
        for j in range(order):
            trie_keys = None
            if j > 0:
                key = ctx * (V + 1) + stream[targets - j]
                trie_keys, ctx = np.unique(key, return_inverse=True)
                ctx = ctx.reshape(-1).astype(np.int64)
                del key
            n_ctx = 1 if j == 0 else len(trie_keys)
            pair_keys, counts = np.unique(ctx * V + next_tokens, return_counts=True)
            counts = counts.astype(np.int64)
            start = np.searchsorted(pair_keys, np.arange(n_ctx + 1, dtype=np.int64) * V)
            total = np.add.reduceat(counts, start[:-1]) if len(counts) else np.zeros(n_ctx, np.int64)
            levels.append(Level(trie_keys, pair_keys, counts, np.cumsum(counts), start, total))
        return cls(levels, V)

    def context_ids(self, contexts: np.ndarray) -> np.ndarray:
        """Trie ids of every suffix of contexts (m, order-1) -> (m, order); -1 where never seen.

        Column j names the j most recent tokens; contexts use the pad symbol V before a document starts.
        """
        m = len(contexts)
        ids = np.full((m, self.order), -1, dtype=np.int64)
        ids[:, 0] = 0
        for j in range(1, self.order):
            level = self.levels[j]
            parent = ids[:, j - 1]
            key = parent * (self.vocab_size + 1) + contexts[:, -j]
            pos = np.searchsorted(level.trie_keys, key)
            pos_clipped = np.minimum(pos, len(level.trie_keys) - 1)
            found = (parent >= 0) & (pos < len(level.trie_keys)) & (level.trie_keys[pos_clipped] == key)
            ids[:, j] = np.where(found, pos_clipped, -1)
        return ids

    def deepest(self, contexts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Back-off rule: the longest suffix seen in training. Returns (level, context_id), each (m,)."""
        ids = self.context_ids(contexts)
        depth = (ids >= 0).sum(axis=1) - 1  # suffixes of a seen context are seen, so this is exact
        return depth, ids[np.arange(len(ids)), depth]

    def pair_counts(self, depth: np.ndarray, ctx: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """C(context, token) for each row."""
        out = np.zeros(len(ctx), dtype=np.int64)
        for j, level in enumerate(self.levels):
            rows = np.flatnonzero(depth == j)
            if not len(rows):
                continue
            key = ctx[rows] * self.vocab_size + tokens[rows]
            pos = np.minimum(np.searchsorted(level.pair_keys, key), len(level.pair_keys) - 1)
            hit = level.pair_keys[pos] == key
            out[rows] = np.where(hit, level.counts[pos], 0)
        return out

    def totals(self, depth: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        out = np.zeros(len(ctx), dtype=np.int64)
        for j, level in enumerate(self.levels):
            rows = depth == j
            out[rows] = level.total[ctx[rows]]
        return out

    def dense_counts(self, depth: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        """Successor counts as a dense (m, V) float array."""
        dense = np.zeros((len(ctx), self.vocab_size), dtype=np.float64)
        for j, level in enumerate(self.levels):
            rows = np.flatnonzero(depth == j)
            if not len(rows):
                continue
            first, last = level.start[ctx[rows]], level.start[ctx[rows] + 1]
            n_succ = last - first
            row_of_pair = np.repeat(rows, n_succ)
            pair = np.repeat(first, n_succ) + (np.arange(n_succ.sum()) - np.repeat(np.cumsum(n_succ) - n_succ, n_succ))
            dense[row_of_pair, level.pair_keys[pair] % self.vocab_size] = level.counts[pair]
        return dense

    def to_arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for j, level in enumerate(self.levels):
            out[f"pair_keys_{j}"] = level.pair_keys
            out[f"counts_{j}"] = level.counts
            if level.trie_keys is not None:
                out[f"trie_keys_{j}"] = level.trie_keys
        return out

    @classmethod
    def from_arrays(cls, arrays, order: int, vocab_size: int) -> "CountTable":
        levels = []
        for j in range(order):
            trie_keys = arrays[f"trie_keys_{j}"] if j > 0 else None
            pair_keys, counts = arrays[f"pair_keys_{j}"], arrays[f"counts_{j}"]
            n_ctx = 1 if j == 0 else len(trie_keys)
            start = np.searchsorted(pair_keys, np.arange(n_ctx + 1, dtype=np.int64) * vocab_size)
            total = np.add.reduceat(counts, start[:-1]) if len(counts) else np.zeros(n_ctx, np.int64)
            levels.append(Level(trie_keys, pair_keys, counts, np.cumsum(counts), start, total))
        return cls(levels, vocab_size)
