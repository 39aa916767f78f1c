"""A metrics row as a type: one generation's values, and apart from them their 95% intervals and (for a
mean over seeds) how many seeds each mean is over.

On disk (metrics.jsonl, each generation's metrics row, the sweep tables) a row is flat JSON: NAME,
NAME_lo, NAME_hi and NAME_n beside "generation". to_json and from_json are the one place that spelling is
written and read; every reader takes a row apart with from_json instead of looking at suffixes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

LOW, HIGH, COUNT = "_lo", "_hi", "_n"


@dataclass
class MetricsRow:
    generation: int
    values: dict[str, float | None] = field(default_factory=dict)  # None: undefined or infinite
    intervals: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # rows that average seeds: seeds behind each mean

    def interval(self, name: str) -> tuple[float | None, float | None]:
        """(low, high) of a column's interval, (None, None) when it has none."""
        return self.intervals.get(name, (None, None))

    def to_json(self) -> dict:
        out: dict = {"generation": self.generation}
        for name, value in self.values.items():
            out[name] = value
            if name in self.intervals:
                out[name + LOW], out[name + HIGH] = self.intervals[name]
            if name in self.counts:
                out[name + COUNT] = self.counts[name]
        return out

    @classmethod
    def from_json(cls, data: Mapping) -> "MetricsRow":
        """The row a flat JSON object holds (keys of any other kind, like a sweep's point columns, are left out
        by the caller)."""
        def companion(key: str, suffix: str) -> bool:
            return key.endswith(suffix) and key[:-len(suffix)] in data

        values = {k: v for k, v in data.items()
                  if k != "generation" and not any(companion(k, s) for s in (LOW, HIGH, COUNT))}
        intervals = {k: (data[k + LOW], data.get(k + HIGH)) for k in values if k + LOW in data}
        counts = {k: int(data[k + COUNT]) for k in values if data.get(k + COUNT) is not None}
        return cls(int(data["generation"]), values, intervals, counts)
