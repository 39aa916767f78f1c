"""`entropy-select`: keep a spread-out subset of the candidates (Shi et al., NeurIPS 2025, "A closer look at
model collapse: from a generalization-to-memorization perspective"; their code: shilianghe007/Model_Collapse).

The paper counters the loss of entropy that comes with self-consumption by choosing, from `upsample` x N
candidates, the N that cover the candidates' feature space best: greedy farthest-point selection (k-center),
starting from a random candidate and adding, one at a time, the candidate farthest from all chosen so far. Its
features are DINOv2 embeddings of images; here each document's hashed token n-grams (probes/detector.py)
projected onto their top `dims` singular directions. Score: the candidate's distance to the chosen set when
it was chosen."""
from __future__ import annotations

import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.extras import require
from lmcollapse.gates import selection
from lmcollapse.gates.base import GATES, GateContext, Producer
from lmcollapse.probes.detector import ngram_features, used_columns


class EntropySelectGateConfig(Section):
    upsample: float = Field(2.0, gt=1, description="candidates drawn per document the generation contributes "
                                                   "(the paper: 2)")
    dims: int = Field(64, ge=2, description="dimensions of the features the distances are measured in")


def farthest_points(x: np.ndarray, n: int, first: int) -> tuple[np.ndarray, np.ndarray]:
    """(the n rows chosen by greedy farthest-point selection from row `first`, each one's distance to the rows
    chosen before it). x: (m, d)."""
    distance = np.linalg.norm(x - x[first], axis=1)  # (m,) to the nearest chosen row
    chosen, gaps = [first], [np.inf]
    for _ in range(n - 1):
        nxt = int(np.argmax(distance))
        chosen.append(nxt)
        gaps.append(float(distance[nxt]))
        np.minimum(distance, np.linalg.norm(x - x[nxt], axis=1), out=distance)
    return np.array(chosen), np.array(gaps)


@GATES.register("entropy-select", "upsample x the contribution drawn, the N most spread out kept by greedy "
                                  "farthest-point selection on n-gram features (Shi et al. 2025)")
class EntropySelect(Producer):
    requires = ("sklearn",)
    config_class = EntropySelectGateConfig

    def generate(self, n: int, ctx: GateContext, *, seed: int, generation: int, first_id: int,
                 producer: str) -> tuple[Corpus, np.ndarray]:
        require(["sklearn"], "the entropy-select gate")
        from sklearn.decomposition import TruncatedSVD

        rng = np.random.default_rng(seed)
        candidates = selection.draw_candidates(ctx, self.config.upsample, n, seed=seed, generation=generation,
                                               first_id=first_id, producer=producer)  # (m,)
        (features,) = used_columns(ngram_features(candidates))  # (m, F) sparse, F the columns in use
        dims = min(self.config.dims, features.shape[1] - 1, len(candidates) - 1)
        x = TruncatedSVD(dims, random_state=seed % 2**32).fit_transform(features) if dims >= 2 \
            else features.toarray()  # (m, dims)
        chosen, gaps = farthest_points(x, n, int(rng.integers(len(candidates))))
        order = np.argsort(chosen)  # hand them on in drawing order
        picked = candidates.take(chosen[order])
        return (selection.as_contribution(picked, generation=generation, producer=producer, seed=seed,
                                          first_id=first_id), gaps[order])

    def activity(self, produced: Corpus, score: np.ndarray) -> dict[str, float]:
        """n of upsample x n candidates reach the data."""
        return {"acceptance": 1.0 / self.config.upsample}
