"""Calibration at equal activity (P21): a mitigation's main parameter set by a rule written in its config
section and applied to the run's generation 0 before generation 1, so that a row does what its spec says
(masks 20% of the tokens, edits 10% of them) rather than whatever a fixed constant happens to hit at this
model's confidence. The values chosen are recorded in every manifest (`calibrated`) and on the leaderboard."""
from __future__ import annotations

import numpy as np


def threshold_for_share(values: np.ndarray, share: float) -> float:
    """The threshold v for which the share of values strictly above v is closest to `share`. Values often
    tie (a count model's probabilities take few distinct values), so a plain quantile can miss by a wide
    margin; this picks among the cut points the data allow. Between two equally close cuts, the higher."""
    values = np.sort(np.asarray(values, dtype=np.float64).ravel())
    distinct = np.unique(values)
    cuts = np.r_[np.nextafter(distinct[0], -np.inf), distinct]  # (k + 1,) every achievable split
    above = 1.0 - np.searchsorted(values, cuts, side="right") / len(values)  # (k + 1,) share strictly above
    return float(cuts[len(cuts) - 1 - np.argmin(np.abs(above - share)[::-1])])
