"""Which way the count model's collapse goes as its smoothing changes, with and without length control: the
KJV bigram (R = 1,500 verses, cap 127 tokens) under replace for 15 generations, alpha in {1e-5, 1e-4, 1e-3, 1e-2},
5 seeds each (the audit's sweep, docs/direction.md).

    python benchmarks/direction_alpha.py --out runs/direction-alpha     # runs (resumed), then the table

Printed per alpha: means over seeds at generation 0 and the last of model entropy, corpus distinct-2,
repetition and self-BLEU on whole documents and on each document's first 32 tokens, mean length and the share
cut at the cap; then claim (e)'s rule (reproduce paper: more repetitive when the slope of repetition or self-BLEU
rises beyond its 95% interval across seeds and neither falls) on whole documents, and the same rule on the
32-token measures.
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ALPHAS = (1e-5, 1e-4, 1e-3, 1e-2)
BASE = """corpus: {name: kjv, n_train: 1500, n_eval: 500, n_reservoir: 3000}
model: {name: ngram, order: 2}
sampler: {max_tokens: 127}
metrics: [heldout_ppl, model_entropy, distinct_2, repetition, repetition_32, self_bleu, self_bleu_32, capped_fraction,
          length_mean]
save_models: false
paradigm: {name: replace}
"""
SHOWN = ("model_entropy", "distinct_2", "repetition", "repetition_32", "self_bleu", "self_bleu_32", "length_mean",
         "capped_fraction")


def folder_of(out: Path, alpha: float) -> Path:
    return out / f"alpha-{alpha:g}"


def run(out: Path, alpha: float, seeds: str, generations: int) -> None:
    base = out / "base.yaml"
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_text(BASE)
    subprocess.run([sys.executable, "-m", "lmcollapse.cli", "run", str(base), "--set", f"model.smoothing={alpha}",
                    "--set", f"generations={generations}", "--seeds", seeds, "--out", str(folder_of(out, alpha)), "-q"],
                   check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def values(folder: Path, metric: str) -> np.ndarray:
    """(seeds, generations) of one metric."""
    from lmcollapse.running.readback import stored_config
    from lmcollapse.running.rundir import RunDir

    out = []
    for run_dir in sorted((folder / "runs").iterdir()):
        rows = RunDir(run_dir).metrics_rows(stored_config(run_dir).generations)
        out.append([row.get(metric, np.nan) for row in rows])
    return np.array(out, dtype=np.float64)


def slope_sign(series: np.ndarray) -> int:
    """+1 / -1 when the mean per-seed slope's 95% interval lies above / below 0, else 0."""
    from lmcollapse.analysis.aggregation import mean_over_seeds

    t = np.arange(series.shape[1])
    slopes = np.array([np.polyfit(t, s, 1)[0] for s in series])
    _, low, high = mean_over_seeds(slopes)
    return 1 if low > 0 else -1 if high < 0 else 0


def rule(signs: list[int]) -> str:
    """Claim (e)'s rule on two measures' slope signs."""
    if 1 in signs and -1 not in signs:
        return "more repetitive"
    if -1 in signs and 1 not in signs:
        return "less repetitive"
    return "mixed or unclear"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs (a rerun resumes)")
    parser.add_argument("--seeds", default="0-4")
    parser.add_argument("--generations", type=int, default=15)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    start = time.perf_counter()
    for alpha in ALPHAS:
        run(args.out, alpha, args.seeds, args.generations)
    print(f"runs: {time.perf_counter() - start:.0f} s (0 when every run was already there)")
    short = {"model_entropy": "entropy", "distinct_2": "distinct-2", "repetition": "rep", "repetition_32": "rep_32",
             "self_bleu": "sBLEU", "self_bleu_32": "sBLEU_32", "length_mean": "length", "capped_fraction": "capped"}
    print(f"{'alpha':>6} " + " ".join(f"{short[m]:>15}" for m in SHOWN) + f" {'entropy slope':>13} "
          f"{'rule (e), whole':>17} {'rule (e), 32 tokens':>19}")
    for alpha in ALPHAS:
        folder = folder_of(args.out, alpha)
        series = {m: values(folder, m) for m in SHOWN}
        cells = []
        for m in SHOWN:
            first, last = np.nanmean(series[m][:, 0]), np.nanmean(series[m][:, -1])
            digits = 1 if m == "length_mean" else 2 if m in ("model_entropy", "capped_fraction") else 3 \
                if m in ("distinct_2", "self_bleu", "self_bleu_32") else 4
            cells.append(f"{first:.{digits}f}->{last:.{digits}f}")
        entropy = {1: "rises", -1: "falls", 0: "unclear"}[slope_sign(series["model_entropy"])]
        whole = rule([slope_sign(series["repetition"]), slope_sign(series["self_bleu"])])
        prefix = rule([slope_sign(series["repetition_32"]), slope_sign(series["self_bleu_32"])])
        print(f"{alpha:>6g} " + " ".join(f"{c:>15}" for c in cells) + f" {entropy:>13} {whole:>17} {prefix:>19}")
    seeds = values(folder_of(args.out, ALPHAS[0]), "model_entropy").shape[0]
    print(f"generation 0 -> {args.generations - 1}, means over {seeds} seeds; slopes per seed, 95% intervals across seeds")


if __name__ == "__main__":
    main()
