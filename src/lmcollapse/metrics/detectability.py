"""How distinguishable the generation's contribution is from real text (probes/detector.py)."""
from __future__ import annotations

import numpy as np

from lmcollapse.probes.detector import held_out_auc
from lmcollapse.metrics.base import SHARE, GenerationView, metric

MIN_DOCS = 10  # per class and half: fewer documents give an AUC too noisy to read


@metric("detector_auc", "held-out AUC of a linear detector of generated text (hashed n-grams): fitted on R "
                        "against half of the documents this generation contributes, scored on E against the other "
                        "half; 0.5 = indistinguishable from real text (extra [detect]; only when listed)", False,
        default=False, needs=("extra:detect",), bounds=SHARE, concern="distance")
def detector_auc(view: GenerationView) -> float | None:
    kept = view.kept
    n = min(len(kept) // 2, len(view.real), len(view.held_out))
    if n < MIN_DOCS:
        return None
    first, second = kept.take(np.arange(0, 2 * n, 2)), kept.take(np.arange(1, 2 * n, 2))  # alternate documents
    return held_out_auc(view.real.take(np.arange(n)), first, view.held_out.take(np.arange(n)), second)
