"""The fine-tuning regime and the neural known-truth setting of docs/paper.md, from a finished study.

    lmcollapse reproduce paper --model gpt-finetune,gpt-markov --out runs/ft-markov
    lmcollapse run runs/gpt-replace.yaml --seeds 0-2 --out runs/scratch-replace   # the paper's gpt replace config
    python docs/finetune_markov.py runs/ft-markov runs/scratch-replace [more folders of scratch seeds]
                                   [--markov OUT]  # the gpt-markov rows, when another study ran them

Prints, per generation, (1) held-out perplexity under replace of the GPT fine-tuned every generation from its
seed's base against the GPT trained from scratch (the mean over seeds and their range), and (2) the Markov
GPT's distance from its known source (`kl_to_truth`, nats per token: held-out NLL minus the chain's entropy
rate) under every policy; and (3) each row's claims table (studies/paper.py's rules) over the policies whose
every seed has run to the end (a study still running, or stopped, has the others to come). Draws
docs/img/finetune-vs-scratch.png and docs/img/markov-kl.png.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lmcollapse.errors import LmcollapseError  # noqa: E402
from lmcollapse.studies import load_spec, paper  # noqa: E402
from lmcollapse.sweep.folder import Sweep  # noqa: E402

OUT = Path(__file__).parent / "img"
SHOWN = (0, 1, 2, 5, 9, 14, 19)  # generations in the printed tables (those a curve has)


def curves(sweep: Sweep, model: str | None, metric: str) -> dict[str, np.ndarray]:
    """policy -> (seeds, generations) of the metric, for one model row (None: a sweep without tags)."""
    out = {}
    for point in sweep.points:
        if model is not None and point.tags.get("model") != model:
            continue
        runs = [[row[metric] for row in rows] for rows in point.per_seed_rows()]
        runs = [r for r in runs if r]  # seeds not started yet (a study still running) are left out
        if runs:
            out[point.tags.get("policy", "replace")] = np.array([r[:min(map(len, runs))] for r in runs])
    return out


def table(title: str, rows: dict[str, np.ndarray], digits: int) -> None:
    print(f"\n{title}\n")
    shown = [g for g in SHOWN if g < max(values.shape[1] for values in rows.values())]
    print("| | " + " | ".join(f"gen {g}" for g in shown) + " |")
    print("|---|" + "---|" * len(shown))
    for name, values in rows.items():
        cells = [f"{values[:, g].mean():.{digits}f} ({values[:, g].min():.{digits}f}-{values[:, g].max():.{digits}f})"
                 if g < values.shape[1] else "" for g in shown]
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


def finished_claims(folder: Path, model: str) -> None:
    """The claims table of one model row over its finished policies."""
    sweep = Sweep(folder)
    spec = paper.effective_spec(load_spec("paper"))
    done = {p.tags["policy"] for p in sweep.points if p.tags.get("model") == model and p.run_dirs
            and all(len(rows) >= spec["generations"] for rows in p.per_seed_rows())}
    chosen = [p for p in paper.points(spec, (model,), out_dir=folder) if p.label in done]
    if not chosen:
        print(f"\n{model}: no policy has finished every seed")
        return
    claims = paper.measure_claims(spec, chosen, sweep.groups("model", "policy"))
    print(f"\nclaims, {model} (finished policies: {', '.join(p.label for p in chosen)})\n")
    print("| claim | the paper | measured | verdict |\n|---|---|---|---|")
    for row in paper.claim_rows(claims, paper.BOUND):
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path, help="reproduce paper's --out, with the gpt-finetune (and gpt-markov) rows")
    parser.add_argument("--markov", type=Path, help="reproduce paper's --out with the gpt-markov rows (default: study)")
    parser.add_argument("scratch", type=Path, nargs="+", help="the gpt replace runs from scratch (run --seeds ... "
                        "--out), in one folder or several (their seeds together; curves cut to the shortest run)")
    args = parser.parse_args()
    study = Sweep(args.study)
    finetuned = curves(study, "gpt-finetune", "heldout_ppl")["replace"]
    parts = [curves(Sweep(folder), None, "heldout_ppl")["replace"] for folder in args.scratch]
    shortest = min(part.shape[1] for part in parts + [finetuned])
    scratch = np.concatenate([part[:, :shortest] for part in parts])  # (seeds, generations)
    replace = {f"fine-tuned from the base (gpt-finetune, {len(finetuned)} seeds)": finetuned[:, :shortest],
               f"from scratch (gpt, {len(scratch)} seeds)": scratch}
    table("held-out perplexity under replace, mean over seeds (range)", replace, 1)
    table("the same over each seed's generation 0", {k: v / v[:, :1] for k, v in replace.items()}, 2)
    plot(replace, "held-out perplexity (replace)", OUT / "finetune-vs-scratch.png", log=True)
    markov = curves(Sweep(args.markov) if args.markov else study, "gpt-markov", "kl_to_truth")
    table("gpt-markov: kl_to_truth (nats per token), mean over seeds (range)", markov, 3)
    plot(markov, "KL rate to the Markov source (nats/token)", OUT / "markov-kl.png", log=True)
    finished_claims(args.study, "gpt-finetune")
    finished_claims(args.markov or args.study, "gpt-markov")


if __name__ == "__main__":
    try:
        main()
    except LmcollapseError as exc:  # a folder that is not a finished study: one line, not a traceback
        raise SystemExit(f"error: {exc}")
