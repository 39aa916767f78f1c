"""How widely Kazdan et al.'s collapse time spreads, from direct Wright-Fisher simulation (numpy, not the
runner): the numbers docs/theory.md quotes beside the exact mean.

    python docs/kazdan_spread.py [--n 1000] [--runs 2000]
"""
from __future__ import annotations

import argparse

import numpy as np

from lmcollapse.theory.kazdan import OUTCOMES, predicted_collapse


def collapse_generations(n: int, runs: int, seed: int = 1) -> np.ndarray:
    """(runs,) first generation whose model has one outcome left: model t is the empirical law of D_t, D_0
    is n draws from the uniform truth, D_t+1 is n draws from model t."""
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(OUTCOMES, 1 / OUTCOMES), size=runs)  # (runs, K): D_0
    done, t = np.full(runs, -1), 0
    while (done < 0).any():
        newly = ((counts > 0).sum(axis=1) == 1) & (done < 0)
        done[newly] = t
        counts = rng.multinomial(n, counts / n)
        t += 1
    return done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    done = collapse_generations(args.n, args.runs)
    mean, se = done.mean(), done.std(ddof=1) / np.sqrt(len(done))
    print(f"N={args.n}, {args.runs} runs: mean {mean:,.0f} +- {se:,.0f} (exact {predicted_collapse(args.n)[0]:,.0f}), "
          f"standard deviation / mean {done.std(ddof=1) / mean:.2f}, median {np.median(done):,.0f}")


if __name__ == "__main__":
    main()
