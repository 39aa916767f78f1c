"""Peers' laws in this toolkit's closed forms, each checked against the simulator by `theory check`.

Gerstgrasser et al. (2024, "Is model collapse inevitable?") show that when data accumulate, the error of
the fitted model stays bounded: for linear regression its test error never exceeds pi^2/6 times the first
generation's. The categorical analogue, for the exact maximum-likelihood unigram (alpha = 0) under
`accumulate` at rate r (each model adds m = r N documents to a pool that keeps everything):

    M_t = (P_(t-1) M_(t-1) + m S_t) / P_t,   P_t = N + t m,   S_t the empirical law of m draws from M_(t-1),

so the error e_t = M_t - p is a martingale, e_t = e_(t-1) + (m / P_t)(S_t - M_(t-1)), whose increments have
E||S_t - M_(t-1)||^2 = E[H(M_(t-1))] / m with H the collision impurity 1 - sum_v M(v)^2. Hence, exactly,

    E||M_t - p||^2 = H(p) / N + sum_(s=1..t) m E[H(M_(s-1))] / P_s^2,

with E[H] from the exact identity recursion (pseudocount.predict). E[H] never grows (sum_v M_v^2 is a
submartingale), so E||M_t - p||^2 <= (H(p) / N)(1 + sum_(s>=1) r / (1 + s r)^2); at r = 1 that factor is
sum_(k>=1) 1 / k^2 = pi^2 / 6: Gerstgrasser's constant, for every t.
"""
from __future__ import annotations

import math

import numpy as np

from lmcollapse.theory.pseudocount import predict


def accumulate_squared_error(p, n_real: int, rate: float, generations: int) -> np.ndarray:
    """E||M_t - p||^2 (sum over tokens), t = 0..generations-1, exact for alpha = 0 under accumulate."""
    p = np.asarray(p, dtype=np.float64) / np.sum(p)
    m = int(round(rate * n_real))
    impurity = predict("accumulate", p, 0.0, n_real, generations, rate=rate).impurity  # E[H(M_t)]
    out = np.empty(generations)
    out[0] = (1 - (p**2).sum()) / n_real
    for t in range(1, generations):
        out[t] = out[t - 1] + m * impurity[t - 1] / (n_real + t * m) ** 2
    return out


def accumulate_bound_factor(rate: float, terms: int = 1_000_000) -> float:
    """1 + sum_(s>=1) r / (1 + s r)^2: the bound on E||M_t - p||^2 over E||M_0 - p||^2; pi^2/6 at r = 1."""
    if rate == 1.0:
        return math.pi**2 / 6
    s = np.arange(1, terms + 1, dtype=np.float64)
    return float(1 + (rate / (1 + s * rate) ** 2).sum())
