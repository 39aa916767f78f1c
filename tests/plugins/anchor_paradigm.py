"""A user's own data policy, outside the package: every generation trains on the previous model's
documents plus the same first `anchor_share * N` real documents (a fixed anchor, never resampled).
tests/test_plugins.py loads it with --plugin."""
import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.paradigms import PARADIGMS, Paradigm
from lmcollapse.paradigms.base import DataState


class AnchorConfig(Section):
    anchor_share: float = Field(0.25, gt=0, le=1, description="real documents kept in every training set, "
                                                              "as a share of N")


@PARADIGMS.register("anchor", "N generated documents plus the same first anchor_share*N real ones")
class Anchor(Paradigm):
    config_class = AnchorConfig

    def n_synthetic(self, n_real):
        return n_real

    def next_state(self, state, kept, real, rng, fresh, generation):
        anchor = real.take(np.arange(round(self.section.anchor_share * len(real))))
        train = Corpus.concat([anchor, kept])
        return DataState(train, train)
