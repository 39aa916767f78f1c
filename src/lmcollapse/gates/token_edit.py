"""`token-edit`: semi-synthetic data by token-level editing (Zhu et al., ICML 2025, "How to Synthesize Text
Data without Model Collapse?", arXiv 2412.14689; their code: Xuekai-Zhu/toedit, toedit_resampling.py).

Instead of writing documents from scratch, an editor model edits existing ones: each new document starts as
a document of the `source` set, and every token the editor already predicts with probability above
`threshold` (given the document's own prefix) is resampled from the editor's next-token law at that position
(the end token excluded), restricted to its `top_k` likeliest tokens and softened to p ** (1 / beta). Tokens
the editor finds surprising, where the data carries information the editor lacks, stay as they are.

Two setups:
- as published (ToEdit's up_revise): `editor: reference`, the fixed generation-0 model (trained on real data
  only: the prior), edits `source: train`, the current training set D_t, so that editing iterates across
  generations; top_k 64, beta 1.5, threshold 0.99;
- lmcollapse 0.4's (the defaults, kept so that stored runs resume unchanged): the current model edits R.

`edited_share` calibrates the threshold instead (P21, calibration.py): the threshold becomes the probability
above which the generation-0 model puts that share of R's tokens (R is D_0 and M_0 the
first editor in both setups), so that a row edits what its spec says, not what a fixed 0.99 happens to hit.
Score: the share of a document's tokens that were resampled."""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from lmcollapse.calibration import threshold_for_share
from lmcollapse.config import Section
from lmcollapse.corpora.contexts import positions
from lmcollapse.corpora.corpus import SYNTHETIC, Corpus
from lmcollapse.models.decoding import draw_categorical
from lmcollapse.gates.base import GATES, GateContext, Producer


class TokenEditGateConfig(Section):
    threshold: float = Field(0.99, gt=0, lt=1, description="tokens the editor predicts with p above this are "
                                                           "resampled")
    edited_share: float | None = Field(None, gt=0, lt=1, description="calibrate the threshold instead: the share "
                                       "of R's tokens the generation-0 model predicts above it")
    editor: Literal["current", "reference"] = Field("current", description="who edits: the generation's model, or "
                                                    "the fixed generation-0 model (ToEdit's prior)")
    source: Literal["real", "train"] = Field("real", description="what is edited: R, or the current training set "
                                             "D_t (ToEdit, iterated across generations)")
    top_k: int = Field(0, ge=0, description="a replacement is drawn among the editor's top_k tokens (0: all)")
    beta: float = Field(1.0, gt=0, description="replacement law p ** (1 / beta), renormalised (ToEdit: 1.5)")

    @model_validator(mode="after")
    def _one_threshold(self):
        if self.edited_share is not None and self.threshold != type(self).model_fields["threshold"].default:
            raise ValueError("token-edit: set threshold or edited_share (which calibrates it), not both")
        return self


@GATES.register("token-edit", "candidates are documents of R (or D_t) whose tokens the editor predicts with p > "
                              "threshold are resampled by it (semi-synthetic data; replaces free sampling)")
class TokenEdit(Producer):
    config_class = TokenEditGateConfig

    def __init__(self, config: TokenEditGateConfig | None = None):
        super().__init__(config)
        self._threshold: float | None = None if self.config.edited_share is not None else self.config.threshold

    def threshold(self, ctx: GateContext) -> float:
        """The edit threshold: as configured, or calibrated once from the generation-0 model on R."""
        if self._threshold is None:
            reference = ctx.reference()
            doc, logp = reference.token_log_probs(ctx.real)
            _, pos, _ = positions(ctx.real)
            inside = pos < ctx.real.lengths[doc]  # the end token is never edited
            self._threshold = threshold_for_share(np.exp(logp[inside]), self.config.edited_share)
        return self._threshold

    def calibrated(self) -> dict[str, float]:
        return {} if self.config.edited_share is None or self._threshold is None else {"threshold": self._threshold}

    def generate(self, n: int, ctx: GateContext, *, seed: int, generation: int, first_id: int,
                 producer: str) -> tuple[Corpus, np.ndarray]:
        c = self.config
        rng = np.random.default_rng(seed)
        threshold = self.threshold(ctx)
        editor = ctx.model if c.editor == "current" else ctx.reference()
        source = ctx.real if c.source == "real" else ctx.train
        base = source.take(np.sort(rng.choice(len(source), size=n, replace=n > len(source))))
        doc, pos, _ = positions(base)
        _, logp = editor.token_log_probs(base)  # same order: documents in turn, end token last
        inside = pos < base.lengths[doc]
        edit = np.flatnonzero(inside & (np.exp(logp) > threshold))
        tokens = base.tokens.astype(np.int64).copy()
        if len(edit):
            probs = np.array(editor.position_probs(base, doc[edit], pos[edit]), dtype=np.float64)  # (edits, V)
            if base.eos_id is not None:
                probs[:, base.eos_id] = 0.0  # an edit never ends the document early
            if 0 < c.top_k < probs.shape[1]:  # keep each row's top_k likeliest tokens
                below = np.argpartition(-probs, c.top_k, axis=1)[:, c.top_k:]  # (edits, V - top_k)
                np.put_along_axis(probs, below, 0.0, axis=1)
            if c.beta != 1.0:
                probs **= 1.0 / c.beta
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
