"""The fine-tuning regime and the neural known-truth setting of docs/paper.md, from a finished study.

    lmcollapse reproduce paper --model gpt-finetune,gpt-markov --out runs/ft-markov
    lmcollapse run runs/gpt-replace.yaml --seeds 0-2 --out runs/scratch-replace   # the paper's gpt replace config
    python docs/finetune_markov.py runs/ft-markov runs/scratch-replace

Prints, per generation, (1) held-out perplexity under replace of the GPT fine-tuned every generation from its
seed's base against the GPT trained from scratch (the mean over seeds and their range), and (2) the Markov
GPT's distance from its known source (`kl_to_truth`, nats per token: held-out NLL minus the chain's entropy
rate) under every policy. Draws docs/img/finetune-vs-scratch.png and docs/img/markov-kl.png.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lmcollapse.sweep.folder import Sweep  # noqa: E402

OUT = Path(__file__).parent / "img"
SHOWN = (0, 1, 2, 5, 10, 15, 19)  # generations in the printed tables


def curves(sweep: Sweep, model: str | None, metric: str) -> dict[str, np.ndarray]:
    """policy -> (seeds, generations) of the metric, for one model row (None: a sweep without tags)."""
    out = {}
    for point in sweep.points:
        if model is not None and point.tags.get("model") != model:
            continue
        runs = [[row[metric] for row in rows] for rows in point.per_seed_rows()]
        if runs and all(runs):
            out[point.tags.get("policy", "replace")] = np.array([r[:min(map(len, runs))] for r in runs])
    return out


def table(title: str, rows: dict[str, np.ndarray], digits: int) -> None:
    print(f"\n{title}\n")
    print("| | " + " | ".join(f"gen {g}" for g in SHOWN) + " |")
    print("|---|" + "---|" * len(SHOWN))
    for name, values in rows.items():
        cells = [f"{values[:, g].mean():.{digits}f} ({values[:, g].min():.{digits}f}-{values[:, g].max():.{digits}f})"
                 if g < values.shape[1] else "" for g in SHOWN]
        print(f"| {name} | " + " | ".join(cells) + " |")


def plot(rows: dict[str, np.ndarray], ylabel: str, path: Path, log: bool) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for name, values in rows.items():
        g = np.arange(values.shape[1])
        ax.plot(g, values.mean(axis=0), label=name)
        ax.fill_between(g, values.min(axis=0), values.max(axis=0), alpha=0.2)
    ax.set_xlabel("generation")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"\nwrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, help="reproduce paper's --out, with the gpt-finetune and gpt-markov rows")
    parser.add_argument("scratch", type=Path, help="the gpt replace runs from scratch (run --seeds ... --out)")
    args = parser.parse_args()
    study = Sweep(args.study)
    finetuned = curves(study, "gpt-finetune", "heldout_ppl")["replace"]
    scratch = curves(Sweep(args.scratch), None, "heldout_ppl")["replace"]
    replace = {"fine-tuned from the base (gpt-finetune)": finetuned, "from scratch (gpt)": scratch}
    table("held-out perplexity under replace, mean over seeds (range)", replace, 1)
    table("the same over each seed's generation 0", {k: v / v[:, :1] for k, v in replace.items()}, 2)
    plot(replace, "held-out perplexity (replace)", OUT / "finetune-vs-scratch.png", log=True)
    markov = curves(study, "gpt-markov", "kl_to_truth")
    table("gpt-markov: kl_to_truth (nats per token), mean over seeds (range)", markov, 3)
    plot(markov, "KL rate to the Markov source (nats/token)", OUT / "markov-kl.png", log=False)


if __name__ == "__main__":
    main()
