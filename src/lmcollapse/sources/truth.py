"""Known-truth sources: synthetic "real" data from a distribution whose probabilities are exact.

`categorical` draws tokens independently from given probabilities (or a Zipf law); `markov` is a random
order-k Markov chain. Documents have exactly ``doc_length`` tokens, or end with an end token that
appears with probability ``end_prob`` at every position. Both can draw fresh real documents forever.
"""
from __future__ import annotations

import abc

import numpy as np
from pydantic import Field, model_validator

from lmcollapse import seeding
from lmcollapse.corpora.corpus import REAL, Corpus, real_first_id
from lmcollapse.errors import LmcollapseError
from lmcollapse.corpora.ngrams import horner
from lmcollapse.models.decoding import draw_categorical
from lmcollapse.sources.base import SOURCES, CorpusSection, Source, SourceData

MAX_TABLE_ENTRIES = 20_000_000


class KnownTruth:
    """An order-k next-token law over ``vocab_size`` symbols (the end token last, when there is one)."""

    def __init__(self, table: np.ndarray, order: int, n_tokens: int, end_prob: float | None):
        self.order = order  # tokens of context the law looks at
        self.n_tokens = n_tokens  # ordinary tokens 0..n_tokens-1
        self.eos_id = n_tokens if end_prob is not None else None
        self.vocab_size = n_tokens + (1 if end_prob is not None else 0)
        if end_prob is not None:  # every position ends the document with probability end_prob
            table = np.concatenate([table * (1 - end_prob), np.full((len(table), 1), end_prob)], axis=1)
        self.table = table  # ((n_tokens+1)^order, vocab_size); row = context in base n_tokens+1, pad = n_tokens

    def row_index(self, contexts: np.ndarray) -> np.ndarray:
        """Rows of the table for contexts (m, >=order); -1 (before the document) maps to the pad."""
        columns = []
        for i in range(self.order):
            col = contexts[:, contexts.shape[1] - self.order + i] if contexts.shape[1] >= self.order - i else None
            columns.append(np.full(len(contexts), self.n_tokens) if col is None else np.where(col < 0, self.n_tokens, col))
        return horner(columns, self.n_tokens + 1) if columns else np.zeros(len(contexts), np.int64)

    def next_token_probs(self, contexts: np.ndarray) -> np.ndarray:
        contexts = np.atleast_2d(np.asarray(contexts, dtype=np.int64))
        if contexts.shape[1] < self.order:  # too short: the document started just before
            pad = np.full((len(contexts), self.order - contexts.shape[1]), -1)
            contexts = np.concatenate([pad, contexts], axis=1)
        return self.table[self.row_index(contexts)]

    def sample(self, n: int, doc_length: int | None, rng: np.random.Generator, *, first_id: int,
               generation: int, producer: str, seed: int) -> Corpus:
        history = np.full((n, max(self.order, 1)), -1, dtype=np.int64)
        cap = doc_length if doc_length is not None else 10**7
        out, length, active = [], np.zeros(n, dtype=np.int64), np.arange(n)
        for step in range(cap):
            if not len(active):
                break
            tok = draw_categorical(self.next_token_probs(history[active, -self.order:] if self.order else
                                                         np.zeros((len(active), 0), np.int64)), rng.random(len(active)))
            if self.eos_id is not None:
                ended = tok == self.eos_id
                active, tok = active[~ended], tok[~ended]
            column = np.full(n, -1, dtype=np.int64)
            column[active] = tok
            out.append(column)
            length[active] += 1
            history[active, :-1] = history[active, 1:]
            history[active, -1] = tok
        steps = np.stack(out, axis=1) if out else np.zeros((n, 0), np.int64)
        tokens = steps[steps >= 0].astype(np.int32)  # row-major: documents in order
        return Corpus.from_flat(tokens, length, vocab_size=self.vocab_size, eos_id=self.eos_id, origin=REAL,
                                generation=generation, producer=producer, seed=seed, first_id=first_id)


class TruthSource(Source):
    """Documents drawn from a KnownTruth that subclasses build from the corpus section."""

    can_make_fresh = True
    has_truth = True

    def __init__(self, section, seed: int = 0, probe=None):
        super().__init__(section, seed, probe)
        self.truth = self.build_truth()

    @abc.abstractmethod
    def build_truth(self) -> KnownTruth:
        """The true next-token law, from the corpus section (and the run seed)."""

    def _draw(self, n: int, generation: int, stage: str, first_id: int) -> Corpus:
        root = self.seed
        return self.truth.sample(n, self.section.doc_length, seeding.rng(root, generation, stage),
                                 first_id=first_id, generation=generation, producer=self.name,
                                 seed=seeding.derived_seed(root, generation, stage))

    def load(self, tokenizer=None) -> SourceData:
        c = self.section
        return SourceData(train=self._draw(c.n_train, 0, "real-train", real_first_id(0)),
                          held_out=self._draw(c.n_eval, 0, "real-eval", real_first_id(0, held_out=True)),
                          truth=self.truth)

    def fresh(self, n: int, generation: int) -> Corpus:
        """n new real documents entering at ``generation`` (the `fresh` paradigm's supply)."""
        return self._draw(n, generation, "fresh", real_first_id(generation))


class TruthCorpusConfig(CorpusSection):
    """The keys of every known-truth corpus."""

    end_prob: float | None = Field(None, gt=0, lt=1, description="end-token probability per position "
                                                                 "(instead of doc_length)")

    @model_validator(mode="after")
    def _one_length_rule(self):
        if (self.doc_length is None) == (self.end_prob is None):
            raise ValueError(f"corpus {self.name}: set exactly one of corpus.doc_length (fixed-length documents) and "
                             f"corpus.end_prob (end-token-terminated documents)")
        return self


class CategoricalCorpusConfig(TruthCorpusConfig):
    probs: list[float] | None = Field(None, description="the true token probabilities")
    vocab_size: int | None = Field(None, ge=2, description="Zipf over this many tokens (instead of probs)")
    zipf_exponent: float = Field(1.0, ge=0, description="p(rank i) ~ i^-exponent")


class MarkovCorpusConfig(TruthCorpusConfig):
    vocab_size: int | None = Field(None, ge=2, description="vocabulary size")
    order: int = Field(1, ge=1, le=4, description="tokens of context")
    concentration: float = Field(0.5, gt=0, description="Dirichlet concentration of each row")
    truth_seed: int | None = Field(None, ge=0, description="the seed the chain is drawn from (default: the run "
                                                           "seed); fix it to share one truth across seeds")


@SOURCES.register("categorical", "i.i.d. tokens from corpus.probs, or Zipf(corpus.zipf_exponent) over corpus.vocab_size")
class CategoricalSource(TruthSource):
    config_class = CategoricalCorpusConfig

    def build_truth(self) -> KnownTruth:
        c = self.section
        if c.probs is not None:
            p = np.asarray(c.probs, dtype=np.float64)
            if len(p) < 2 or (p < 0).any() or not p.sum() > 0 or not np.isfinite(p).all():
                raise LmcollapseError("corpus.probs must list at least 2 non-negative numbers with a positive sum")
        elif c.vocab_size is not None:
            p = np.arange(1, c.vocab_size + 1, dtype=np.float64) ** -c.zipf_exponent
        else:
            raise LmcollapseError("corpus.name=categorical needs corpus.probs or corpus.vocab_size (Zipf)")
        return KnownTruth((p / p.sum())[None, :], order=0, n_tokens=len(p), end_prob=c.end_prob)


@SOURCES.register("markov", "random order-k Markov chain: corpus.vocab_size, corpus.order, corpus.concentration")
class MarkovSource(TruthSource):
    config_class = MarkovCorpusConfig

    def build_truth(self) -> KnownTruth:
        c = self.section
        if c.vocab_size is None:
            raise LmcollapseError("corpus.name=markov needs corpus.vocab_size")
        rows = (c.vocab_size + 1) ** c.order
        if rows * c.vocab_size > MAX_TABLE_ENTRIES:
            raise LmcollapseError(f"markov table of {rows}x{c.vocab_size} entries is too large; "
                                  f"lower corpus.vocab_size or corpus.order")
        rng = seeding.rng(self.seed if c.truth_seed is None else c.truth_seed, seeding.SETUP, "truth")
        table = rng.dirichlet(np.full(c.vocab_size, c.concentration), size=rows)
        table = np.maximum(table, 1e-300)  # tiny concentrations can underflow to exact zeros
        return KnownTruth(table / table.sum(axis=1, keepdims=True), order=c.order, n_tokens=c.vocab_size,
                          end_prob=c.end_prob)
