"""Quality gates: filters, producers and pool weightings (see base.py), and the gated sampler."""
from . import dedup, detector_resample, perplexity, reweight, simple, token_edit, verifier  # noqa: F401  (each registers its gates)
from .base import (
                   GATES,
                   Filter,
                   GateContext,
                   GateOutcome,
                   GateSet,
                   PoolWeighting,
                   Producer,
                   ReferenceModel,
                   apply_filters,
                   build_gates,
)

__all__ = ["GATES", "Filter", "GateContext", "GateOutcome", "GateSet", "PoolWeighting", "Producer",
           "ReferenceModel", "apply_filters", "build_gates"]
