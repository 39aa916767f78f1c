"""Overlay closed-form predictions on measured runs (`lmcollapse theory compare`)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from lmcollapse.api import load_run
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.rundir import RunDir
from lmcollapse.theory.pseudocount import prediction_for
from lmcollapse.theory.real_share import expected_real_share


def compare_run(run_dir: str | Path) -> tuple[list[dict], Path]:
    """Rows (generation, measured and predicted quantities) and the path of the saved plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    run = load_run(run_dir)
    metrics = run.metrics
    if not metrics:
        raise LmcollapseError(f"{run_dir} has no committed generation yet")
    T = len(metrics)
    rows = [{"gen": t, "real share": metrics[t].get("real_fraction"),
             "predicted real share": float(expected_real_share(run.config, T)[t])} for t in range(T)]
    try:
        pred = prediction_for(run.config)
    except LmcollapseError:
        pred = None
    panels = [("real share of D_t", [r["real share"] for r in rows], [r["predicted real share"] for r in rows])]
    if pred is not None:  # known truth with a unigram learner: the model itself can be compared
        p = pred.p
        q = np.full(len(p), 1 / len(p))
        models = np.array([run.model(t).next_token_probs(()) for t in range(T)])
        coef = (models - q) @ (p - q) / ((p - q) @ (p - q))
        impurity = 1 - (models**2).sum(axis=1)
        for t, row in enumerate(rows):
            row.update({"c_t": float(coef[t]), "expected c_t": float(pred.c[t]), "impurity": float(impurity[t]),
                        "expected impurity": float(pred.impurity[t])})
        panels += [("c_t (pull towards the truth)", coef, pred.c[:T]),
                   ("collision impurity", impurity, pred.impurity[:T])]
    panels += _context_panels(run, rows, T)
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False)
    for ax, (title, measured, predicted) in zip(axes[0], panels):
        ax.plot(range(T), measured, "o-", ms=3, label="this run")
        ax.plot(range(T), predicted, "--", color="black", label="closed form (expectation)")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("generation")
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"{run.config.paradigm.name} on {run.config.corpus.name}", fontsize=10)
    fig.set_layout_engine("constrained")  # makes room for outside legends; tight_layout warns
    png = RunDir(run_dir).theory_figure_file
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return rows, png


def _context_panels(run, rows: list[dict], T: int) -> list[tuple]:
    """For an n-gram on a Markov chain: the mean total variation between the run's law and the expected law
    over the contexts (per_context.py), and under replace the model entropy against direction.py's path."""
    from lmcollapse.theory.direction import direction_for
    from lmcollapse.theory.per_context import context_prediction_for

    if run.config.corpus.name != "markov":
        return []
    try:
        pred = context_prediction_for(run.config)
    except LmcollapseError:
        return []
    contexts = np.array(pred.contexts, dtype=np.int64)
    laws = np.array([run.model(t).next_token_probs(contexts) for t in range(T)])  # (T, S, V)
    weights = pred.expected_count[:T] / pred.expected_count[:T].sum(axis=1, keepdims=True)
    to_expected = (weights * 0.5 * np.abs(laws - pred.probs[:T]).sum(axis=2)).sum(axis=1)
    to_truth = (weights * 0.5 * np.abs(laws - pred.truth[None]).sum(axis=2)).sum(axis=1)
    expected_to_truth = (weights * 0.5 * np.abs(pred.probs[:T] - pred.truth[None]).sum(axis=2)).sum(axis=1)
    for t, row in enumerate(rows):
        row.update({"TV(M_t, truth)": float(to_truth[t]), "TV(E[M_t], truth)": float(expected_to_truth[t]),
                    "TV(M_t, E[M_t])": float(to_expected[t])})
    panels = [("TV to the truth, over contexts", to_truth, expected_to_truth)]
    measured = [m.get("model_entropy") for m in run.metrics[:T]]
    if run.config.paradigm.name == "replace" and all(h is not None for h in measured):
        path = direction_for(run.config)
        for t, row in enumerate(rows):
            row.update({"model entropy": measured[t], "predicted entropy": float(path.expected_entropy[t])})
        panels.append((f"model entropy (towards {path.way})", measured, path.expected_entropy[:T]))
    return panels
