"""Seconds the sample-and-gate stage takes per generation, per variant of a quality-vs-quantity output.

    lmcollapse reproduce quality-vs-quantity --out runs/qvq
    python benchmarks/gate_cost.py runs/qvq

Reads every committed generation's manifest.json (its `seconds.sample`, which includes the gates and
any extra sampling rounds) and prints, per setting and variant, the mean over generations and seeds and
the mean number of sampling rounds: the cost column of docs/quality.md.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the --out folder of `lmcollapse reproduce quality-vs-quantity`")
    root = parser.parse_args().root
    for setting in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.endswith("_files")):
        for variant in sorted(p for p in setting.iterdir() if p.is_dir()):
            manifests = [json.loads(m.read_text()) for m in variant.glob("seed-*/gen-*/manifest.json")]
            if not manifests:
                continue
            seconds = sum(m["seconds"]["sample"] for m in manifests) / len(manifests)
            rounds = sum(m["sampling_rounds"] for m in manifests) / len(manifests)
            print(f"{setting.name:8s} {variant.name:18s} {seconds:.3f} s per generation, {rounds:.1f} sampling rounds "
                  f"({len(manifests)} generations)")


if __name__ == "__main__":
    main()
