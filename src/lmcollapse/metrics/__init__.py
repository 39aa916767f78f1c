"""Collapse measurements (see base.py for the contract) and their helpers: BLEU, exact divergences,
sentence embeddings and half-sampling confidence intervals."""
from .base import (HIGHER_IS_BETTER, METRICS, OPT_IN, GenerationView, RealStatistics, default_metrics,
                   interval_columns, measure)
from . import diversity, model, real  # noqa: F401  (each registers its metrics)

__all__ = ["HIGHER_IS_BETTER", "METRICS", "OPT_IN", "GenerationView", "RealStatistics", "default_metrics",
           "interval_columns", "measure"]
