"""Collapse measurements (see base.py for the contract) and their helpers: BLEU, exact divergences,
sentence embeddings and half-sampling confidence intervals."""
from lmcollapse.metrics import (
    detectability, diversity, downstream, fit, forecast, model, real)  # noqa: F401  (each registers its metrics)
from lmcollapse.metrics.base import (
                   METRICS,
                   NEEDS,
                   Column,
                   GenerationView,
                   MetricSpec,
                   RealStatistics,
                   column_direction,
                   default_metrics,
                   describe_column,
                   measure,
                   measured_columns,
                   reference_of,
)
from lmcollapse.metrics.row import MetricsRow

__all__ = ["METRICS", "NEEDS", "Column", "GenerationView", "MetricSpec", "MetricsRow", "RealStatistics",
           "column_direction",
           "default_metrics", "describe_column", "measure", "measured_columns", "reference_of"]
