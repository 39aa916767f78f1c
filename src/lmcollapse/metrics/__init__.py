"""Collapse measurements (see base.py for the contract) and their helpers: BLEU, exact divergences,
sentence embeddings and half-sampling confidence intervals."""
from .base import (HIGHER_IS_BETTER, METRICS, OPT_IN, REFERENCE, GenerationView, RealStatistics, default_metrics,
                   column_direction, describe_column, interval_columns, measure, measured_columns)
from . import diversity, downstream, model, real  # noqa: F401  (each registers its metrics)

__all__ = ["HIGHER_IS_BETTER", "METRICS", "OPT_IN", "REFERENCE", "GenerationView", "RealStatistics",
           "column_direction", "default_metrics", "describe_column", "interval_columns", "measure", "measured_columns"]
