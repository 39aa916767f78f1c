"""Documents as rows of integer arrays: padded, packed, and batched by length."""
from __future__ import annotations

import numpy as np

from lmcollapse.models.packing import IGNORE, pack_batch


def pad_rows(rows: list[np.ndarray], value: int) -> np.ndarray:
    """(R, longest) int64: the rows side by side, each filled up with value."""
    out = np.full((len(rows), max(len(r) for r in rows)), value, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def by_length(lengths: np.ndarray, rows_per_batch: int):
    """Index arrays of batches of at most rows_per_batch rows, shortest rows first. A batch padded to its own
    longest row then computes little padding: scoring verses of 5 to 128 tokens in their corpus order padded
    most batches to near the longest verse, three times the arithmetic. Causal attention keeps a row's
    results independent of the padding, so the order changes nothing but the time."""
    order = np.argsort(lengths, kind="stable")
    for lo in range(0, len(order), rows_per_batch):
        yield order[lo:lo + rows_per_batch]


def packed_rows(windows: list[np.ndarray], block_size: int) -> dict[str, np.ndarray]:
    """Windows packed several to a row (models/packing.py): the same loss and gradient as padding each window
    to the longest, with less arithmetic."""
    x, y, positions, segments = pack_batch(windows, block_size)
    return {"x": x, "y": y, "positions": positions, "segments": segments}


def padded_rows(windows: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Each window padded to the longest: for networks that take no positions or mask (hf)."""
    batch = pad_rows(windows, IGNORE)
    return {"x": np.where(batch[:, :-1] == IGNORE, 0, batch[:, :-1]), "y": batch[:, 1:]}
