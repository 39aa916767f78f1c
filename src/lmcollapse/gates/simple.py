"""The simplest filters: drop empty documents, drop exact repeats within a generation."""
from __future__ import annotations

import numpy as np

from lmcollapse.corpora.corpus import Corpus
from lmcollapse.gates.base import GATES, Filter, GateContext


@GATES.register("nonempty", "drop generated documents with no tokens")
class NonEmpty(Filter):
    def keep(self, corpus: Corpus, ctx: GateContext, rng) -> tuple[np.ndarray, None]:
        return corpus.lengths > 0, None


@GATES.register("exact-dedup", "drop a generated document identical to an earlier one of this generation")
class ExactDedup(Filter):
    def keep(self, corpus: Corpus, ctx: GateContext, rng) -> tuple[np.ndarray, None]:
        seen = {d.tobytes() for earlier in ctx.earlier for d in (earlier.doc(i) for i in range(len(earlier)))}
        keep = np.zeros(len(corpus), dtype=bool)
        for i in range(len(corpus)):
            key = corpus.doc(i).tobytes()
            if key not in seen:
                seen.add(key)
                keep[i] = True
        return keep, None
