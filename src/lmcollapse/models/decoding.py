"""Turning a model's next-token distribution into a draw: temperature, top-k, top-p, length cap."""
from __future__ import annotations

import numpy as np

from lmcollapse.config import SamplerConfig


class Sampler:
    """Built from the sampler config section (checked there): temperature, top_k (0 = keep every token),
    top_p (1.0 = keep every token), max_tokens (the cap on end-token-terminated documents)."""

    def __init__(self, config: SamplerConfig | None = None):
        self.config = SamplerConfig() if config is None else config
        self.temperature, self.top_k = self.config.temperature, self.config.top_k
        self.top_p, self.max_tokens = self.config.top_p, self.config.max_tokens

    def __eq__(self, other) -> bool:
        return isinstance(other, Sampler) and other.config == self.config

    def __repr__(self) -> str:
        return f"Sampler({self.config!r})"

    @property
    def is_pure(self) -> bool:
        """True when draws follow the model's distribution unchanged (models may take a fast path)."""
        return self.temperature == 1.0 and self.top_k == 0 and self.top_p == 1.0

    def transform(self, probs: np.ndarray) -> np.ndarray:
        """Reshape next-token distributions (m, V) -> (m, V), each row summing to 1."""
        probs = np.asarray(probs, dtype=np.float64)
        if self.temperature != 1.0:
            with np.errstate(divide="ignore"):
                logits = np.log(probs) / self.temperature
            logits -= logits.max(axis=1, keepdims=True)
            probs = np.exp(logits)
        if self.top_k and self.top_k < probs.shape[1]:
            # Keep the k largest per row; argpartition is O(V) per row.
            drop = np.argpartition(-probs, self.top_k, axis=1)[:, self.top_k:]
            probs = probs.copy()
            np.put_along_axis(probs, drop, 0.0, axis=1)
        if self.top_p < 1.0:
            order = np.argsort(-probs, axis=1, kind="stable")
            sorted_p = np.take_along_axis(probs, order, axis=1)
            sorted_p = sorted_p / sorted_p.sum(axis=1, keepdims=True)
            cumulative = np.cumsum(sorted_p, axis=1)
            before = np.zeros_like(sorted_p)  # mass strictly before each token (exclusive cumsum)
            before[:, 1:] = cumulative[:, :-1]
            sorted_keep = before < self.top_p  # smallest prefix whose mass reaches top_p
            keep = np.zeros_like(sorted_keep)
            np.put_along_axis(keep, order, sorted_keep, axis=1)
            probs = np.where(keep, probs, 0.0)
        return probs / probs.sum(axis=1, keepdims=True)


def draw_categorical(probs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw of one token per row of probs (m, V) from uniforms (m,) in [0, 1)."""
    cdf = np.cumsum(probs, axis=1)  # (m, V)
    cdf /= cdf[:, -1:]
    picks = (cdf <= uniforms[:, None]).sum(axis=1)
    return np.minimum(picks, probs.shape[1] - 1)
