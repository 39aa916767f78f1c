"""A user's own quality gate, outside the package: keeps generated documents of at most `max_tokens`
tokens. tests/test_plugins.py loads it with --plugin."""
import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.gates import GATES, Filter


class ShortGateConfig(Section):
    max_tokens: int = Field(22, ge=1, description="the most tokens a kept document may have")


@GATES.register("short", "keeps documents of at most max_tokens tokens")
class ShortGate(Filter):
    config_class = ShortGateConfig

    def keep(self, corpus, ctx, rng):
        lengths = corpus.lengths
        return lengths <= self.config.max_tokens, lengths.astype(np.float64)
