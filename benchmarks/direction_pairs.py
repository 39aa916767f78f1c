"""Does one axis of `reproduce direction` change the direction? Paired by seed, across one or more study folders.

    python benchmarks/direction_pairs.py FOLDER [FOLDER ...] [--axis eos_loss] [--metric model_entropy]
    python benchmarks/direction_pairs.py FOLDER [FOLDER ...] --unpaired

--unpaired compares the cells from each folder's summary.json alone (its mean slope of model_entropy and
95% interval over seeds, from which each cell's spread over seeds is recovered): Welch's t-test, not paired.
It is for a committed grid part whose per-seed table (results.csv) was not kept, as for the first parts in
docs/results/direction-gpt-grid/; it sees less than the paired test, so a difference it misses is "not detected".

Reads each folder's results.csv (the direction study's per-generation table). For every cell it takes each
seed's least-squares slope of the metric per generation, as the study measures a direction. Cells that differ
only in the axis are paired seed by seed: the difference of slopes (the axis's last value minus its first, in
the order the cells are named), its mean with the 95% Student-t interval of analysis/aggregation.py, the exact sign-flip p-value of the
statistics layer (analysis/statistics.py) and Holm's adjustment over the pairs printed. Seeds must not repeat
across folders (a seed run twice is refused). Used for docs/direction.md's end-token masking at 6 seeds.
"""
from __future__ import annotations

import argparse
import csv
import json
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

from lmcollapse.analysis.aggregation import mean_over_seeds
from lmcollapse.analysis.statistics import holm, sign_flip_p, smallest_p


def seed_slopes(folders: list[Path], metric: str) -> dict[str, dict[int, float]]:
    """cell -> seed -> slope of metric per generation."""
    series: dict[tuple[str, int], dict[int, float]] = defaultdict(dict)
    origin: dict[tuple[str, int], Path] = {}
    for folder in dict.fromkeys(folders):  # a folder named twice is read once
        table = folder / "results.csv"
        if not table.is_file():
            raise SystemExit(f"{table}: not found; give folders `lmcollapse reproduce direction` wrote")
        with open(table, newline="") as handle:
            for row in csv.DictReader(handle):
                key = (row["cell"], int(row["seed"]))
                if origin.setdefault(key, folder) != folder:
                    raise SystemExit(f"{key[0]}, seed {key[1]}: in {origin[key]} and {folder}; pair distinct seeds")
                series[key][int(row["generation"])] = float(row[metric])
    slopes: dict[str, dict[int, float]] = defaultdict(dict)
    for (cell, seed), by_generation in series.items():
        t = np.array(sorted(by_generation))
        slopes[cell][seed] = float(np.polyfit(t, [by_generation[g] for g in t], 1)[0])
    return slopes


def pairs(slopes: dict[str, dict[int, float]], axis: str) -> dict[str, dict[str, dict[int, float]]]:
    """rest of the cell's label -> axis value -> seed -> slope, for the cells that name the axis."""
    pattern = re.compile(rf"(^|, ){re.escape(axis)} ([^,]+)")
    grouped: dict[str, dict[str, dict[int, float]]] = defaultdict(dict)
    for cell, by_seed in slopes.items():
        found = pattern.search(cell)
        if found:
            rest = (cell[:found.start()] + cell[found.end():]).strip(", ")
            grouped[rest][found.group(2)] = by_seed
    return {rest: values for rest, values in grouped.items() if len(values) == 2}


def summary_slopes(folders: list[Path]) -> dict[str, tuple[float, float, int]]:
    """cell -> (mean slope, its spread over seeds, seeds) from each folder's summary.json. The summary holds the
    mean and its symmetric 95% Student-t interval, mean +- t(0.975, n - 1) * sd / sqrt(n); sd is taken back
    from the interval's half-width."""
    found: dict[str, tuple[float, float, int]] = {}
    for folder in dict.fromkeys(folders):
        table = folder / "summary.json"
        try:
            cells = json.loads(table.read_text())
        except (OSError, ValueError) as error:
            raise SystemExit(f"{table}: {error}; give folders `lmcollapse reproduce direction` wrote")
        try:
            for cell in cells:
                if cell["cell"] in found:
                    raise SystemExit(f"{cell['cell']}: in two folders; compare distinct cells")
                n, half = cell["seeds"], (cell["slope_hi"] - cell["slope_lo"]) / 2
                found[cell["cell"]] = (cell["slope"], half * np.sqrt(n) / stats.t.ppf(0.975, n - 1), n)
        except (KeyError, TypeError) as error:
            raise SystemExit(f"{table}: not a direction summary (no {error}); give folders `lmcollapse reproduce "
                             f"direction` wrote")
    return found


def unpaired(folders: list[Path], axis: str) -> None:
    """Welch's t-test per pair of cells that differ only in the axis, from the summaries alone."""
    grouped = pairs(summary_slopes(folders), axis)  # pairs() groups any per-cell value by the cells' labels
    if not grouped:
        raise SystemExit(f"no two cells differ only in {axis!r} in {', '.join(map(str, folders))}")
    rows = []
    for rest, values in sorted(grouped.items()):
        (first, (m_a, sd_a, n_a)), (last, (m_b, sd_b, n_b)) = values.items()
        test = stats.ttest_ind_from_stats(m_b, sd_b, n_b, m_a, sd_a, n_a, equal_var=False)
        rows.append((rest, first, last, n_a, n_b, m_b - m_a, float(test.pvalue)))
    adjusted = holm([row[-1] for row in rows])
    print(f"model_entropy slope per generation, {axis}: the second value's minus the first's, unpaired (Welch)")
    print(f"| cell | pair | seeds | difference of means | Welch p | Holm over {len(rows)} |")
    print("|---|---|---|---|---|---|")
    for (rest, first, last, n_a, n_b, difference, p), p_holm in zip(rows, adjusted):
        print(f"| {rest} | {last} - {first} | {n_b} and {n_a} | {difference:+.3f} | {p:.3f} | {p_holm:.3f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--axis", default="eos_loss")
    parser.add_argument("--metric", default="model_entropy")
    parser.add_argument("--unpaired", action="store_true", help="Welch's test from each folder's summary.json")
    args = parser.parse_args()
    if args.unpaired:
        if args.metric != "model_entropy":
            raise SystemExit("--unpaired reads the summaries' model_entropy slopes only; leave out --metric")
        return unpaired(args.folders, args.axis)
    grouped = pairs(seed_slopes(args.folders, args.metric), args.axis)
    if not grouped:
        raise SystemExit(f"no two cells differ only in {args.axis!r} in {', '.join(map(str, args.folders))}")
    rows = []
    for rest, values in sorted(grouped.items()):
        (first, a), (last, b) = values.items()
        seeds = sorted(set(a) & set(b))
        d = np.array([b[s] - a[s] for s in seeds])  # (seeds,) slope under `last` minus under `first`
        rows.append((rest, first, last, seeds, d, mean_over_seeds(d), sign_flip_p(d)))
    adjusted = holm([row[-1] for row in rows])
    print(f"{args.metric} slope per generation, {args.axis}: the second value's minus the first's, paired by seed")
    print(f"| cell | pair | seeds | per seed | mean (95% CI) | sign-flip p | Holm over {len(rows)} |")
    print("|---|---|---|---|---|---|---|")
    for (rest, first, last, seeds, d, (mean, low, high), p), p_holm in zip(rows, adjusted):
        print(f"| {rest} | {last} - {first} | {len(seeds)} | {', '.join(f'{x:+.3f}' for x in d)} | "
              f"{mean:+.3f} ({low:+.3f} to {high:+.3f}) | {p:.3f} | {p_holm:.3f} |")
    print(f"(the smallest sign-flip p at {len(rows[0][3])} seeds: {smallest_p(len(rows[0][3])):.3f})")


if __name__ == "__main__":
    main()
