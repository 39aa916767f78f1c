"""The downstream probe as a metric: generation t's model against the same architecture randomly
initialised (probes/protocol.py), on labelled real documents that no model of the run trains on."""
from __future__ import annotations

from lmcollapse.metrics.base import SHARE, GenerationView, metric

COLUMNS = {
    "downstream_acc": ("accuracy of the probe on M_t on the probe's test documents", True, SHARE),
    "downstream_f1": ("macro-F1 of the probe on M_t", True, SHARE),
    "downstream_baseline_acc": ("accuracy of the same probe on the architecture randomly initialised "
                                "(computed once per run)", None, SHARE),
    "downstream_gap": ("downstream_acc minus downstream_baseline_acc: what M_t's training adds", True, (-1.0, 1.0)),
    "random_init_heldout_ppl": ("held-out perplexity of the randomly initialised architecture (a reference "
                                "for heldout_ppl)", None),
}


@metric("downstream", "the downstream probe (probe.task): accuracy and macro-F1 of a classifier built on M_t "
                      "(probe.mode), against the random-init baseline", True, columns=COLUMNS, needs=("probe",),
        references={"downstream_acc": "downstream_baseline_acc", "heldout_ppl": "random_init_heldout_ppl"}, concern="downstream")
def downstream(view: GenerationView) -> dict | None:
    if view.probe is None:
        return None
    scores = view.probe.score(view.model, view.generation)
    baseline = view.probe.baseline()
    return {"downstream_acc": scores.accuracy, "downstream_f1": scores.macro_f1,
            "downstream_baseline_acc": baseline["accuracy"],
            "downstream_gap": scores.accuracy.value - baseline["accuracy"],
            "random_init_heldout_ppl": baseline["heldout_ppl"]}
