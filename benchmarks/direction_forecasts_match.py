"""Whether a study's forecasts, made again, are the ones written before (docs/direction.md; P22).

    python benchmarks/direction_forecasts_match.py EARLIER.json LATER.json

Both files are predictions.json as `reproduce direction` writes them. Run to run, a cell's generation-0 values
are drawn from the same seeds, so a cell forecast again (a study run in parts, or on another machine) should
carry the same values and the same forecast; a difference says the runs, the code or the machine changed.
Printed per cell in both files: the largest absolute difference over its seeds' values, and each file's forecast.
Exits non-zero when a forecast differs.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def compared(earlier: dict, later: dict) -> list[dict]:
    """One row per cell both files forecast: the largest |difference| over the seeds and values both hold."""
    rows = []
    for key, before in earlier["cells"].items():
        after = later["cells"].get(key)
        if after is None:
            continue
        gaps = [abs(value - after["seeds"][seed][column])
                for seed, values in before["seeds"].items() if seed in after["seeds"]
                for column, value in values.items() if column in after["seeds"][seed]]
        rows.append({"cell": key, "largest_difference": max(gaps, default=float("nan")),
                     "values_compared": len(gaps), "earlier": before["forecast"], "later": after["forecast"]})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("earlier", type=Path)
    parser.add_argument("later", type=Path)
    args = parser.parse_args()
    try:
        rows = compared(*(json.loads(path.read_text()) for path in (args.earlier, args.later)))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        parser.error(f"both files must be predictions.json as `reproduce direction` writes them ({exc!r})")
    print("| cell | values compared | largest difference | forecast before | forecast again |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['cell']} | {row['values_compared']} | {row['largest_difference']:.3g} | {row['earlier']} "
              f"| {row['later']} |")
    changed = [row["cell"] for row in rows if row["earlier"] != row["later"]]
    print(f"\n{len(rows)} cells in both; {len(rows) - len(changed)} with the same forecast"
          + (f"; changed: {', '.join(changed)}" if changed else ""))
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
