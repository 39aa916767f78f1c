"""Every random draw comes from a stream named by (run seed, generation, stage).

Stages get independent streams through numpy's SeedSequence, so adding a draw to one stage never
shifts the numbers of another, and a resumed run replays exactly the streams it would have used.
"""
from __future__ import annotations

import zlib

import numpy as np

#: Generation index used for draws that happen once per run (corpus split, truth construction).
SETUP = 2**31 - 1


def stage_code(stage: str) -> int:
    """A stable integer for a stage name (crc32: identical across processes and Python versions)."""
    return zlib.crc32(stage.encode("utf-8"))


def seed_sequence(root: int, generation: int, stage: str) -> np.random.SeedSequence:
    return np.random.SeedSequence([int(root), int(generation), stage_code(stage)])


def rng(root: int, generation: int, stage: str) -> np.random.Generator:
    """The generator for one stage of one generation of one run."""
    return np.random.default_rng(seed_sequence(root, generation, stage))


def derived_seed(root: int, generation: int, stage: str) -> int:
    """A 63-bit integer seed for the same stream, recorded in document provenance."""
    return int(seed_sequence(root, generation, stage).generate_state(1, dtype=np.uint64)[0] >> 1)
