"""Exact divergence between a known-truth source and a model, per token of a document.

Both are next-token laws over a finite context, so the joint law of a document is a Markov chain over
"the last s tokens" (s = the longer of the two contexts, with a pad before the document starts). We
propagate the truth's distribution over those states position by position and add up the expected
conditional divergence at each position:

    kl_to_truth = sum_i E_truth[ KL(p_true(.|x_<i) || p_model(.|x_<i)) ] / E[#predicted symbols]

which is exactly KL(truth documents || model documents) per predicted symbol (chain rule). tv_to_truth is
the same average of the conditional total-variation distance (the document-level TV is intractable).
"""
from __future__ import annotations

import numpy as np

MAX_ENTRIES = 20_000_000  # states x vocabulary; past this we report NaN instead of exhausting memory
MAX_STEPS = 1_000_000
DEAD_MASS = 1e-15


def _states(n_tokens: int, width: int) -> np.ndarray:
    """Every context of `width` symbols over tokens and the pad (-1): ((n_tokens+1)^width, width)."""
    if width == 0:
        return np.zeros((1, 0), dtype=np.int64)
    base = n_tokens + 1
    digits = np.indices((base,) * width).reshape(width, -1).T  # (S, width), most recent last
    return np.where(digits == n_tokens, -1, digits).astype(np.int64)


def exact_divergence(truth, model, doc_length: int | None) -> tuple[float, float]:
    """(KL nats per predicted symbol, mean conditional TV). NaN when the state space is too large."""
    n, width = truth.n_tokens, max(truth.order, model.context_width)
    base = n + 1
    n_states = base**width
    if n_states * truth.vocab_size > MAX_ENTRIES:
        return float("nan"), float("nan")
    states = _states(n, width)
    p_true = truth.next_token_probs(states)  # (S, V)
    p_model = model.next_token_probs(states) if width else np.atleast_2d(model.next_token_probs(()))  # (S, V)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p_true > 0, p_true * (np.log(p_true) - np.log(p_model)), 0.0)
    kl_state = terms.sum(axis=1)  # (S,) inf where the model misses a true token
    tv_state = 0.5 * np.abs(p_true - p_model).sum(axis=1)

    # Transition: state (x_1..x_s) emits token v -> state (x_2..x_s, v); the end token leaves the chain.
    shifted = (np.arange(n_states) % (base ** (width - 1) if width else 1)) * base if width else np.zeros(1, np.int64)
    next_state = (shifted[:, None] + np.arange(n)[None, :]) if width else np.zeros((1, n), np.int64)  # (S, n)
    emit = p_true[:, :n]  # (S, n) probability of continuing with each ordinary token

    pi = np.zeros(n_states)
    pi[-1 if width else 0] = 1.0  # the all-pad state (pad is the highest digit)
    kl = tv = symbols = 0.0
    steps = doc_length if doc_length is not None else MAX_STEPS
    step = 0
    while step < steps:
        alive = pi.sum()
        if alive < DEAD_MASS:
            break
        kl_step, tv_step = _weighted(pi, kl_state), float(pi @ tv_state)
        new_pi = np.bincount(next_state.ravel(), weights=(pi[:, None] * emit).ravel(), minlength=n_states)
        if doc_length is not None and np.abs(new_pi - pi).sum() < 1e-13:
            # Stationary from here on: every remaining position contributes the same amount.
            remaining = steps - step
            kl, tv, symbols = kl + remaining * kl_step, tv + remaining * tv_step, symbols + remaining * alive
            break
        kl, tv, symbols = kl + kl_step, tv + tv_step, symbols + alive
        pi = new_pi
        step += 1
    return kl / symbols, tv / symbols


def _weighted(pi: np.ndarray, values: np.ndarray) -> float:
    reached = pi > 0
    return float(pi[reached] @ values[reached])  # an infinite value only counts where it is reachable
