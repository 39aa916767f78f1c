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
from pydantic import Field, model_validator

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import SYNTHETIC, Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.corpora.ngrams import context_keys_of_targets, document_chunks, padded_stream
from lmcollapse.models.decoding import Sampler
from lmcollapse.models.truncated import TruncatedLaws
from lmcollapse.models.base import MODELS, Capability, LanguageModel, ProgressCallback
from lmcollapse.models.ngram_table import CountTable, check_key_range, context_keys

SAMPLE_CHUNK = 65536  # documents sampled together; bounds memory at chunk * max_tokens
SCORE_CHUNK = 1 << 20  # tokens scored together; bounds the memory of log-probs and entropies


class NGramConfig(Section):
    order: int = Field(2, ge=1, le=8, description="n of the n-grams (1 = unigram)")
    smoothing: float = Field(1e-4, ge=0, description="add-alpha pseudo-count per token (0 = exact maximum "
                                                     "likelihood)")

    @model_validator(mode="before")
    @classmethod
    def _no_warm_start(cls, data):
        if isinstance(data, dict) and "warm_start" in data:  # a common mistake, worth its own words
            raise ValueError("model.warm_start: model 'ngram' is refitted from counts each generation; warm starts "
                             "apply to gpt and hf")
        return data


@MODELS.register("ngram", "exact count n-gram model of any order with add-alpha smoothing and back-off")
class NGramModel(LanguageModel):
    config_class = NGramConfig
    capabilities = frozenset({Capability.ENUMERABLE_CONTEXTS, Capability.SUPPORT})

    @property
    def order(self) -> int:
        return self.config.order

    @property
    def smoothing(self) -> float:
        return self.config.smoothing

    # ---- fitting ---------------------------------------------------------------------------------
    def fit(self, corpus: Corpus, *, seed: int | None = None, progress: ProgressCallback | None = None,
            init: LanguageModel | None = None) -> "NGramModel":
        """Count every n-gram of the corpus. Deterministic: ``seed`` is accepted for the common contract;
        counting takes seconds, so there is no progress to report."""
        self._refuse_init(init)
        if len(corpus) == 0:
            raise LmcollapseError("cannot fit a model on an empty corpus")
        self.vocab_size_ = corpus.vocab_size
        self.eos_id_ = corpus.eos_id
        check_key_range(self.vocab_size_, self.order)
        if corpus.n_tokens == 0 and self.eos_id_ is None:
            raise LmcollapseError("cannot fit a model on documents with no tokens")
        self.table_ = CountTable.build(corpus.tokens, corpus.offsets, self.order, self.vocab_size_, self.eos_id_)
        lengths, counts = np.unique(corpus.lengths, return_counts=True)
        self.length_values_, self.length_counts_ = lengths.astype(np.int64), counts.astype(np.int64)
        return self

    @property
    def context_width(self) -> int:
        return self.order - 1

    # ---- probabilities ---------------------------------------------------------------------------
    def _context_keys(self, context) -> np.ndarray:
        """Public contexts (m, k) with BOS=-1 -> table keys of their last order-1 tokens, (m,)."""
        context = np.atleast_2d(np.asarray(context, dtype=np.int64))
        k, width = context.shape[1], self.order - 1
        internal = np.full((context.shape[0], width), self.vocab_size_, dtype=np.int64)
        take = min(k, width)
        if take:
            internal[:, width - take:] = context[:, k - take:]
            internal[internal < 0] = self.vocab_size_
        return context_keys(internal, self.vocab_size_)

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
        depth, ctx = self.table_.deepest(self._context_keys(context))
        a = self.smoothing
        dense = self.table_.dense_counts(depth, ctx) + a  # (m, V)
        dense /= (self.table_.totals(depth, ctx) + a * self.vocab_size_)[:, None]
        return dense[0] if single else dense

    def context_counts(self, context) -> np.ndarray:
        """(m,) how often each full context (m, k) occurred in training: the n of (C + alpha) / (n + alpha V);
        0 where the model backs off to a shorter one."""
        depth, ctx = self.table_.deepest(self._context_keys(context))
        return np.where(depth == self.order - 1, self.table_.totals(depth, ctx), 0)

    def _target_contexts(self, corpus: Corpus):
        """Per chunk of documents: (document index, back-off level, context id, token) of every predicted
        position. Chunking keeps memory bounded however large the corpus."""
        self._check_vocab(corpus)
        for lo, hi in document_chunks(corpus.offsets, SCORE_CHUNK):
            part = corpus.offsets[lo:hi + 1]
            lengths = np.diff(part)
            stream, targets = padded_stream(corpus.tokens[part[0]:part[-1]], lengths, self.order,
                                            self.vocab_size_, self.eos_id_)
            keys = context_keys_of_targets(stream, targets, self.order - 1, self.vocab_size_ + 1)
            depth, ctx = self.table_.deepest(keys)
            per_doc = lengths + (1 if self.eos_id_ is not None else 0)
            yield np.repeat(np.arange(lo, hi), per_doc), depth, ctx, stream[targets].astype(np.int64)

    def token_log_probs(self, corpus: Corpus) -> tuple[np.ndarray, np.ndarray]:
        """(document index, natural-log probability) of every predicted symbol, end tokens included."""
        docs, logps = [np.zeros(0, np.int64)], [np.zeros(0)]
        for doc, depth, ctx, tokens in self._target_contexts(corpus):
            docs.append(doc)
            with np.errstate(divide="ignore"):
                logps.append(np.log(self._probs(depth, ctx, tokens)))
        return np.concatenate(docs), np.concatenate(logps)

    def seen(self, contexts: np.ndarray, tokens: np.ndarray) -> np.ndarray:
        """Was each token seen after its (backed-off) context in training? contexts (m, k), tokens (m,).

        That is the model's support: an unseen pair only gets the smoothing floor alpha/(C + alpha*V).
        """
        depth, ctx = self.table_.deepest(self._context_keys(contexts))
        return self.table_.pair_counts(depth, ctx, np.asarray(tokens, dtype=np.int64)) > 0

    def context_entropies(self, corpus: Corpus) -> np.ndarray:
        """Entropy (nats) of the model's next-token distribution at every predicted position."""
        out = [np.zeros(0)]
        for _, depth, ctx, _ in self._target_contexts(corpus):
            h = np.zeros(len(ctx))
            for j in range(self.order):
                rows = depth == j
                h[rows] = self._level_entropy(j)[ctx[rows]]
            out.append(h)
        return np.concatenate(out)

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
               generation: int = 0, first_id: int = 0, producer: str | None = None,
               progress: ProgressCallback | None = None) -> Corpus:
        """Draw n documents. Returns a Corpus whose provenance says synthetic, born at ``generation``."""
        sampler = sampler or Sampler()
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        prov_seed = 0 if isinstance(seed, np.random.Generator) else int(seed)
        pieces, lengths = [], []
        laws = None if sampler.is_pure else TruncatedLaws(self.table_, self.smoothing, sampler)
        for start in range(0, n, SAMPLE_CHUNK):
            toks, lens = self._sample_chunk(min(SAMPLE_CHUNK, n - start), sampler, laws, rng)
            pieces.append(toks)
            lengths.append(lens)
        tokens = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
        lengths = np.concatenate(lengths) if lengths else np.zeros(0, np.int64)
        return Corpus.from_flat(tokens, lengths, vocab_size=self.vocab_size_, eos_id=self.eos_id_,
                                origin=SYNTHETIC, generation=generation, producer=producer or f"ngram{self.order}",
                                seed=prov_seed, first_id=first_id)

    def _sample_chunk(self, m: int, sampler: Sampler, laws: TruncatedLaws | None, rng: np.random.Generator):
        if self.eos_id_ is None:  # lengths come from the training data, not from an end token
            target_len = rng.choice(self.length_values_, size=m, p=self.length_counts_ / self.length_counts_.sum())
            steps = int(target_len.max()) if m else 0
        else:
            target_len = np.full(m, sampler.max_tokens, dtype=np.int64)
            steps = sampler.max_tokens
        out = np.zeros((m, steps), dtype=np.int32)  # (m, steps)
        length = target_len.astype(np.int64)  # where a document stops unless an end token comes first
        base, width = self.vocab_size_ + 1, self.order - 1
        # The documents still being written, and beside them (in the same order) each one's context as a table
        # key (see ngram_table; all pads at the start) and its top-level context id where known, else -1:
        # filtered when documents finish, instead of gathered and scattered by index at every step.
        active = np.arange(m)
        history = np.full(m, context_keys(np.full((1, width), self.vocab_size_), self.vocab_size_)[0], dtype=np.int64)
        known = np.full(m, -1, dtype=np.int64)
        for step in range(steps):
            going = target_len[active] > step
            if not going.all():
                active, history, known = active[going], history[going], known[going]
            if not len(active):
                break
            tok, known = self._next_tokens(history, known, laws, rng)
            if self.eos_id_ is not None:
                ended = tok == self.eos_id_
                if ended.any():
                    length[active[ended]] = step
                    going = ~ended
                    active, tok, history, known = active[going], tok[going], history[going], known[going]
            out[active, step] = tok
            if width:  # append the token as the lowest digit, drop the oldest
                history = (history * base + tok) % base**width
        keep = np.arange(steps)[None, :] < length[:, None]
        return out[keep], length

    def _next_tokens(self, history: np.ndarray, known: np.ndarray, laws: TruncatedLaws | None,
                     rng: np.random.Generator):
        """One token for each document from its context key (history), reusing known top-level context ids;
        from the sampler's reshaped laws where it truncates (laws), else from the model's own law.

        Returns (tokens, the top-level context id after each token where it is known without a lookup, else -1).
        """
        top = self.order - 1
        depth, ctx = np.full(len(history), top, dtype=np.int64), known.copy()
        lookup = np.flatnonzero(known < 0)
        depth[lookup], ctx[lookup] = self.table_.deepest(history[lookup])
        u = rng.random(len(ctx))
        follow = np.full(len(ctx), -1, dtype=np.int64)
        if laws is not None:
            return laws.draw(depth, ctx, u), follow
        # Exact inverse-CDF draw without a dense row: the distribution is the successor counts followed
        # by alpha for every token, so one uniform lands either in the counts or in the uniform part; in
        # the counts, it falls on one training occurrence of the context, whose successor is the draw.
        a, V = self.smoothing, self.vocab_size_
        tok = np.zeros(len(ctx), dtype=np.int64)
        for j, level in enumerate(self.table_.levels):
            rows = np.flatnonzero(depth == j)
            if not len(rows):
                continue
            c = ctx[rows]
            first, end = level.occurrence_start[c], level.occurrence_start[c + 1]  # the context's occurrences
            total = end - first
            mass = u[rows] * (total + a * V)  # a point on [0, C) for counts, then [C, C + aV) for smoothing
            in_counts = mass < total
            if j >= top - 1:  # nearly every draw: one gather among the context's training occurrences
                pick = np.where(in_counts, np.minimum(first + mass.astype(np.int64), end - 1), 0)
                pair = level.occurrence_pairs[pick]
            else:  # the point falls on the successor whose running total first exceeds it (kept in the context)
                point = np.minimum(first + mass, end - 0.5)
                pair = np.minimum(np.searchsorted(level.cum, point, side="right"), len(level.cum) - 1)
            uniform = np.minimum(((mass - total) / a).astype(np.int64), V - 1) if a > 0 else 0
            tok[rows] = np.where(in_counts, level.pair_tokens[pair], uniform)
            if j == top and top > 0:
                follow[rows] = np.where(in_counts, self.table_.next_context[pair], -1)
        return tok, follow

    # ---- persistence -----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        params = {"name": self.name, "config": self.config.model_dump(), "vocab_size": self.vocab_size_,
                  "eos_id": self.eos_id_}
        (directory / "params.json").write_text(json.dumps(params))
        np.savez(directory / "tables.npz", length_values=self.length_values_,
                 length_counts=self.length_counts_, **self.table_.to_arrays())

    @classmethod
    def load(cls, directory: str | Path) -> "NGramModel":
        directory = Path(directory)
        params = json.loads((directory / "params.json").read_text())
        model = cls(cls.saved_section(params))
        model.vocab_size_, model.eos_id_ = params["vocab_size"], params["eos_id"]
        with np.load(directory / "tables.npz") as arrays:
            model.table_ = CountTable.from_arrays(arrays, model.order, model.vocab_size_)
            model.length_values_, model.length_counts_ = arrays["length_values"], arrays["length_counts"]
        return model
