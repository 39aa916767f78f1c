"""Which way collapse goes, per cell, with and without length control (docs/direction.md; P22).

    python benchmarks/direction_cells.py --cells alpha --out runs/direction-alpha   # runs (resumed), the table
    python benchmarks/direction_cells.py --cells eos --out runs/direction-eos

Cells:
- alpha: the KJV bigram (R = 1,500 verses, cap 127 tokens) under replace for 15 generations, alpha in
  {1e-5, 1e-4, 1e-3, 1e-2}, 5 seeds each (the audit's sweep);
- eos: the paper grid's GPT (2 layers, width 64, 8 epochs, BPE 1,000) under replace for 6 generations, 3 seeds,
  with the end-token loss on and off (model.eos_loss: false is the paper's training code, which masks every
  end-token label).

Printed per cell: means over seeds at generation 0 and the last of model entropy, corpus distinct-2,
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
METRICS = """metrics: [heldout_ppl, model_entropy, distinct_2, repetition, repetition_32, self_bleu, self_bleu_32,
          capped_fraction, length_mean]
save_models: false
paradigm: {name: replace}
corpus: {name: kjv, n_train: 1500, n_eval: 500, n_reservoir: 3000}
sampler: {max_tokens: 127}
"""
# each set of cells: the base config, its cells as (label, overrides), seeds and generations by default
CELLS = {
    "alpha": (METRICS + "model: {name: ngram, order: 2}\n",
              [(f"alpha {a:g}", [f"model.smoothing={a}"]) for a in (1e-5, 1e-4, 1e-3, 1e-2)], "0-4", 15),
    "eos": (METRICS + "tokenizer: {name: bpe, vocab_size: 1000}\n"
                      "model: {name: gpt, n_layer: 2, n_head: 2, n_embd: 64, block_size: 128, epochs: 8, lr: 0.003}\n",
            [(f"eos_loss {e}", [f"model.eos_loss={e}"]) for e in ("true", "false")], "0-2", 6),
}
SHOWN = ("model_entropy", "distinct_2", "repetition", "repetition_32", "self_bleu", "self_bleu_32", "length_mean",
         "capped_fraction")


def folder_of(out: Path, label: str) -> Path:
    return out / label.replace(" ", "-")


def run(out: Path, base_text: str, label: str, overrides: list[str], seeds: str, generations: int) -> None:
    base = out / "base.yaml"
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_text(base_text)
    sets = [token for key in overrides for token in ("--set", key)]
    subprocess.run([sys.executable, "-m", "lmcollapse.cli", "run", str(base), *sets, "--set", f"generations={generations}",
                    "--seeds", seeds, "--out", str(folder_of(out, label)), "-q"], check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL)


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
    parser.add_argument("--cells", choices=sorted(CELLS), required=True)
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs (a rerun resumes)")
    parser.add_argument("--seeds", help="default: 0-4 for alpha, 0-2 for eos")
    parser.add_argument("--generations", type=int, help="default: 15 for alpha, 6 for eos")
    args = parser.parse_args()
    base_text, cells, default_seeds, default_generations = CELLS[args.cells]
    seeds, generations = args.seeds or default_seeds, args.generations or default_generations
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    start = time.perf_counter()
    for label, overrides in cells:
        run(args.out, base_text, label, overrides, seeds, generations)
    print(f"runs: {time.perf_counter() - start:.0f} s (0 when every run was already there)")
    short = {"model_entropy": "entropy", "distinct_2": "distinct-2", "repetition": "rep", "repetition_32": "rep_32",
             "self_bleu": "sBLEU", "self_bleu_32": "sBLEU_32", "length_mean": "length", "capped_fraction": "capped"}
    print(f"{'cell':>14} " + " ".join(f"{short[m]:>15}" for m in SHOWN) + f" {'entropy slope':>13} "
          f"{'rule (e), whole':>17} {'rule (e), 32 tokens':>19}")
    for label, _ in cells:
        folder = folder_of(args.out, label)
        series = {m: values(folder, m) for m in SHOWN}
        shown = []
        for m in SHOWN:
            first, last = np.nanmean(series[m][:, 0]), np.nanmean(series[m][:, -1])
            digits = 1 if m == "length_mean" else 2 if m in ("model_entropy", "capped_fraction") else 3 \
                if m in ("distinct_2", "self_bleu", "self_bleu_32") else 4
            shown.append(f"{first:.{digits}f}->{last:.{digits}f}")
        entropy = {1: "rises", -1: "falls", 0: "unclear"}[slope_sign(series["model_entropy"])]
        whole = rule([slope_sign(series["repetition"]), slope_sign(series["self_bleu"])])
        prefix = rule([slope_sign(series["repetition_32"]), slope_sign(series["self_bleu_32"])])
        print(f"{label:>14} " + " ".join(f"{c:>15}" for c in shown) + f" {entropy:>13} {whole:>17} {prefix:>19}")
    count = values(folder_of(args.out, cells[0][0]), "model_entropy").shape[0]
    print(f"generation 0 -> {generations - 1}, means over {count} seeds; slopes per seed, 95% intervals across seeds")


if __name__ == "__main__":
    main()
