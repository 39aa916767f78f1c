"""Synthetic studies with known answers, for the statistics layer (analysis/statistics.py): no models, only
per-seed log differences drawn around planted effects. tests/test_statistics.py asserts on them and
docs/statistics_simulation.py prints the table in docs/statistics.md."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmcollapse.analysis import statistics

FOUND = ("prevents", "delays", "harms")  # verdicts that claim a difference


@dataclass(frozen=True)
class Outcome:
    verdicts: list[list[str]]  # (studies, rows)

    def share(self, row: int, verdicts: tuple[str, ...]) -> float:
        return float(np.mean([study[row] in verdicts for study in self.verdicts]))

    def any_share(self, verdicts: tuple[str, ...]) -> float:
        """The share of studies in which any row gets one of the verdicts (the family-wise rate)."""
        return float(np.mean([any(v in verdicts for v in study) for study in self.verdicts]))


def simulate(effects: list[float], sd: float, seeds: int, studies: int = 200, margin: float = 0.10,
             seed: int = 0) -> Outcome:
    """studies synthetic studies of one family: row i's per-seed log differences are Normal(log effects[i],
    sd); every row is judged as a study judges it (Holm over the family, then paired_verdict). No row is
    bounded, so a found decrease is "delays"."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(studies):
        d = rng.normal(np.log(effects), sd, size=(seeds, len(effects))).T  # (rows, seeds)
        pvalues = [statistics.sign_flip_p(row) for row in d]
        factors = statistics.holm_factors(pvalues)
        out.append([statistics.paired_verdict(row, factor, False, False, margin) for row, factor in zip(d, factors)])
    return Outcome(out)
