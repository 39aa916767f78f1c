"""Exact maximum likelihood under `replace` with N single-token documents is a Wright-Fisher process.

Model t is the empirical distribution of D_t; D_0 = R is N draws from the truth p, and D_t+1 is N draws
from model t. The count of any one token v is then a two-type Wright-Fisher chain: given i copies, the
next generation has Binomial(N, i/N). Everything below is computed exactly on that (N+1)-state chain
(no diffusion approximation), with the classical approximations beside it for reference:

* E[H_t] = (1 - 1/N)^(t+1) H(p) for the collision impurity H = 1 - sum_v p(v)^2 (Wright 1931: a haploid
  population loses a fraction 1/N of its heterozygosity per generation).
* Token v is the last survivor with probability p(v) (its frequency is a martingale).
* P(token v still present in model t), hence the expected number of surviving tokens.
* E[generation at which v is lost | it is lost]; diffusion: -2N p ln p / (1 - p) (Kimura and Ohta 1969).
* E[generation at which one token is left] = sum_v E[fixation time of v; v fixes]; diffusion:
  -2N sum_v (1 - p_v) ln(1 - p_v) (Littler 1975; Ewens, Mathematical Population Genetics, 2004, ch. 3).
Generations count models: "lost at generation t" means model t is the first to give v probability 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmcollapse.errors import LmcollapseError

MAX_N = 2000  # the chain is dense: (N+1)^2 entries


def binomial_pmf(n: int, x: np.ndarray) -> np.ndarray:
    """P(Binomial(n, x) = j) for each x (m,) and j = 0..n: (m, n+1)."""
    x = np.atleast_1d(np.asarray(x, dtype=np.float64))
    j = np.arange(n + 1)
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, n + 1)))])
    log_choose = log_fact[n] - log_fact[j] - log_fact[n - j]
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = log_choose + np.outer(np.log(x), j) + np.outer(np.log1p(-x), n - j)
    pmf = np.exp(logp)
    pmf[x == 0] = (j == 0)
    pmf[x == 1] = (j == n)
    return pmf


def transition_matrix(n: int) -> np.ndarray:
    """T[i, j] = P(j copies next generation | i copies now)."""
    if not 1 <= n <= MAX_N:
        raise LmcollapseError(f"Wright-Fisher computations need 1 <= N <= {MAX_N}, got {n}")
    return binomial_pmf(n, np.arange(n + 1) / n)


@dataclass
class WrightFisher:
    """Exact facts about exact-MLE replace runs with truth p and N single-token documents."""

    p: np.ndarray
    n: int

    def __post_init__(self):
        self.p = np.asarray(self.p, dtype=np.float64) / np.sum(self.p)
        self.T = transition_matrix(self.n)
        self.start = binomial_pmf(self.n, self.p)  # (V, N+1): counts of each token in D_0 = R

    def impurity(self, generations: int) -> np.ndarray:
        """E[H_t] = (1 - 1/N)^(t+1) H(p) for t = 0..generations-1."""
        h = 1.0 - (self.p**2).sum()
        return h * (1 - 1 / self.n) ** (np.arange(generations) + 1)

    def survivor_probability(self) -> np.ndarray:
        """P(token v is the one left at the end) = p(v)."""
        return self.p.copy()

    def alive_probability(self, generations: int) -> np.ndarray:
        """(generations, V): P(token v has a positive count in D_t), t = 0..generations-1."""
        out = np.empty((generations, len(self.p)))
        dist = self.start.copy()  # (V, N+1)
        for t in range(generations):
            out[t] = 1.0 - dist[:, 0]
            dist = dist @ self.T
        return out

    def collapsed_probability(self, generations: int) -> np.ndarray:
        """(generations,): P(model t has a single token left)."""
        out, dist = np.empty(generations), self.start.copy()
        for t in range(generations):
            out[t] = dist[:, -1].sum()
            dist = dist @ self.T
        return out

    def expected_alive(self, generations: int) -> np.ndarray:
        return self.alive_probability(generations).sum(axis=1)

    def _absorption_moment(self, target: int) -> np.ndarray:
        """E[tau 1{absorbed at target}] from each count i, tau in steps (first-step analysis)."""
        n, inner = self.n, np.arange(1, self.n)
        hit = np.arange(n + 1) / n if target == n else 1 - np.arange(n + 1) / n  # P(absorbed at target | i)
        moment = np.zeros(n + 1)
        if len(inner):
            system = np.eye(len(inner)) - self.T[np.ix_(inner, inner)]
            moment[inner] = np.linalg.solve(system, hit[inner])
        return hit, moment

    def loss_generation(self) -> np.ndarray:
        """E[first generation t whose model lacks v | v is lost], per token (exact)."""
        hit, moment = self._absorption_moment(0)
        # From the truth, the first step is the draw of R; generation index = steps - 1.
        weighted = self.start @ (hit + moment)  # E[steps 1{lost}]
        lost = self.start @ hit
        return weighted / lost - 1

    def collapse_generation(self) -> float:
        """E[first generation t whose model has a single token] (exact)."""
        hit, moment = self._absorption_moment(self.n)
        return float((self.start @ (hit + moment)).sum() - 1)

    def loss_generation_diffusion(self) -> np.ndarray:
        x = self.p
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, -2 * self.n * x * np.log(x) / (1 - x), 0.0)

    def collapse_generation_diffusion(self) -> float:
        return diffusion_collapse_generation(self.p, self.n)


def diffusion_collapse_generation(p, n: int) -> float:
    """-2N sum_v (1 - p_v) ln(1 - p_v): the diffusion value of the expected collapse generation (any N)."""
    x = np.asarray(p, dtype=np.float64) / np.sum(p)
    x = x[x < 1]
    return float(-2 * n * ((1 - x) * np.log(1 - x)).sum())
