"""A user's own quality gate, outside the package: keeps generated documents of at most `max_tokens`
tokens. tests/test_plugins.py loads it with --plugin."""
from typing import Literal

import numpy as np

from lmcollapse.config import Section
from lmcollapse.gates import GATES, Filter


class ShortGateConfig(Section):
    name: Literal["short"] = "short"
    max_tokens: int = 22


@GATES.register("short", "keeps documents of at most max_tokens tokens")
class ShortGate(Filter):
    name = "short"
    config_class = ShortGateConfig

    def keep(self, corpus, ctx, rng):
        lengths = corpus.lengths
        return lengths <= self.config.max_tokens, lengths.astype(np.float64)
