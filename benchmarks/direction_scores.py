"""How each forecast of `reproduce direction` scored, summed over study folders (docs/direction.md; P22).

    python benchmarks/direction_scores.py FOLDER [FOLDER ...] [--map PNG]

Reads each folder's summary.json (the study's per-cell outcome) and predictions.json (the rule each cell was
forecast under). A cell counts when it was forecast in time (not late) and its runs have a measured direction.
Printed: per folder and in total, how many of those cells each forecast got right (the study's forecast, the
drawn step entropy_step, the decoding gap writes_minus_reads), over the cells forecast both ways; the cells
where the two disagreed and which was right; and the study's forecast per rule it was written under. With
--map, the regime map of every cell in the folders (the study's own plot, studies/direction.py `regime_map`):
the way to see a grid run in parts (docs/results/direction-gpt-grid/) as one.
"""
from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

BASES = ("by_entropy_step", "by_writes_minus_reads")


def scored_cells(folder: Path) -> list[dict]:
    """The folder's cells with a measured direction, forecast in time, each with the rule it was written under."""
    rows = json.loads((folder / "summary.json").read_text())
    predictions = json.loads((folder / "predictions.json").read_text())
    by_cell = {(entry["model"], entry["cell"]): entry for entry in predictions["cells"].values()}
    out = []
    for row in rows:
        if row["late"] or row["measured"] not in ("repetition", "noise"):
            continue
        entry = by_cell[(row["model"], row["cell"])]
        out.append({**row, "rule": entry.get("rule") or predictions.get("rule"), "folder": folder.name})
    return out


def tally(cells: list[dict]) -> str:
    both = [c for c in cells if all(c[f"{b}_right"] is not None for b in BASES)]
    parts = [f"forecast {sum(c['forecast_right'] for c in cells)} of {len(cells)}"]
    parts += [f"{b[3:]} {sum(c[f'{b}_right'] for c in both)} of {len(both)}" for b in BASES]
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--map", type=Path, help="draw the regime map of every cell in the folders to this PNG")
    args = parser.parse_args()
    everything = []
    print("| folder | cells scored | right (the two bases over the cells forecast both ways) |")
    print("|---|---|---|")
    for folder in args.folders:
        cells = scored_cells(folder)
        everything += cells
        print(f"| {folder.name} | {len(cells)} | {tally(cells)} |")
    print(f"| all | {len(everything)} | {tally(everything)} |")
    print("\nWhere the two disagreed:")
    for c in everything:
        if c["by_entropy_step"] is not None and c["by_entropy_step"] != c["by_writes_minus_reads"]:
            winner = "entropy_step" if c["by_entropy_step_right"] else "writes_minus_reads"
            print(f"- {c['folder']} / {c['cell']}: measured {c['measured']}, {winner} right")
    print("\nThe study's forecast, per rule it was written under:")
    for rule, n in Counter(c["rule"] for c in everything).items():
        right = sum(c["forecast_right"] for c in everything if c["rule"] == rule)
        print(f"- {right} of {n} cells: {rule}")
    if args.map:
        from lmcollapse.studies.direction import regime_map

        every_row = [row for folder in args.folders for row in json.loads((folder / "summary.json").read_text())]
        print(f"\nregime map of {len(every_row)} cells: {regime_map(every_row, args.map)}")


if __name__ == "__main__":
    main()
