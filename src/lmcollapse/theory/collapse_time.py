"""When does collapse happen? The generation n*(r) at which a stated criterion is first met.

Criteria (eps in (0, 1)):
* real share: the real fraction of the accumulate-subsample pool, exactly 1/(1 + n r), falls below eps:
  n* = floor((1/eps - 1) / r) + 1.
* forgetting: the expected model keeps less than eps of the truth's signal, E[M_n] = q + c_n (p - q) with
  c_n < eps (equivalently TV(E[M_n], q) < eps TV(p, q)). For the pseudo-count learner under
  accumulate-subsample, with lambda = N / (N + alpha V), the recursion of pseudocount.predict gives
  c_n ~ lambda (1 + n r)^-(1 - lambda), so n* ~ ((lambda / eps)^(1 / (1 - lambda)) - 1) / r:
  finite for every r > 0 and growing like 1/r as r shrinks. Under replace, c_n = lambda^(n+1); under
  accumulate (the whole pool), c_n = lambda for every n: it never forgets.
"""
from __future__ import annotations

import math

import numpy as np

from lmcollapse.theory.pseudocount import predict


def real_share_collapse(rate: float, eps: float) -> int:
    return int(math.floor((1 / eps - 1) / rate)) + 1


def forgetting_collapse(paradigm: str, p, alpha: float, n_real: int, rate: float, eps: float,
                        horizon: int = 1_000_000) -> int | None:
    """First generation with c_n < eps from the exact recursion; None if not within the horizon."""
    generations = 64
    while True:
        c = predict(paradigm, p, alpha, n_real, generations, rate=rate).c
        below = np.flatnonzero(c < eps)
        if len(below):
            return int(below[0])
        if generations >= horizon:
            return None
        generations = min(generations * 4, horizon)


def forgetting_collapse_asymptotic(alpha: float, vocab_size: int, n_real: int, rate: float, eps: float) -> float:
    lam = n_real / (n_real + alpha * vocab_size)
    return ((lam / eps) ** (1 / (1 - lam)) - 1) / rate if lam < 1 else math.inf
