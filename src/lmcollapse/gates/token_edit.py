"""`token-edit`: semi-synthetic data by token-level editing (Zhu et al., "How to Synthesize Text Data
without Model Collapse?", arXiv 2412.14689).

Instead of writing documents from scratch, the model edits real ones: each new document starts as a
real training document, and every token the model already predicts with probability above `threshold`
(given the real prefix) is resampled from the model's next-token law at that position (the end token
excluded). Tokens the model finds surprising, where real data carries information the model lacks,
stay as they are. Score: the share of a document's tokens that were resampled.
"""
from __future__ import annotations

import numpy as np

from ..contexts import context_rows, positions
from ..corpus import SYNTHETIC, Corpus
from ..sampling import draw_categorical
from . import GATES, GateContext


def context_width(model) -> int:
    if hasattr(model, "order"):
        return max(model.order - 1, 0)
    return max(getattr(model, "block_size", 128) - 1, 1)


@GATES.register("token-edit", "candidates are real documents whose tokens predicted with p > threshold are "
                              "resampled by the model (semi-synthetic data; replaces free sampling)")
class TokenEdit:
    name = "token-edit"
    generates = True

    def __init__(self, threshold: float = 0.99):
        if not 0 < threshold < 1:
            raise ValueError("threshold must be in (0, 1)")
        self.threshold = threshold

    def generate(self, n: int, ctx: GateContext, *, seed: int, generation: int, first_id: int,
                 producer: str) -> tuple[Corpus, np.ndarray]:
        rng = np.random.default_rng(seed)
        real = ctx.real
        base = real.take(np.sort(rng.choice(len(real), size=n, replace=n > len(real))))
        doc, pos, _ = positions(base)
        _, logp = ctx.model.token_log_probs(base)  # same order: documents in turn, end token last
        inside = pos < base.lengths[doc]
        edit = np.flatnonzero(inside & (np.exp(logp) > self.threshold))
        tokens = base.tokens.astype(np.int64).copy()
        if len(edit):
            if hasattr(ctx.model, "position_probs"):  # neural models: one teacher-forced pass
                probs = ctx.model.position_probs(base, doc[edit], pos[edit])
            else:
                probs = ctx.model.next_token_probs(context_rows(base, doc[edit], pos[edit], context_width(ctx.model)))
            probs = np.array(probs, dtype=np.float64)
            if base.eos_id is not None:
                probs[:, base.eos_id] = 0.0  # an edit never ends the document early
            probs /= probs.sum(axis=1, keepdims=True)
            tokens[base.offsets[doc[edit]] + pos[edit]] = draw_categorical(probs, rng.random(len(edit)))
        edited_share = np.bincount(doc[edit], minlength=n) / np.maximum(base.lengths, 1)
        out = Corpus.from_flat(tokens.astype(np.int32), base.lengths, vocab_size=base.vocab_size, eos_id=base.eos_id,
                               origin=SYNTHETIC, generation=generation, producer=producer, seed=seed,
                               first_id=first_id)
        return out, edited_share
