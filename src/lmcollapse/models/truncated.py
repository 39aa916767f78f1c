"""A count model's next-token laws after temperature, top-k and top-p, built sparse once per sampling call.

Truncated sampling used to reshape a dense row of V probabilities for every document at every step (a partition
for top-k, a sort for top-p): a bigram's top-p sampling cost 60 to 180 times its pure sampling (P20). But a
count model's law in a context has a shape that makes the dense row needless: its n seen successors carry
count + alpha, and the V - n unseen tokens all carry alpha. Every reshaping keeps that shape:

- temperature raises each weight to 1 / T, so the unseen tokens stay equal and below every seen one;
- top-k keeps the k heaviest: seen successors first, then (when k > n) the lowest-id unseen tokens, as many as
  are left. Ties are broken by token id (the dense path's partition broke them arbitrarily);
- top-p keeps the heaviest tokens until the mass before the next one reaches p, ties again by id (as the dense
  path's stable sort did): a prefix of the seen successors, or all of them and the first j unseen tokens.

So each context's law is a short list (its kept seen successors and their weights) and a block (j unseen tokens
of equal weight), built for every context of the table at once in O(pairs), and a draw is one search in the list
or one division in the block. The law equals the dense path's up to rounding and the order of tied tokens
(tests/test_truncated.py); the documents drawn differ, as the uniforms now walk the law in another order.
"""
from __future__ import annotations

import numpy as np

from lmcollapse.models.decoding import Sampler, draw_categorical

# True: every draw reshapes its own dense row (the path before P20), for benchmarks/truncated_sampling.py and the
# tests that compare the two.
RESHAPE_PER_DRAW = False
# Guide-table buckets per kept entry of a context's list (see TruncatedLaws.__init__).
GUIDE_BUCKETS = 4


def first_above(values: np.ndarray, lo: np.ndarray, hi: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Per row, the first index in [lo, hi) whose value exceeds x (hi where none does); each values[lo:hi]
    ascending. A binary search over all rows at once."""
    lo, hi = lo.copy(), hi.copy()
    last = max(len(values) - 1, 0)
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = (lo + hi) // 2
        at_or_below = values[np.minimum(mid, last)] <= x
        lo = np.where(open_ & at_or_below, mid + 1, lo)
        hi = np.where(open_ & ~at_or_below, mid, hi)


def segment_sums(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Sum of values[bounds[i]:bounds[i + 1]] for each i (empty segments sum to 0)."""
    running = np.r_[0.0, np.cumsum(values)]
    return running[bounds[1:]] - running[bounds[:-1]]


class TruncatedLaws:
    """Every context's reshaped law for one (table, smoothing, sampler), contexts of all levels side by side.

    ``table`` is a CountTable; a context's global id is its level's offset plus its id in the level.
    """

    def __init__(self, table, smoothing: float, sampler: Sampler):
        self.table, self.smoothing, self.sampler = table, smoothing, sampler
        V, levels = table.vocab_size, table.levels
        self.vocab_size = V
        self.level_offset = np.r_[0, np.cumsum([level.n_contexts for level in levels])].astype(np.int64)
        pair_offset = np.r_[0, np.cumsum([len(level.counts) for level in levels])].astype(np.int64)
        # (contexts + 1,) where each context's seen successors sit among all pairs (pairs are grouped by context)
        self.pair_bounds = np.concatenate([level.start[:-1] + pair_offset[j] for j, level in enumerate(levels)]
                                          + [pair_offset[-1:]])
        n_contexts = len(self.pair_bounds) - 1
        n_seen = np.diff(self.pair_bounds)  # (contexts,) every context in the table has a successor
        ctx = np.repeat(np.arange(n_contexts), n_seen)  # (pairs,) the context of each pair
        tokens = np.concatenate([level.pair_tokens for level in levels]).astype(np.int64)  # ascending per context
        counts = np.concatenate([level.counts for level in levels]).astype(np.float64)
        # Rank among the context's seen successors in id order, and the unseen ids below each seen one: the
        # k-th unseen token of a context is k plus the number of its seen tokens whose gap is <= k.
        self.gaps = tokens - (np.arange(len(tokens)) - self.pair_bounds[ctx])

        a, T = smoothing, sampler.temperature
        if T == 1.0:  # the weights themselves: integer counts keep top-p's running sums exact, ties at p included
            weight, unseen_weight = counts + a, np.full(n_contexts, float(a))
        else:  # on the log scale, each context's heaviest at 1 (seen ones outweigh unseen ones: count >= 1)
            log_w = np.log(counts + a) / T
            heaviest = np.maximum.reduceat(log_w, self.pair_bounds[:-1]) if len(log_w) else np.zeros(0)
            weight = np.exp(log_w - heaviest[ctx])  # (pairs,)
            with np.errstate(divide="ignore"):
                unseen_weight = np.exp(np.log(a) / T - heaviest) if a > 0 else np.zeros(n_contexts)  # (contexts,)
        block = V - n_seen if a > 0 else np.zeros(n_contexts, dtype=np.int64)  # unseen tokens still in the law

        # Heaviest first within each context, ties by id.
        order = np.lexsort((tokens, -weight, ctx))
        tokens, weight = tokens[order], weight[order]
        keep = np.ones(len(order), dtype=bool)
        if sampler.top_k and sampler.top_k < V:
            keep &= np.arange(len(order)) - self.pair_bounds[ctx] < sampler.top_k
            block = np.clip(sampler.top_k - n_seen, 0, block)
        if sampler.top_p < 1.0:
            kept_weight = np.where(keep, weight, 0.0)
            mass = segment_sums(kept_weight, self.pair_bounds) + block * unseen_weight  # (contexts,)
            before = np.cumsum(kept_weight) - kept_weight  # exclusive running sum over all pairs
            before -= before[self.pair_bounds[:-1]][ctx]  # ... restarted at each context
            keep &= before < sampler.top_p * mass[ctx]
            seen_mass = segment_sums(np.where(keep, weight, 0.0), self.pair_bounds)
            room = sampler.top_p * mass - seen_mass  # what the unseen block may still add before reaching p
            with np.errstate(divide="ignore", invalid="ignore"):
                fits = np.where(unseen_weight > 0, np.ceil(room / np.where(unseen_weight > 0, unseen_weight, 1)), 0)
            block = np.clip(fits, 0, block).astype(np.int64)

        kept = np.flatnonzero(keep)
        self.kept_tokens = tokens[kept]
        self.kept_bounds = np.r_[0, np.cumsum(np.bincount(ctx[kept], minlength=n_contexts))].astype(np.int64)
        running = np.cumsum(weight[kept])  # each context's running weight, restarted per context
        self.kept_cdf = running - np.r_[0.0, running][self.kept_bounds[:-1]][ctx[kept]]
        self.seen_total = segment_sums(weight[kept], self.kept_bounds)
        # A guide table (Chen and Asau's index search): GUIDE_BUCKETS equal buckets of each context's list mass
        # per entry, each pointing at the first entry whose running weight exceeds the bucket's start. A draw
        # jumps to its bucket and walks on, about one entry on average, instead of a binary search of 10 to 13
        # steps (more buckets than entries: under a low temperature the light tail crowds into few buckets).
        n_kept = np.diff(self.kept_bounds)
        self.guide_bounds = GUIDE_BUCKETS * self.kept_bounds
        owner = np.repeat(np.arange(n_contexts), GUIDE_BUCKETS * n_kept)  # (buckets,) the context of each
        bucket = np.arange(len(owner)) - self.guide_bounds[owner]
        starts = bucket * (self.seen_total[owner] / np.maximum(GUIDE_BUCKETS * n_kept[owner], 1))
        self.guide = first_above(self.kept_cdf, self.kept_bounds[owner], self.kept_bounds[owner + 1], starts)
        self.block, self.unseen_weight = block.astype(np.int64), unseen_weight
        self.total = self.seen_total + self.block * unseen_weight

    def draw(self, depth: np.ndarray, ctx: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        """One token per row from the reshaped law of context (depth, ctx), by inverse CDF at uniforms (m,)."""
        if RESHAPE_PER_DRAW:
            probs = self.table.dense_counts(depth, ctx) + self.smoothing  # (m, V)
            return draw_categorical(self.sampler.transform(probs), uniforms).astype(np.int64)
        g = self.level_offset[depth] + ctx  # (m,) global context ids
        mass = uniforms * self.total[g]
        in_list = (mass < self.seen_total[g]) | (self.block[g] == 0)
        tokens = np.empty(len(g), dtype=np.int64)
        rows, c = np.flatnonzero(in_list), g[in_list]
        tokens[rows] = self.kept_tokens[self._walk(c, mass[rows])]
        rows, c = np.flatnonzero(~in_list), g[~in_list]
        if len(rows):
            k = np.floor((mass[rows] - self.seen_total[c]) / self.unseen_weight[c]).astype(np.int64)
            k = np.clip(k, 0, self.block[c] - 1)  # the k-th unseen token of the context
            below = first_above(self.gaps, self.pair_bounds[c], self.pair_bounds[c + 1], k) - self.pair_bounds[c]
            tokens[rows] = k + below
        return tokens

    def _walk(self, c: np.ndarray, mass: np.ndarray) -> np.ndarray:
        """The first entry of each context c's list whose running weight exceeds mass (its last where rounding
        leaves none): from the entry before the guide's, forward."""
        first, end = self.kept_bounds[c], self.kept_bounds[c + 1]
        n = GUIDE_BUCKETS * (end - first)
        bucket = np.minimum((mass / self.seen_total[c] * n).astype(np.int64), n - 1)
        pos = np.maximum(self.guide[self.guide_bounds[c] + bucket] - 1, first)  # one back: the start was rounded
        pos = np.minimum(pos, end - 1)
        walking = np.flatnonzero((self.kept_cdf[pos] <= mass) & (pos < end - 1))
        while len(walking):
            pos[walking] += 1
            walking = walking[(self.kept_cdf[pos[walking]] <= mass[walking]) & (pos[walking] < end[walking] - 1)]
        return pos

    def law(self, level: int, context: int) -> np.ndarray:
        """The reshaped law of one context as a dense (V,) row (for tests and inspection)."""
        g = self.level_offset[level] + context
        probs = np.zeros(self.vocab_size)
        first, end = self.kept_bounds[g], self.kept_bounds[g + 1]
        probs[self.kept_tokens[first:end]] = np.diff(np.r_[0.0, self.kept_cdf[first:end]])
        seen = np.zeros(self.vocab_size, dtype=bool)
        seen[self.table.levels[level].pair_tokens[self.table.levels[level].start[context]:
                                                   self.table.levels[level].start[context + 1]]] = True
        probs[np.flatnonzero(~seen)[:self.block[g]]] = self.unseen_weight[g]
        return probs / self.total[g]
