"""The statistics layer: how every study compares a row with its baseline, and what it may then claim.

A comparison is paired: a row and its baseline ran with the same seeds, so with the same real data R and E
and the same generation-0 model. Per seed s, d_s = log(ratio of the row) - log(ratio of the baseline), where
a ratio is the watched metric at the last generation over generation 0 (or the area under the log-ratio
curve). Then:

- effect: exp(mean d), the row's ratio over the baseline's, with a Student-t interval on the log scale;
- p: the two-sided sign-flip permutation p-value of mean d (exact: every pattern of signs, for up to
  EXACT_FLIPS seeds; beyond, SAMPLED_FLIPS patterns from a seeded stream); with n seeds no p-value is below 2 / 2^n, so 3 seeds
  can never show an effect at the 5% level, however large;
- p_adjusted: Holm's step-down correction over the family a study states (the mitigation benchmark: every
  row against its baseline), so that the chance of any false claim in the family stays at ALPHA;
- mde: the smallest effect (a ratio) the comparison detects with POWER, from the measured spread of d
  (paired t approximation); infinite where the permutation test cannot reach the row's Holm threshold;
- equivalent: two one-sided t-tests (TOST) that |mean d| < log(1 + margin), the margin the study states;
  "no effect" is only claimed where they pass, else an undetected effect is "not detected" with its mde;
- stability: the share of STABILITY_ROUNDS seed bootstrap resamples (pairs kept together) that give the
  same verdict; below STABLE_SHARE the verdict is shown as "uncertain".

Everything here is a pure function of numbers: studies bring their rows, this module the rules.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass
from typing import Callable

import numpy as np

ALPHA = 0.05  # the family-wise error rate every study's claims keep
POWER = 0.80  # the power a minimal detectable effect is stated at
STABLE_SHARE = 0.90  # a verdict reproduced in fewer seed resamples than this is "uncertain"
STABILITY_ROUNDS = 200  # seed bootstrap resamples behind a verdict's stability
EXACT_FLIPS = 12  # up to this many seeds every sign pattern is enumerated (4,096 patterns)
SAMPLED_FLIPS = 10_000  # beyond: this many random patterns, from a seeded stream (a leaderboard of 60 rows
                        # resamples each 200 times for its stability: exact patterns of 16 seeds would take minutes)
SIGN_FLIP = "paired sign-flip permutation (exact), Holm-adjusted"  # the test, as the tables name it
FIT_NEEDS_DOF = 1  # a law is fitted only with at least this many more points than parameters


@dataclass(frozen=True)
class Paired:
    """One row against its baseline, seed by seed."""

    n: int  # seeds both have
    effect: float  # exp(mean d): the row's ratio over the baseline's
    low: float  # its 95% interval (NaN with fewer than 2 seeds or no spread)
    high: float
    p: float  # sign-flip p-value of mean d
    sd: float  # the spread of d across seeds
    mean: float  # mean d (log scale)

    @property
    def identical(self) -> bool:
        """The row and its baseline gave the same numbers in every seed: the mitigation changed nothing."""
        return self.n > 0 and self.mean == 0 and self.sd == 0


def final_ratios(per_seed: list[list[dict]] | dict[int, list[dict]], watch: str) -> dict[int, float]:
    """Seed -> W at the last generation over W at generation 0 (seeds in order when given as a list)."""
    by_seed = per_seed if isinstance(per_seed, dict) else dict(enumerate(per_seed))
    out = {}
    for seed, rows in by_seed.items():
        values = [r.get(watch) for r in sorted(rows, key=lambda r: r["generation"])]
        if len(values) > 1 and values[0] and values[-1] is not None:
            out[seed] = float(values[-1]) / float(values[0])
    return out


def differences(row: dict[int, float], baseline: dict[int, float]) -> np.ndarray:
    """Per seed both have a finite positive value for: log(row) - log(baseline), in seed order."""
    seeds = sorted(s for s in set(row) & set(baseline)
                   if np.isfinite(row[s]) and np.isfinite(baseline[s]) and row[s] > 0 and baseline[s] > 0)
    return np.array([np.log(row[s]) - np.log(baseline[s]) for s in seeds])


def sign_flip_p(d: np.ndarray, seed: int = 0) -> float:
    """Two-sided p-value of mean d under the null that each d_s is symmetric about 0 (exact up to EXACT_FLIPS
    values; the observed pattern counts, so p >= 2 / 2^n)."""
    n = len(d)
    if n == 0:
        return float("nan")
    if n <= EXACT_FLIPS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))  # (2^n, n)
    else:
        rng = np.random.default_rng(seed)
        signs = np.vstack([np.ones(n), rng.choice((1.0, -1.0), size=(SAMPLED_FLIPS - 1, n))])
    means = np.abs(signs @ d) / n  # (patterns,)
    observed = abs(d.mean())
    return float(np.mean(means >= observed - 1e-12 * max(1.0, observed)))


def smallest_p(n: int) -> float:
    """The smallest p-value a sign-flip test on n seeds can give."""
    return 2.0 / 2.0 ** n if n > 0 else 1.0


def paired(d: np.ndarray) -> Paired:
    from scipy import stats

    n = len(d)
    if n == 0:
        return Paired(0, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))
    mean, sd = float(d.mean()), float(d.std(ddof=1)) if n > 1 else float("nan")
    low = high = float("nan")
    if n > 1 and sd > 0:
        half = stats.t.ppf(1 - ALPHA / 2, n - 1) * sd / np.sqrt(n)
        low, high = float(np.exp(mean - half)), float(np.exp(mean + half))
    return Paired(n, float(np.exp(mean)), low, high, sign_flip_p(d), sd, mean)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN and does not count towards the family)."""
    p = np.asarray(pvalues, dtype=float)
    valid = np.flatnonzero(np.isfinite(p))
    out = np.full(len(p), np.nan)
    order = valid[np.argsort(p[valid], kind="stable")]
    m, running = len(order), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def holm_factors(pvalues: list[float]) -> list[float]:
    """Each p-value's Holm multiplier (m - rank): what its threshold is divided by."""
    p = np.asarray(pvalues, dtype=float)
    valid = np.flatnonzero(np.isfinite(p))
    out = np.full(len(p), np.nan)
    for rank, i in enumerate(valid[np.argsort(p[valid], kind="stable")]):
        out[i] = len(valid) - rank
    return out.tolist()


def mde(sd: float, n: int, factor: float = 1.0) -> float:
    """The smallest effect (a ratio, >= 1) a paired comparison of n seeds with spread sd detects with POWER at
    level ALPHA / factor (factor: the row's Holm multiplier), for the sign-flip test itself; infinite where
    that test cannot reach the level with n seeds, or the spread is unknown."""
    standard = standard_mde(n, ALPHA / factor) if n >= 2 else float("inf")
    if not np.isfinite(standard) or not np.isfinite(sd):
        return float("inf")  # (an infinite standard MDE times a zero spread is no number)
    return float(np.exp(standard * sd))


POWER_DRAWS = 200  # normal samples behind a standardised MDE (common to every effect size tried)
DISCRETE_MARGIN = 20  # the sign-flip test's power is simulated only while its floor 2/2^n is within 20x of the level


@functools.lru_cache(maxsize=256)
def standard_mde(n: int, level: float) -> float:
    """The mean shift, in units of the per-seed spread, that the sign-flip test on n normal differences
    detects at the level with POWER: found by bisection on seeded draws (the test's power depends on the
    shift over the spread only). The test is discrete (no p below 2 / 2^n), so near that floor it needs far
    more than a t-test would: a t approximation promised 80% where the test gave 73%. Beyond EXACT_FLIPS
    seeds, where the discreteness no longer matters, the t approximation."""
    from scipy import stats

    if smallest_p(n) > level:
        return float("inf")
    if n > EXACT_FLIPS or smallest_p(n) * DISCRETE_MARGIN < level:  # far from the floor: the t approximation
        return float((stats.t.ppf(1 - level / 2, n - 1) + stats.t.ppf(POWER, n - 1)) / np.sqrt(n))
    draws = np.random.default_rng(0).standard_normal((n, POWER_DRAWS))  # (n, draws)
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))  # (2^n, n)

    def power(shift: float) -> float:
        d = draws + shift  # (n, draws)
        observed = np.abs(d.mean(axis=0))  # (draws,)
        means = np.abs(signs @ d) / n  # (2^n, draws)
        p = np.mean(means >= observed - 1e-12 * np.maximum(1.0, observed), axis=0)
        return float(np.mean(p < level))

    low, high = 0.0, 1.0
    while power(high) < POWER:
        high *= 2
    for _ in range(30):
        middle = (low + high) / 2
        low, high = (middle, high) if power(middle) < POWER else (low, middle)
    return high


def equivalent(d: np.ndarray, margin: float) -> bool:
    """Two one-sided t-tests: the mean of the log differences d lies within +-log(1 + margin) (a ratio within
    margin of 1), each at level ALPHA."""
    return within(d, float(np.log1p(margin)))


def within(x: np.ndarray, bound: float) -> bool:
    """Two one-sided t-tests (TOST) that the mean of x lies inside (-bound, +bound), each at level ALPHA:
    equivalence shown, not merely no difference found."""
    from scipy import stats

    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n < 2:
        return False
    mean, se = float(x.mean()), float(x.std(ddof=1)) / np.sqrt(n)
    if se == 0:
        return abs(mean) < bound
    lower = stats.t.sf((mean + bound) / se, n - 1)  # H0: mean <= -bound
    upper = stats.t.cdf((mean - bound) / se, n - 1)  # H0: mean >= +bound
    return max(lower, upper) < ALPHA


def stability(d: np.ndarray, decide: Callable[[np.ndarray], str], seed: int = 0) -> float:
    """The share of seed bootstrap resamples of d (pairs kept together) whose verdict is decide(d)'s."""
    n = len(d)
    if n < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    verdict = decide(d)
    same = sum(decide(d[rng.integers(0, n, n)]) == verdict for _ in range(STABILITY_ROUNDS))
    return same / STABILITY_ROUNDS


MIN_PAIRED_SEEDS = 3  # fewer paired seeds give no verdict ("too few seeds")


def paired_verdict(d: np.ndarray, holm_factor: float, bounded: bool, base_bounded: bool, margin: float) -> str:
    """The verdict of one paired comparison of a mitigation (or any treatment) with its baseline, from the
    per-seed log differences d: a difference the sign-flip test finds at the row's Holm level (ALPHA /
    holm_factor) *prevents* (the row bounded where the baseline is not), *delays* (lower) or *harms*
    (higher); otherwise *no effect* where equivalence within the margin is shown, else *not detected*."""
    if len(d) < MIN_PAIRED_SEEDS:
        return "too few seeds"
    if sign_flip_p(d) * holm_factor < ALPHA:
        if d.mean() > 0:
            return "harms"
        return "prevents" if bounded and not base_bounded else "delays"
    return "no effect" if equivalent(d, margin) else "not detected"


def seeds_for(target_mde: float, sd: float, family: int, budget: int = 64) -> int | None:
    """The fewest paired seeds whose MDE, at the strictest Holm level of a family of this size, is at most
    target_mde (a ratio) for a spread sd; None when the budget is not enough."""
    for n in range(MIN_PAIRED_SEEDS, budget + 1):
        if mde(sd, n, family) <= target_mde:
            return n
    return None


def fit_refusal(points: int, parameters: int) -> str | None:
    """Why a law may not be fitted to these points (None: it may): a curve with as many parameters as points
    passes through them exactly and says nothing."""
    if points < parameters + FIT_NEEDS_DOF:
        return (f"no fit: {points} point{'s' if points != 1 else ''} for {parameters} parameters (a fit needs "
                f"{parameters + FIT_NEEDS_DOF} or more, to leave a residual)")
    return None
