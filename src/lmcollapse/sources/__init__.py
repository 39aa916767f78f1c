"""Real corpora and known-truth sources, by name. Each gives a seeded, disjoint train/held-out split."""
from lmcollapse.sources import text, truth  # noqa: F401  (each registers its sources)
from lmcollapse.sources.base import SOURCES, Source, SourceData

__all__ = ["SOURCES", "Source", "SourceData"]
