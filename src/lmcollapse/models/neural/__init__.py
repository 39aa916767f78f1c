"""Neural language models under the LanguageModel contract: training, sampling and scoring around a
network that a NetworkAdapter builds (models/gpt.py for `gpt`, a transformers model for `hf`).

Every document is fed as [BOS] + tokens (+ [EOS] when the corpus has an end token); BOS is an extra
input-only symbol, masked out of every output distribution. Documents longer than the block are trained
on in block-sized windows and scored with sliding windows of half a block stride, so every token is
predicted from at least half a block of context. Fixed-length corpora (no end token) sample lengths from
the training lengths, as the count model does.

Memory: with a GPT-2-sized vocabulary (50,257) and a block of 1,024 one window's logits alone take 200 MB,
so no forward pass may take a whole batch blindly. Every pass is sized so that what it holds (logit-sized
tensors, or the KV cache when sampling) stays within `batch_memory_gb`; a training batch larger than that
is split into micro-batches whose gradients add up to the whole batch's (gradient accumulation). The
sizes depend on the configuration only, never on the machine, so results do not change with hardware.
"""
from lmcollapse.models.neural.base import NetworkAdapter, NeuralConfig, NeuralLM
from lmcollapse.models.neural.device import BF16_MIN_WIDTH, _torch, bf16_pays, cpu_has_bf16_units
from lmcollapse.models.neural.rows import pad_rows, padded_rows
from lmcollapse.models.neural.sampling import DECODE_ROWS
from lmcollapse.models.neural.training import TRAINING_COPIES

__all__ = ["BF16_MIN_WIDTH", "DECODE_ROWS", "TRAINING_COPIES", "NetworkAdapter", "NeuralConfig", "NeuralLM", "_torch",
           "bf16_pays", "cpu_has_bf16_units", "pad_rows", "padded_rows"]
