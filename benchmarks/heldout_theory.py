"""Theory that reaches perplexity, against runs: the add-alpha bigram on KJV at the paper grid's size (R = 1,500
verses, E = 500, cap 127 tokens), per paradigm and smoothing, the expected held-out perplexity ratio that
theory/heldout.py gives from each seed's R and E, against that seed's run.

    python benchmarks/heldout_theory.py --out runs/heldout-theory     # runs (resumed) then the table
    python benchmarks/heldout_theory.py --out DIR --seeds 0-3 --generations 30

Printed per case: the generation at which the mean perplexity ratio (over seeds, on the log scale) first passes
1.25x, predicted (the mean predicted path) and measured (the mean measured path), each seed's measured
crossing, the ratio at the last generation, the largest |mean log error| over generations with the seeds'
standard error, and the theory's share of the last generation's log-loss owed to pairs R never showed (the
term that grows with the pool under accumulate), the expected training visits at the last generation to the
context R never saw (E's out-of-vocabulary word: a run that visits it once loses several nats on each of its
pairs, an event a few seeds average badly) and the theory's crossing for the first seed, followed past the run.
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
CASES = [("replace", 1.0)] + [("accumulate-subsample", r) for r in (1.0, 0.3, 0.1, 0.03, 0.01)] + [("accumulate", 0.1)]
ALPHAS = (1e-3, 1e-4)
BASE = """corpus: {name: kjv, n_train: 1500, n_eval: 500}
model: {name: ngram, order: 2}
sampler: {max_tokens: 127}
metrics: [heldout_ppl]
save_models: false
paradigm: {name: replace}
"""


def folder_of(out: Path, paradigm: str, rate: float, alpha: float) -> Path:
    return out / f"{paradigm}-r{rate}-alpha{alpha}"


def run_case(out: Path, paradigm: str, rate: float, alpha: float, seeds: str, generations: int) -> None:
    """The case's runs through the CLI (a rerun resumes them)."""
    base = out / "base.yaml"
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_text(BASE)
    extra = [] if paradigm == "replace" else ["--set", f"paradigm.rate={rate}"]
    command = [sys.executable, "-m", "lmcollapse.cli", "run", str(base), "--set", f"paradigm.name={paradigm}", *extra,
               "--set", f"model.smoothing={alpha}", "--set", f"generations={generations}", "--seeds", seeds,
               "--out", str(folder_of(out, paradigm, rate, alpha)), "-q"]
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def crossing(log_ratio: np.ndarray, bound: float) -> int | None:
    above = np.flatnonzero(log_ratio > np.log(bound))
    return int(above[0]) if len(above) else None


def compare(folder: Path, horizon: int) -> dict:
    """Each seed's measured log perplexity and the theory's, from the run folder."""
    from lmcollapse.running.readback import stored_config
    from lmcollapse.running.rundir import RunDir
    from lmcollapse.theory.heldout import heldout_for

    measured, predicted, shares, seconds = [], [], [], 0.0
    runs = sorted((folder / "runs").iterdir())
    for run in runs:
        config = stored_config(run)
        rows = RunDir(run).metrics_rows(config.generations)
        measured.append(np.log([row["heldout_ppl"] for row in rows]))
        start = time.perf_counter()
        path = heldout_for(config)
        seconds += time.perf_counter() - start
        predicted.append(path.log_loss)
        shares.append(path.unseen_in_r[-1])
    beyond = heldout_for(stored_config(runs[0]), horizon)  # the first seed's, followed past the run
    generations = len(measured[0])
    never = beyond.context_visits[0] == 0  # contexts R never saw (E's out-of-vocabulary word)
    return {"measured": np.array(measured), "predicted": np.array(predicted), "unseen_share": float(np.mean(shares)),
            "seconds": seconds / len(measured), "beyond": beyond.crossing(),
            "unseen_visits": float(beyond.context_visits[generations - 1][never].sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the runs (a rerun resumes)")
    parser.add_argument("--seeds", default="0-3")
    parser.add_argument("--generations", type=int, default=30)
    parser.add_argument("--horizon", type=int, default=60, help="generations the theory follows the first seed")
    args = parser.parse_args()
    from lmcollapse.theory.heldout import BOUND

    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    start = time.perf_counter()
    for alpha in ALPHAS:
        for paradigm, rate in CASES:
            run_case(args.out, paradigm, rate, alpha, args.seeds, args.generations)
    print(f"runs: {time.perf_counter() - start:.0f} s (0 when every run was already there)")
    print(f"{'case':34} {'cross pred':>10} {'cross meas':>10}  {'each seed':18} {'last ratio pred/meas':>20} "
          f"{'max|err|':>8} {'se':>6} {'R-unseen':>8} {'oov visits':>10} {'theory s':>8} {'beyond the run':>15}")
    for alpha in ALPHAS:
        for paradigm, rate in CASES:
            result = compare(folder_of(args.out, paradigm, rate, alpha), args.horizon)
            measured, predicted = result["measured"], result["predicted"]
            m_ratio = measured - measured[:, :1]
            p_ratio = predicted - predicted[:, :1]
            error = m_ratio - p_ratio
            worst = int(np.argmax(np.abs(error.mean(axis=0))))
            se = error[:, worst].std(ddof=1) / np.sqrt(len(error))
            per_seed = [crossing(row, BOUND) for row in m_ratio]
            fmt = lambda c: "-" if c is None else str(c)  # noqa: E731
            theory_cross = result["beyond"]
            print(f"{paradigm + (' r=' + str(rate) if paradigm != 'replace' else '') + f' alpha={alpha}':34} "
                  f"{fmt(crossing(p_ratio.mean(axis=0), BOUND)):>10} "
                  f"{fmt(crossing(m_ratio.mean(axis=0), BOUND)):>10}  {','.join(map(fmt, per_seed)):18} "
                  f"{np.exp(p_ratio[:, -1].mean()):>9.3f}/{np.exp(m_ratio[:, -1].mean()):<10.3f} "
                  f"{abs(error.mean(axis=0)[worst]):>8.3f} {se:>6.3f} {result['unseen_share']:>8.2f} "
                  f"{result['unseen_visits']:>10.2f} "
                  f"{result['seconds']:>8.1f} {fmt(theory_cross):>15}")
    print(f"cross: first generation whose mean ratio (over seeds) exceeds {BOUND}x generation 0; '-': not within the "
          f"run ({args.generations} generations); 'beyond the run': the theory's for the first seed, followed for "
          f"{args.horizon}")


if __name__ == "__main__":
    main()
