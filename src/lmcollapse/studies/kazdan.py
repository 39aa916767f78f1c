"""`lmcollapse theory kazdan`: Kazdan et al.'s experiment over N from 10 to 10,000 (kazdan.py), one size at
a time, each size's collapse generations saved as it completes so that a rerun skips the sizes done.

The runs go in a scratch folder (memory where there is one: a run of N = 10,000 writes about 3 GB over
its 19,000 generations) and are removed once read; what is kept is the numbers.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lmcollapse.studies.theory_check import kazdan_rows, simulate_many
from lmcollapse.theory.kazdan import OUTCOMES, KazdanCase, predicted_collapse


def study_row(n: int, seeds: int, workers: int, out: Path) -> dict:
    """The check row of one N, from out/kazdan-N-<n>.json when a previous call already ran those seeds."""
    saved = out / f"kazdan-N-{n}.json"
    generations = json.loads(saved.read_text()) if saved.is_file() else []
    if len(generations) < seeds:
        (found,) = simulate_many([(KazdanCase(n), seeds)], workers, progress=True)[0]
        generations = [int(g) for g in found]
        saved.write_text(json.dumps(generations))
    row = kazdan_rows(KazdanCase(n), np.array(generations[:seeds]))[0]
    return {**row, "n": n, "how": predicted_collapse(n)[1], "seeds": seeds}


def plot(rows: list[dict], path: Path) -> Path:
    """Mean collapse generation against N, log-log, each with its 95% interval, and the prediction."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = np.array([r["n"] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    ax.errorbar(n, [r["measured"] for r in rows], yerr=[1.96 * r["se"] for r in rows], fmt="o", capsize=3,
                label="simulator (mean over runs, 95% interval)")
    ax.plot(n, [r["predicted"] for r in rows], "-", color="0.3",
            label="Wright-Fisher (exact to N = 2,000, diffusion beyond)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("N (samples per generation)")
    ax.set_ylabel("generations to total collapse")
    ax.set_title(f"Kazdan et al.: K = {OUTCOMES} uniform, exact MLE, replace")
    ax.legend(fontsize=8)
    fig.set_layout_engine("constrained")  # makes room for outside legends; tight_layout warns
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
