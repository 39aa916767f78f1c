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
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.corpora.contexts import positions
from lmcollapse.corpora.corpus import SYNTHETIC, Corpus
from lmcollapse.models.decoding import draw_categorical
from lmcollapse.gates.base import GATES, GateContext, Producer


class TokenEditGateConfig(Section):
    threshold: float = Field(0.99, gt=0, lt=1, description="tokens the model predicts with p above this are resampled")


@GATES.register("token-edit", "candidates are real documents whose tokens predicted with p > threshold are "
                              "resampled by the model (semi-synthetic data; replaces free sampling)")
class TokenEdit(Producer):
    config_class = TokenEditGateConfig

    def __init__(self, config: TokenEditGateConfig | None = None):
        super().__init__(config)
        self.threshold = self.config.threshold

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
            probs = np.array(ctx.model.position_probs(base, doc[edit], pos[edit]), dtype=np.float64)  # (edits, V)
            if base.eos_id is not None:
                probs[:, base.eos_id] = 0.0  # an edit never ends the document early
            probs /= probs.sum(axis=1, keepdims=True)
            tokens[base.offsets[doc[edit]] + pos[edit]] = draw_categorical(probs, rng.random(len(edit)))
        edited_share = np.bincount(doc[edit], minlength=n) / np.maximum(base.lengths, 1)
        out = Corpus.from_flat(tokens.astype(np.int32), base.lengths, vocab_size=base.vocab_size, eos_id=base.eos_id,
                               origin=SYNTHETIC, generation=generation, producer=producer, seed=seed,
                               first_id=first_id)
        return out, edited_share

    def activity(self, produced: Corpus, score: np.ndarray) -> dict[str, float]:
        """The shares of tokens and of documents edited: both 0 when no token passed the threshold (the
        producer then hands the learner real documents unchanged)."""
        lengths = np.maximum(produced.lengths, 1)  # the score is edited tokens over the document's length
        return {"edited_token_share": float((score * lengths).sum() / lengths.sum()),
                "edited_document_share": float((score > 0).mean())}
