"""Exact count-based n-gram language model with add-alpha smoothing.

    p(v | x) = (C(x, v) + alpha) / (C(x) + alpha * V)

over the whole vocabulary V (alpha = ``smoothing``; 0 is exact maximum likelihood). Unseen contexts:
the model backs off to the longest suffix of the context that occurred in training (the empty context
always did), and applies the same formula there. Documents are padded at the start, so the first tokens
are predicted from "beginning of document" contexts. Models fitted on documents without an end token
sample document lengths from the training lengths (fixed-length data gives fixed-length samples).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..corpus import SYNTHETIC, Corpus
from ..errors import LmcollapseError
from ..sampling import Sampler, draw_categorical
from . import MODELS
from .ngram_table import CountTable, padded_stream

BOS = -1  # public marker for "before the document starts" in contexts passed to next_token_probs
SAMPLE_CHUNK = 16384  # documents sampled together; bounds memory at chunk * max_tokens


@MODELS.register("ngram", "exact count n-gram model of any order with add-alpha smoothing and back-off")
class NGramModel:
    def __init__(self, order: int = 2, smoothing: float = 0.0):
        if order < 1:
            raise LmcollapseError(f"model.order must be >= 1 (1 = unigram), got {order}")
        if smoothing < 0:
            raise LmcollapseError(f"model.smoothing must be >= 0 (0 = maximum likelihood), got {smoothing}")
        self.order = int(order)
        self.smoothing = float(smoothing)

    # ---- fitting ---------------------------------------------------------------------------------
    def fit(self, corpus: Corpus, *, seed: int | None = None) -> "NGramModel":
        """Count every n-gram of the corpus. Deterministic: ``seed`` is accepted for the common contract."""
        if len(corpus) == 0:
            raise LmcollapseError("cannot fit a model on an empty corpus")
        self.vocab_size_ = corpus.vocab_size
        self.eos_id_ = corpus.eos_id
        stream, targets = padded_stream(corpus.tokens, corpus.lengths, self.order, self.vocab_size_, self.eos_id_)
        if len(targets) == 0:
            raise LmcollapseError("cannot fit a model on documents with no tokens")
        self.table_ = CountTable.build(stream, targets, self.order, self.vocab_size_)
        lengths, counts = np.unique(corpus.lengths, return_counts=True)
        self.length_values_, self.length_counts_ = lengths.astype(np.int64), counts.astype(np.int64)
        return self

    # ---- probabilities ---------------------------------------------------------------------------
    def _internal_contexts(self, context: np.ndarray) -> np.ndarray:
        """Public contexts (m, k) with BOS=-1 -> internal (m, order-1) with the pad symbol."""
        context = np.atleast_2d(np.asarray(context, dtype=np.int64))
        k, width = context.shape[1], self.order - 1
        out = np.full((context.shape[0], width), self.vocab_size_, dtype=np.int64)
        if width:
            take = min(k, width)
            if take:
                out[:, width - take:] = context[:, k - take:]
            out[out < 0] = self.vocab_size_
        return out

    def _probs(self, depth, ctx, tokens) -> np.ndarray:
        a, V = self.smoothing, self.vocab_size_
        counts = self.table_.pair_counts(depth, ctx, tokens)
        totals = self.table_.totals(depth, ctx)
        return (counts + a) / (totals + a * V)

    def next_token_probs(self, context=()) -> np.ndarray:
        """p(. | context) over the vocabulary: (V,) for one context, (m, V) for a 2-D batch.

        A context is the preceding tokens of a document; shorter than order-1 (or containing -1)
        means the document started there.
        """
        single = np.asarray(context).ndim <= 1
        depth, ctx = self.table_.deepest(self._internal_contexts(context))
        a = self.smoothing
        dense = self.table_.dense_counts(depth, ctx) + a  # (m, V)
        dense /= (self.table_.totals(depth, ctx) + a * self.vocab_size_)[:, None]
        return dense[0] if single else dense

    def _target_contexts(self, corpus: Corpus):
        """For every predicted position of a corpus: (document index, back-off level, context id, token)."""
        stream, targets = padded_stream(corpus.tokens, corpus.lengths, self.order, self.vocab_size_, self.eos_id_)
        width = self.order - 1
        contexts = np.stack([stream[targets - width + i] for i in range(width)], axis=1) if width else np.zeros((len(targets), 0), np.int64)
        depth, ctx = self.table_.deepest(contexts.astype(np.int64))
        per_doc = corpus.lengths + (1 if self.eos_id_ is not None else 0)
        doc = np.repeat(np.arange(len(corpus)), per_doc)
        return doc, depth, ctx, stream[targets].astype(np.int64)

    def token_log_probs(self, corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
        """(document index, natural-log probability) of every predicted symbol, end tokens included."""
        self._check_vocab(corpus)
        doc, depth, ctx, tokens = self._target_contexts(corpus)
        with np.errstate(divide="ignore"):
            return doc, np.log(self._probs(depth, ctx, tokens))

    def seen_in_training(self, corpus: Corpus) -> np.ndarray:
        """For every predicted position: was this token seen after its (backed-off) context in training?

        That is the model's support: an unseen pair only gets the smoothing floor alpha/(C + alpha*V).
        """
        self._check_vocab(corpus)
        _, depth, ctx, tokens = self._target_contexts(corpus)
        return self.table_.pair_counts(depth, ctx, tokens) > 0

    def log_prob(self, corpus: Corpus) -> np.ndarray:
        """Log-probability of each document in nats, end token included: shape (n_docs,)."""
        doc, logp = self.token_log_probs(corpus)
        return np.bincount(doc, weights=logp, minlength=len(corpus))

    def context_entropies(self, corpus: Corpus) -> np.ndarray:
        """Entropy (nats) of the model's next-token distribution at every predicted position."""
        self._check_vocab(corpus)
        _, depth, ctx, _ = self._target_contexts(corpus)
        out = np.zeros(len(ctx))
        for j in range(self.order):
            rows = depth == j
            out[rows] = self._level_entropy(j)[ctx[rows]]
        return out

    def _level_entropy(self, j: int) -> np.ndarray:
        cache = self.__dict__.setdefault("_entropy_cache", {})
        if j not in cache:
            level, a, V = self.table_.levels[j], self.smoothing, self.vocab_size_
            ctx_of_pair = level.pair_keys // V
            z = (level.total + a * V)[ctx_of_pair]
            p = (level.counts + a) / z
            h = np.bincount(ctx_of_pair, weights=-p * np.log(p), minlength=level.n_contexts)
            if a > 0:  # tokens never seen after the context share the smoothing mass equally
                unseen = V - np.diff(level.start)
                q = a / (level.total + a * V)
                h += -unseen * q * np.log(q)
            cache[j] = h
        return cache[j]

    def _check_vocab(self, corpus: Corpus):
        if corpus.vocab_size != self.vocab_size_ or corpus.eos_id != self.eos_id_:
            raise LmcollapseError("corpus vocabulary differs from the one the model was fitted on")

    # ---- sampling --------------------------------------------------------------------------------
    def sample(self, n: int, *, sampler: Sampler | None = None, seed: int | np.random.Generator = 0,
               generation: int = 0, first_id: int = 0, producer: str | None = None) -> Corpus:
        """Draw n documents. Returns a Corpus whose provenance says synthetic, born at ``generation``."""
        sampler = sampler or Sampler()
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        prov_seed = 0 if isinstance(seed, np.random.Generator) else int(seed)
        pieces, lengths = [], []
        for start in range(0, n, SAMPLE_CHUNK):
            toks, lens = self._sample_chunk(min(SAMPLE_CHUNK, n - start), sampler, rng)
            pieces.append(toks)
            lengths.append(lens)
        tokens = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
        lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
        return Corpus.from_flat(tokens, lengths, vocab_size=self.vocab_size_, eos_id=self.eos_id_,
                                origin=SYNTHETIC, generation=generation, producer=producer or f"ngram{self.order}",
                                seed=prov_seed, first_id=first_id)

    def _sample_chunk(self, m: int, sampler: Sampler, rng: np.random.Generator):
        if self.eos_id_ is None:  # lengths come from the training data, not from an end token
            target_len = rng.choice(self.length_values_, size=m, p=self.length_counts_ / self.length_counts_.sum())
            steps = int(target_len.max()) if m else 0
        else:
            target_len = np.full(m, sampler.max_tokens, dtype=np.int64)
            steps = sampler.max_tokens
        out = np.zeros((m, steps), dtype=np.int32)  # (m, steps)
        length = np.zeros(m, dtype=np.int64)
        history = np.full((m, self.order - 1), self.vocab_size_, dtype=np.int64)  # (m, order-1)
        active = np.arange(m)
        for step in range(steps):
            active = active[target_len[active] > step]
            if not len(active):
                break
            tok = self._next_tokens(history[active], sampler, rng)
            if self.eos_id_ is not None:
                ended = tok == self.eos_id_
                length[active[ended]] = step
                active, tok = active[~ended], tok[~ended]
            out[active, step] = tok
            length[active] = step + 1
            if self.order > 1:
                history[active, :-1] = history[active, 1:]
                history[active, -1] = tok
        keep = np.arange(steps)[None, :] < length[:, None]
        return out[keep], length

    def _next_tokens(self, history: np.ndarray, sampler: Sampler, rng: np.random.Generator) -> np.ndarray:
        depth, ctx = self.table_.deepest(history)
        u = rng.random(len(ctx))
        if not sampler.is_pure:
            probs = self.table_.dense_counts(depth, ctx) + self.smoothing
            return draw_categorical(sampler.transform(probs), u).astype(np.int64)
        # Exact inverse-CDF draw without a dense row: the distribution is the successor counts followed
        # by alpha for every token, so one uniform lands either in the counts or in the uniform part.
        a, V = self.smoothing, self.vocab_size_
        tok = np.zeros(len(ctx), dtype=np.int64)
        for j, level in enumerate(self.table_.levels):
            rows = np.flatnonzero(depth == j)
            if not len(rows):
                continue
            c, total = ctx[rows], level.total[ctx[rows]]
            mass = u[rows] * (total + a * V)
            in_counts = mass < total
            before = np.where(level.start[c] > 0, level.cum[np.maximum(level.start[c] - 1, 0)], 0)
            idx = np.searchsorted(level.cum, before + mass, side="right")
            idx = np.minimum(idx, level.start[c + 1] - 1)  # guard against float round-off at the edge
            from_counts = level.pair_keys[idx] % V
            uniform = np.minimum(((mass - total) / a).astype(np.int64), V - 1) if a > 0 else 0
            tok[rows] = np.where(in_counts, from_counts, uniform)
        return tok

    # ---- persistence -----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        params = {"name": "ngram", "order": self.order, "smoothing": self.smoothing,
                  "vocab_size": self.vocab_size_, "eos_id": self.eos_id_}
        (directory / "params.json").write_text(json.dumps(params))
        np.savez(directory / "tables.npz", length_values=self.length_values_,
                 length_counts=self.length_counts_, **self.table_.to_arrays())

    @classmethod
    def load(cls, directory: str | Path) -> "NGramModel":
        directory = Path(directory)
        params = json.loads((directory / "params.json").read_text())
        model = cls(order=params["order"], smoothing=params["smoothing"])
        model.vocab_size_, model.eos_id_ = params["vocab_size"], params["eos_id"]
        with np.load(directory / "tables.npz") as arrays:
            model.table_ = CountTable.from_arrays(arrays, model.order, model.vocab_size_)
            model.length_values_, model.length_counts_ = arrays["length_values"], arrays["length_counts"]
        return model
