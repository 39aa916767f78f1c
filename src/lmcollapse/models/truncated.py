"""A count model's reshaped next-token laws (temperature, top-k, top-p), each computed once per sampling call.

Truncated sampling reshapes every context's distribution: a dense row of V probabilities, a partition for top-k,
a sort for top-p. Redoing that for every document at every step made a bigram's top-p sampling 60 to 180 times
its pure sampling (P20). But the model and the sampler are fixed for a whole call and contexts repeat: a few
thousand contexts serve hundreds of thousands of draws. So each context's law is reshaped the first time a draw
needs it and kept, sparse (the ids it keeps and their cumulative probabilities), for the rest of the call.

The draws are bitwise those of reshaping a dense row per draw (``Sampler.transform`` then ``draw_categorical``):
the reshaping is row by row, the cumulative sum of a dense row is the same sequential sum with exact zeros in
between, and the first cumulative value above the uniform always sits on a kept token.
"""
from __future__ import annotations

import numpy as np

from lmcollapse.models.decoding import Sampler, draw_categorical

# Memory the kept laws may use before the store starts again from empty (recomputing is exact, so this bounds
# memory, not results): temperature alone keeps every token, V entries per context.
STORE_BUDGET_BYTES = 256 * 2**20
# Bytes one kept entry costs: its token id (int32) and cumulative probability (float64).
ENTRY_BYTES = 12
# Contexts reshaped at once: bounds the dense (rows, V) scratch array.
RESHAPE_BATCH = 256


class _Growing:
    """An append-only numpy array with amortised doubling (appending is O(new entries))."""

    def __init__(self, dtype, first: int = 1024):
        self.data, self.size = np.empty(first, dtype=dtype), 0

    def extend(self, values: np.ndarray) -> None:
        need = self.size + len(values)
        if need > len(self.data):
            grown = np.empty(max(need, 2 * len(self.data)), dtype=self.data.dtype)
            grown[:self.size] = self.data[:self.size]
            self.data = grown
        self.data[self.size:need] = values
        self.size = need

    @property
    def view(self) -> np.ndarray:
        return self.data[:self.size]


class TruncatedLaws:
    """The reshaped law of every context a sampling call has met so far, keyed by (table level, context id).

    ``table`` is a CountTable, ``smoothing`` the pseudo-count every token gets; ``budget_bytes`` bounds the
    store (default STORE_BUDGET_BYTES, read when built; 0 keeps nothing: every draw reshapes its own dense row, the path before P20, kept for comparison).
    """

    def __init__(self, table, smoothing: float, sampler: Sampler, budget_bytes: int | None = None):
        self.table, self.smoothing, self.sampler = table, smoothing, sampler
        self.vocab_size = table.vocab_size
        self.budget_bytes = STORE_BUDGET_BYTES if budget_bytes is None else budget_bytes
        self._reset()

    def _reset(self) -> None:
        self.resets = getattr(self, "resets", -1) + 1  # how often the budget emptied the store (tests read it)
        # slot[j][c]: where context c of level j sits in the store, -1 until its law is reshaped
        self.slot = [np.full(level.n_contexts, -1, dtype=np.int64) for level in self.table.levels]
        self.bounds = _Growing(np.int64)  # law s occupies entries bounds[s] to bounds[s + 1]
        self.bounds.extend(np.zeros(1, dtype=np.int64))
        self.ids, self.cdf = _Growing(np.int32), _Growing(np.float64)

    def draw(self, depth: np.ndarray, ctx: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """One token per row from the reshaped law of context (depth, ctx), by inverse CDF at uniforms (m,)."""
        if self.budget_bytes <= 0:
            return self._draw_dense(depth, ctx, uniforms)
        slots = self._slots(depth, ctx)
        bounds, cdf = self.bounds.view, self.cdf.view
        lo, hi = bounds[slots].copy(), bounds[slots + 1].copy()  # (m,) each row's law in the store
        end = hi.copy()
        # Binary search, all rows at once: the first entry of each law whose cumulative probability exceeds
        # the row's uniform (the dense draw counts the entries at or below it).
        while True:
            open_ = lo < hi
            if not open_.any():
                break
            mid = (lo + hi) // 2
            at_or_below = cdf[np.minimum(mid, len(cdf) - 1)] <= uniforms
            lo = np.where(open_ & at_or_below, mid + 1, lo)
            hi = np.where(open_ & ~at_or_below, mid, hi)
        found = lo < end
        tokens = np.full(len(ctx), self.vocab_size - 1, dtype=np.int64)  # as the dense draw clips past the end
        tokens[found] = self.ids.view[lo[found]]
        return tokens

    def _draw_dense(self, depth, ctx, uniforms) -> np.ndarray:
        probs = self.table.dense_counts(depth, ctx) + self.smoothing  # (m, V)
        return draw_categorical(self.sampler.transform(probs), uniforms).astype(np.int64)

    def _slots(self, depth: np.ndarray, ctx: np.ndarray) -> np.ndarray:
        """Each row's store slot, reshaping the laws of contexts met for the first time. A store over its budget
        starts again from empty first, so that every row's slot is found in the store as it then stands."""
        if self.ids.size * ENTRY_BYTES > self.budget_bytes:
            self._reset()
        slots = np.empty(len(ctx), dtype=np.int64)
        for j in np.unique(depth):
            rows = np.flatnonzero(depth == j)
            missing = np.unique(ctx[rows][self.slot[j][ctx[rows]] < 0])
            if len(missing):
                self._add(int(j), missing)
            slots[rows] = self.slot[j][ctx[rows]]
        return slots

    def _add(self, level: int, contexts: np.ndarray) -> None:
        for start in range(0, len(contexts), RESHAPE_BATCH):
            batch = contexts[start:start + RESHAPE_BATCH]
            probs = self.sampler.transform(
                self.table.dense_counts(np.full(len(batch), level), batch) + self.smoothing)  # (b, V)
            # The dense draw's own cumulative table (b, V), kept where the law is not zero: the entries a draw
            # can land on (a zero-probability token repeats the running sum below it and is never the first
            # entry above a uniform).
            cdf = np.cumsum(probs, axis=1)
            cdf /= cdf[:, -1:]
            rows, ids = np.nonzero(probs)  # row-major: each row's kept ids ascending
            counts = np.bincount(rows, minlength=len(batch))
            cdf = cdf[rows, ids]
            self.slot[level][batch] = (self.bounds.size - 1) + np.arange(len(batch))
            self.bounds.extend(self.bounds.view[-1] + np.cumsum(counts))
            self.ids.extend(ids.astype(np.int32))
            self.cdf.extend(cdf)
