"""`oracle-rejection`: rejection sampling towards the known truth, with a noisy oracle (known-truth corpora).

A candidate x drawn from the generation's model M_t is accepted with probability p_true(x) / (c * M_t(x)),
which turns draws from M_t into draws from the truth when c bounds the ratio everywhere. For whole documents
that bound is astronomically large (every candidate would be refused), so c is the `envelope` quantile of
the log-ratios of the generation's first round of candidates: candidates above it are accepted with
probability 1 and the law kept leans towards the truth without reaching it (a truncated rejection sampler).
With error_rate e > 0 every decision is then flipped with probability e.

Unlike `verifier`, what counts as good is defined apart from the acceptance rule, so Feng et al.'s keep
rates are measured, not implied: a candidate is good when its per-token truth log-probability reaches the
real documents' `good_quantile` (the leaderboard's phi and psi are the shares of good and of bad candidates
accepted). M_t(x) is the model's own law, untempered: under another decoding the proposal is not M_t.
Score: the candidate's per-token log-probability under the truth (what phi and psi are measured on)."""
from __future__ import annotations

import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.corpora.contexts import truth_log_probs
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.gates import selection
from lmcollapse.gates.base import GATES, Filter, GateContext


class OracleRejectionGateConfig(Section):
    envelope: float = Field(0.9, gt=0, le=1, description="c is this quantile of the first round's log-ratios "
                                                         "log p_true(x) - log M_t(x) (1: the largest seen)")
    error_rate: float = Field(0.0, ge=0, le=0.5, description="share of decisions flipped (a noisy oracle)")
    good_quantile: float = Field(0.1, ge=0, lt=1, description="a good document's per-token truth log-prob reaches "
                                                              "this quantile of the real documents' (for phi, psi)")


@GATES.register("oracle-rejection", "accept a candidate with probability p_true(x) / (c M_t(x)), c the envelope "
                                    "quantile of the log-ratios; error_rate flips decisions (known truth only)")
class OracleRejection(Filter):
    needs_truth = True
    config_class = OracleRejectionGateConfig

    def __init__(self, config: OracleRejectionGateConfig | None = None):
        super().__init__(config)
        self._log_c: dict[int, float] = {}  # generation -> log c, fixed by the generation's first round

    def keep(self, corpus: Corpus, ctx: GateContext, rng) -> tuple[np.ndarray, np.ndarray]:
        if ctx.truth is None:
            raise LmcollapseError("filter oracle-rejection needs a known-truth corpus (categorical or markov); a "
                                  "text corpus has no true source to sample towards")
        truth_logp = truth_log_probs(ctx.truth, corpus)  # (n,)
        with np.errstate(invalid="ignore"):
            log_ratio = truth_logp - ctx.model.log_prob(corpus)  # (n,); -inf where the truth forbids x
        if ctx.generation not in self._log_c:
            finite = log_ratio[np.isfinite(log_ratio)]
            self._log_c[ctx.generation] = float(np.quantile(finite, self.config.envelope)) if len(finite) else 0.0
        accept = np.log(rng.random(len(corpus))) < log_ratio - self._log_c[ctx.generation]
        flip = rng.random(len(corpus)) < self.config.error_rate
        return accept ^ flip, selection.per_token(truth_logp, corpus)

