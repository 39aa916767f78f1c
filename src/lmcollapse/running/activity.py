"""A generation's mitigation activity (the manifest's `activity`): did the mitigation change what the learner
saw? A mitigation that never acted is not evidence about that mitigation, so the studies label its rows
*inactive* and do not rank them (studies/leaderboard.py).

Each measure has an idle value, the value it takes when the mitigation did nothing:
- acceptance: the share of drawn documents the filtering gates passed, or a selecting producer kept (bt-curation,
  high-surprise, entropy-select; 1: every document kept);
- edited_token_share, edited_document_share: what a producing gate (token-edit) changed in the documents it
  handed on (0: real documents passed on unchanged);
- corrected_share: the share of the contribution a corrector wrote (self-correct; 0: the model's own documents);
- masked_token_share: the share of training targets truncated cross-entropy dropped from the loss (0: it was
  plain cross-entropy).
Reported beside them, with no idle value (they say how much a mitigation had to go on, not whether it acted):
- detector_auc: the held-out AUC of the detector a detector gate weighted documents by (0.5: it could not tell
  generated from real text, so its weights carried nothing).
Policies' own effects (mixing, accumulating) and decoding changes always act and report nothing here."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:
    from lmcollapse.gates.base import GateSet
    from lmcollapse.gates.sampling import GatedSamples
    from lmcollapse.models.base import LanguageModel

IDLE = {"acceptance": 1.0, "edited_token_share": 0.0, "edited_document_share": 0.0, "masked_token_share": 0.0,
        "corrected_share": 0.0}


def generation_activity(drawn: "GatedSamples", gates: "GateSet", model: "LanguageModel") -> dict[str, float]:
    """The activity measures of one generation: of its gates' draw and of its model's training."""
    out: dict[str, float] = {}
    if gates.filters:
        out["acceptance"] = float(drawn.acceptance_rate)
    if gates.producer is not None:
        out.update(gates.producer.activity(drawn.candidates, drawn.scores[gates.producer.name]))
    record = getattr(model, "fit_record_", None)  # neural models trained here; loaded ones have none
    if record is not None and record.masked_share is not None:
        out["masked_token_share"] = float(record.masked_share)
    return out


def never_acted(records: Iterable[dict[str, float]]) -> bool:
    """True when the records (one per generation and seed) hold at least one measure, and every measure in
    every record sits at its idle value: the mitigation changed nothing the learner saw."""
    values = [(name, value) for record in records for name, value in record.items() if name in IDLE]
    return bool(values) and all(math.isclose(value, IDLE[name], abs_tol=1e-12) for name, value in values)


def summary(records: Iterable[dict[str, float]]) -> str:
    """The measures' means over records, as the leaderboard prints them ("" when none was recorded)."""
    totals: dict[str, list[float]] = {}
    for record in records:
        for name, value in record.items():
            totals.setdefault(name, []).append(value)
    return "; ".join(f"{name.replace('_', ' ')} {sum(v) / len(v):.3g}" for name, v in sorted(totals.items()))
