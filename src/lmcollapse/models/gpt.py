"""The `gpt` backend: a nanoGPT-style transformer (models/neural/transformer.py) trained from scratch each
generation by NeuralLM; beside it, hf.py builds a transformers network the same way."""
from __future__ import annotations

from pydantic import Field, model_validator

from lmcollapse.models.base import MODELS
from lmcollapse.models.neural import NetworkAdapter, NeuralConfig, NeuralLM


class GPTNetwork(NetworkAdapter):
    """models/neural/transformer.py: packs documents with block-diagonal masks."""

    packs_documents = True

    def __init__(self, n_layer: int, n_head: int, n_embd: int):
        self.n_layer, self.n_head, self.n_embd = n_layer, n_head, n_embd

    def build(self, n_symbols: int, block_size: int, dropout: float):
        from lmcollapse.models.neural.transformer import GPT, Architecture  # torch: only once a network is built

        return GPT(Architecture(n_symbols, block_size, self.n_layer, self.n_head, self.n_embd, dropout))


class GPTConfig(NeuralConfig):
    n_layer: int = Field(2, ge=1, description="transformer blocks")
    n_head: int = Field(2, ge=1, description="attention heads per block (n_embd must be a multiple)")
    n_embd: int = Field(64, ge=1, description="width of the token embeddings and hidden states")

    @model_validator(mode="after")
    def _heads_divide_the_width(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"model.n_embd ({self.n_embd}) must be a multiple of model.n_head ({self.n_head})")
        return self


@MODELS.register("gpt", "nanoGPT-style transformer trained from scratch each generation (PyTorch; CPU or CUDA)")
class GPTModel(NeuralLM):
    config_class = GPTConfig

    @staticmethod
    def network_of(config: GPTConfig) -> NetworkAdapter:
        return GPTNetwork(config.n_layer, config.n_head, config.n_embd)

    @classmethod
    def parameters_estimate(cls, section: GPTConfig) -> float:
        # 12 d^2 per block (attention 4 d^2, MLP 8 d^2) and the tied embedding of a 1,000-symbol vocabulary
        return 12 * section.n_layer * section.n_embd ** 2 + 1000 * section.n_embd


# The network's names, here in 0.4 (models/gpt.py was the transformer): import aliases for one minor version,
# loaded on first use so that importing the backend does not import torch.
_NETWORK = {"Architecture", "GPT", "CausalSelfAttention", "MLP", "Block", "KVCache", "bfloat16_cpu_attention"}


def __getattr__(name: str):
    if name in _NETWORK:
        from lmcollapse.models.neural import transformer

        return getattr(transformer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
