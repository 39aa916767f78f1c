"""Quality gates: filters, producers and pool weightings (see base.py), and the gated sampler."""
from lmcollapse.gates import (  # noqa: F401  (each registers its gates)
    curation, dedup, detector_importance, detector_resample, entropy_select, perplexity, rejection, reweight,
    self_correct, simple, surprise, token_edit, verifier)
from lmcollapse.gates.base import (
                   GATES,
                   Filter,
                   GateContext,
                   GateOutcome,
                   GateSet,
                   PoolWeighting,
                   Producer,
                   Resampler,
                   ReferenceModel,
                   apply_filters,
                   build_gates,
)

__all__ = ["GATES", "Filter", "GateContext", "GateOutcome", "GateSet", "PoolWeighting", "Producer",
           "ReferenceModel", "Resampler", "apply_filters", "build_gates"]
