"""Real corpora and known-truth sources, by name. Each gives a seeded, disjoint train/held-out split."""
from .base import SOURCES, FreshSupply, Source, SourceData
from . import text, truth  # noqa: F401  (each registers its sources)

__all__ = ["SOURCES", "FreshSupply", "Source", "SourceData"]
