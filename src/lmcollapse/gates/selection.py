"""What the selecting producers share (bt-curation, high-surprise, entropy-select, detector-resample's
cousins): draw more candidates than the generation contributes, pick some, and hand the picked ones on as
this generation's synthetic documents, numbered from the round's first id."""
from __future__ import annotations

import math

import numpy as np

from lmcollapse.corpora.corpus import SYNTHETIC, Corpus
from lmcollapse.gates.base import GateContext


def draw_candidates(ctx: GateContext, factor: float, n: int, *, seed: int, generation: int, first_id: int,
                    producer: str) -> Corpus:
    """ceil(factor * n) documents sampled from the generation's model with the run's decoding."""
    return ctx.model.sample(int(math.ceil(factor * n)), sampler=ctx.sampler, seed=seed, generation=generation,
                            first_id=first_id, producer=producer)


def as_contribution(picked: Corpus, *, generation: int, producer: str, seed: int, first_id: int) -> Corpus:
    """The picked documents as new synthetic documents: ids from first_id in order (a candidate picked twice
    is two documents), the sampler's per-document entropy sums kept."""
    return Corpus.from_flat(picked.tokens, picked.lengths, vocab_size=picked.vocab_size, eos_id=picked.eos_id,
                            origin=SYNTHETIC, generation=generation, producer=producer, seed=seed, first_id=first_id,
                            entropy_sums=picked.entropy_sums, entropy_model=picked.entropy_model)


def gumbel_choice(log_weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(groups,) the index chosen in each row of (groups, K) log-weights, with probability proportional to
    exp(log_weight) within the row (the Gumbel-max trick)."""
    return np.argmax(log_weight + rng.gumbel(size=log_weight.shape), axis=1)


def per_token(log_prob: np.ndarray, corpus: Corpus) -> np.ndarray:
    """(documents,) a document-level log-probability over the symbols it scores: its tokens and its end."""
    return log_prob / np.maximum(corpus.lengths + (1 if corpus.eos_id is not None else 0), 1)
