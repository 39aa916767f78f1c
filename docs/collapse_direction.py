"""Which way collapse goes, predicted (lmcollapse.theory.direction) beside measured, on the runs of the
mitigation benchmark: the bigram on the known Markov chain under replace with each decoding (a prediction
per config), and the GPT under replace with each decoding (the signs the theory gives for an under-fit
learner). Prints a markdown table; docs/theory.md quotes it.

    python docs/collapse_direction.py runs/reproduce-mitigations
"""
from __future__ import annotations

import sys

import numpy as np

from lmcollapse.running.parts import load_config
from lmcollapse.sweep.folder import Sweep
from lmcollapse.theory.direction import direction_for

DECODINGS = ("none", "temperature 0.7", "top-p 0.9", "top-k 50")
# The GPT: pure sampling leaves smoothing (its under-fitting) against sampling, and a network that pools
# what it learns across contexts sees each context's law through far more than one context's draws, so the
# sampling term is small: noise. Temperature 0.7 sharpens by lambda/tau > 1 for any learner that keeps more
# than 70% of its training law: repetition. Top-k and top-p cut the tail: entropy falls first.
GPT_PREDICTION = {"none": "noise", "temperature 0.7": "repetition", "top-p 0.9": "repetition",
                  "top-k 50": "repetition"}


def entropies(per_seed: list[list[dict]]) -> np.ndarray:
    """(seeds, generations) model_entropy."""
    return np.array([[row["model_entropy"] for row in rows] for rows in per_seed])


def main(folder: str) -> None:
    sweep = Sweep(folder)
    groups = sweep.groups("model", "setting", "mitigation")
    configs = {(p.tags["model"], p.tags["setting"], p.tags["mitigation"]): p.values for p in sweep.points}
    print("| model | decoding | predicted | entropy, generation 0 -> mid -> last: predicted | measured (mean of seeds) "
          "| measured way |")
    print("|---|---|---|---|---|---|")
    for model in ("ngram-markov", "gpt"):
        for decoding in DECODINGS:
            key = (model, "replace", decoding)
            if key not in groups:
                continue
            h = entropies(groups[key])
            mean = h.mean(axis=0)
            last = len(mean) - 1
            picks = [0, last // 2, last]
            measured_way = "repetition" if mean[-1] < mean[0] else "noise"
            if model == "gpt":
                predicted, path = GPT_PREDICTION[decoding], "-"
            else:  # the chain is drawn from each run's seed: one prediction per seed, averaged
                paths = [direction_for(load_config({**configs[key], "seed": seed})) for seed in sweep.points[0].seeds]
                ways = sorted({path.way for path in paths})
                predicted = "/".join(ways)
                expected = np.mean([path.expected_entropy for path in paths], axis=0)
                until = min(path.valid_until for path in paths)
                claimed = f" (closure claimed to {until})" if until < last else ""
                path = " -> ".join(f"{expected[t]:.3f}" for t in picks) + claimed
            print(f"| {model} | {decoding} | {predicted} | {path} | "
                  f"{' -> '.join(f'{mean[t]:.3f}' for t in picks)} | {measured_way} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/reproduce-mitigations")
