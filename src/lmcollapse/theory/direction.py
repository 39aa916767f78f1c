"""Which way collapse goes: towards repetition (entropy falling) or towards noise (entropy rising).

Each generation three things move a count model's next-token law at a context it sees n times:

* decoding: the next model learns from T(M), where T is temperature, top-k or top-p (the identity under
  pure sampling). Temperature tau < 1 sharpens, top-k and top-p cut the tail: entropy falls.
* smoothing: the add-alpha fit mixes in the uniform law q with weight 1 - lambda, lambda = n / (n + A),
  A = alpha V (an under-fitting learner acts alike): entropy rises.
* sampling: the fit sees n draws, not T(M): the law scatters around its mean, tokens that draw no count
  are lost unless smoothing returns them, and the expected entropy falls (by about (K - 1) / 2n per
  generation for K tokens in use, Miller and Madow).

The mean follows the deterministic map P -> lambda T(P) + (1 - lambda) q. Its fixed points are where
truncation and smoothing balance. Linearised at the uniform law, temperature multiplies deviations by
lambda / tau: for tau < lambda the uniform law is unstable and the mean runs to a peaked fixed point near
lambda delta_v + (1 - lambda) q (repetition); under pure sampling it runs to q (noise in the mean), and
only the sampling term pulls the other way. Under pure sampling the replace chain's stationary law is, to
the diffusion approximation of a Wright-Fisher chain with mutation, Dirichlet(beta, ..., beta) with
beta = 2 n (1 - lambda) / V (about 2 alpha): expected entropy psi(V beta + 1) - psi(beta + 1). Small alpha
(little smoothing) ends in repetition, large alpha in noise.

The entropy path (entropy_path) closes the moments: M_t is taken to be Dirichlet with the mean and the
expected collision sum_v M_t(v)^2 that the recursion gives. Under pure sampling both are exact (the
identity recursions of pseudocount.py, replace); under a decoding, E[T(M)] and E[sum T(M)^2] are averages
over draws of that Dirichlet (a fixed seed: the prediction is deterministic). The entropy of a Dirichlet
with mean P and concentration kappa is psi(kappa + 1) - sum_v P_v psi(kappa P_v + 1).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import digamma

from lmcollapse.models.decoding import Sampler
from lmcollapse.theory.per_context import ChainSpace, document_moments, setting_of

CLOSURE_DRAWS = 4000  # Dirichlet draws per generation for E[T(M)] under a decoding
CLOSURE_SEED = 20241219
SPLIT = 0.05  # a cut that some draws make and others not splits the runs (see entropy_path)


def entropy(law: np.ndarray) -> np.ndarray:
    """Entropy in nats of each law along the last axis."""
    law = np.asarray(law, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(law > 0, law * np.log(law), 0.0).sum(axis=-1)


def step(law: np.ndarray, lam: float, sampler: Sampler | None) -> np.ndarray:
    """The deterministic map on laws (m, V): lambda T(P) + (1 - lambda) q."""
    law = np.atleast_2d(np.asarray(law, dtype=np.float64))
    decoded = law if sampler is None or sampler.is_pure else sampler.transform(law)
    return lam * decoded + (1 - lam) / law.shape[1]


def fixed_point(law: np.ndarray, lam: float, sampler: Sampler | None, tol: float = 1e-12,
                max_steps: int = 200_000) -> np.ndarray:
    """Iterate the map from `law` until it moves less than tol in total variation: the fixed point (V,)."""
    current = np.atleast_2d(np.asarray(law, dtype=np.float64))
    for _ in range(max_steps):
        nxt = step(current, lam, sampler)
        if 0.5 * np.abs(nxt - current).sum() < tol:
            return nxt[0]
        current = nxt
    return current[0]


def dirichlet_entropy(mean: np.ndarray, kappa: float) -> float:
    """E[H] of Dirichlet(kappa * mean); kappa = inf: the entropy of the mean."""
    mean = np.asarray(mean, dtype=np.float64)
    if not np.isfinite(kappa):
        return float(entropy(mean))
    used = mean > 0
    return float(digamma(kappa + 1) - (mean[used] * digamma(kappa * mean[used] + 1)).sum())


def concentration(mean: np.ndarray, collision: float) -> float:
    """kappa of the Dirichlet with this mean and E[sum_v M_v^2] = collision: (kappa S + 1)/(kappa + 1) = c."""
    s = float((np.asarray(mean) ** 2).sum())
    if collision - s <= 1e-15:
        return float("inf")
    return max((1.0 - collision) / (collision - s), 0.0)


def stationary_entropy(vocab_size: int, n: float, alpha: float) -> float:
    """Expected entropy of the replace chain's stationary law under pure sampling (diffusion approximation);
    0 for alpha = 0 (one token is left)."""
    if alpha <= 0:
        return 0.0
    lam = n / (n + alpha * vocab_size)
    beta = 2 * n * (1 - lam) / vocab_size
    return float(digamma(vocab_size * beta + 1) - digamma(beta + 1))


@dataclass
class EntropyPath:
    """Expected entropy of a model's laws under replace, t = 0..T-1, with what decides the direction."""

    truth_entropy: float  # of the truth, averaged over its contexts as the samples visit them
    mean_law: np.ndarray  # (T, S, V) E[M_t(. | x)]
    collision: np.ndarray  # (T, S) E[sum_v M_t(v | x)^2]
    context_entropy: np.ndarray  # (T, S) E[H(M_t(. | x))] (Dirichlet closure)
    weights: np.ndarray  # (T, S) share of sampled positions at each context (model t's decoded samples)
    fixed_point_entropy: float  # of the mean map's fixed point from the truth, averaged alike
    stationary_entropy: float | None  # pure sampling: of the stationary law, averaged alike
    valid_until: int  # the last generation the closure is claimed for (see entropy_path)

    @property
    def expected_entropy(self) -> np.ndarray:
        """(T,) what the model_entropy metric measures: E[H] averaged over the contexts of the samples."""
        return (self.weights * self.context_entropy).sum(axis=1)

    @property
    def way(self) -> str:
        """'repetition' when the expected entropy falls over the path, 'noise' when it rises. (The end states,
        stationary_entropy and fixed_point_entropy, say where a longer run settles; under a truncating decoding
        the mean map's fixed point is not where runs go, since sampling keeps pushing tokens below the cut.)"""
        return "repetition" if self.expected_entropy[-1] < self.expected_entropy[0] else "noise"


def _occupation(kernel: np.ndarray, chain, length: int) -> np.ndarray:
    """(S,) expected visits per document to each context of a chain (None: one context, every position)."""
    if chain is None:
        return np.array([float(length)])
    return document_moments(chain, kernel, length).n


def entropy_path(truth: np.ndarray, n_docs: int, length: int, alpha: float, sampler: Sampler | None,
                 generations: int, chain=None, draws: int = CLOSURE_DRAWS) -> EntropyPath:
    """E[H(M_t(. | x))] under replace for the add-alpha n-gram fitted to n_docs documents of `length`
    tokens per generation, with this decoding. truth: (V,) a unigram law (chain None), or (S, V) the
    next-token laws of the contexts of `chain` (a per_context.ChainSpace). Each context's count is its
    expected number of visits under the previous model's decoded mean law.

    Where the closure holds: a Dirichlet is one bump. A truncating decoding (top-k, top-p) that cuts a
    token in some draws of a law but not in most (between SPLIT and 1 - SPLIT of them, at a context
    holding at least SPLIT of the positions) splits the runs into those that lost the token and those that
    kept it; from the next generation on the law's distribution has two bumps and the closure is no
    longer claimed (valid_until)."""
    p = np.atleast_2d(np.asarray(truth, dtype=np.float64))
    p = p / p.sum(axis=1, keepdims=True)
    S, V = p.shape
    A, pure = alpha * V, sampler is None or sampler.is_pure
    rng = np.random.default_rng(CLOSURE_SEED)
    decode = (lambda law: law) if pure else (lambda law: sampler.transform(np.maximum(law, 1e-300)))  # noqa: E731

    def fitted(n, source_mean, source_collision):
        """Mean (S, V) and collision (S,) of the add-alpha fit to n (S,) draws from random laws with these
        moments."""
        lam = (n / (n + A))[:, None]
        sum_c2 = n + n * (n - 1) * source_collision  # E[sum_v C_v^2]
        return lam * source_mean + (1 - lam) / V, (sum_c2 + 2 * alpha * n + V * alpha**2) / (n + A) ** 2

    counts = n_docs * _occupation(p, chain, length)  # (S,) visits in R
    mean, coll = fitted(counts, p, (p**2).sum(axis=1))
    means, colls, weights = [mean], [coll], []
    valid_until = generations - 1
    truncating = not pure and (sampler.top_k > 0 or sampler.top_p < 1.0)
    for t in range(generations):
        decoded_mean = decode(mean)
        visits = _occupation(decoded_mean, chain, length)
        weights.append(visits / visits.sum())
        if t == generations - 1:
            break
        if pure:
            src_mean, src_coll = mean, coll
        else:  # E[T(M)] and E[sum T(M)^2] over each context's Dirichlet closure
            src_mean, src_coll = np.empty_like(mean), np.empty(S)
            for x in range(S):
                kappa = concentration(mean[x], coll[x])
                draws_x = np.tile(mean[x], (draws, 1)) if not np.isfinite(kappa) else \
                    rng.dirichlet(np.maximum(kappa * mean[x], 1e-12), size=draws)
                dec = decode(draws_x)
                src_mean[x], src_coll[x] = dec.mean(axis=0), (dec**2).sum(axis=1).mean()
                kept = (dec > 0).mean(axis=0)  # (V,) share of draws in which each token survives the cut
                if truncating and weights[-1][x] >= SPLIT and ((kept > SPLIT) & (kept < 1 - SPLIT)).any():
                    valid_until = min(valid_until, t + 1)
        mean, coll = fitted(n_docs * visits, src_mean, src_coll)
        means.append(mean)
        colls.append(coll)
    means, colls, weights = np.array(means), np.array(colls), np.array(weights)
    context_h = np.array([[dirichlet_entropy(m, concentration(m, c)) for m, c in zip(ms, cs)]
                          for ms, cs in zip(means, colls)])
    real_w = _occupation(p, chain, length)
    real_w = real_w / real_w.sum()
    lam = counts / (counts + A)
    fixed = np.array([fixed_point(p[x], lam[x], sampler) for x in range(S)])
    stationary = (float((real_w * np.array([stationary_entropy(V, c, alpha) for c in counts])).sum())
                  if pure else None)
    return EntropyPath(float((real_w * entropy(p)).sum()), means, colls, context_h, weights,
                       float((real_w * entropy(fixed)).sum()), stationary, valid_until)


def direction_for(config):
    """entropy_path for a config per_context covers (replace): the path of the model_entropy metric."""
    from lmcollapse.sources import SOURCES

    setting = setting_of(config)
    truth = SOURCES.build(config.corpus, seed=config.seed).truth
    space = ChainSpace.build(truth.order, truth.vocab_size, setting.length)
    p = truth.next_token_probs(np.array(space.states, dtype=np.int64).reshape(len(space.states), truth.order))
    return entropy_path(p, setting.n_real, setting.length, setting.alpha, setting.sampler, setting.generations,
                        chain=space)
