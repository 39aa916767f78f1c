"""A decoder-only transformer in the style of nanoGPT: architecture only, no I/O, no training loop.

Shapes: B batch, T time (tokens), C channels (n_embd), H heads, D = C / H.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

KVCache = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: key and value buffers (B, H, block_size, D)


@dataclass
class Architecture:
    vocab_size: int
    block_size: int = 128
    n_layer: int = 2
    n_head: int = 2
    n_embd: int = 64
    dropout: float = 0.0


def bfloat16_cpu_attention(q, k, v, mask: torch.Tensor | None = None, dropout: float = 0.0) -> torch.Tensor:
    """Causal attention (or under mask, (B, 1, T, T) boolean) of bfloat16 q, k, v (B, H, T, D) on a CPU:
    two bfloat16 matmuls around a softmax that accumulates in float32 (the CPU's kernel converts each row to
    float32 and rounds only its output to bfloat16). The mask is added as a bias of 0 and -inf, whose backward
    passes the gradient through untouched, so neither pass spends a sweep over the (B, H, T, T) scores on
    masking or on casts. At width 256 the CPU's fused bfloat16 kernel trains about 3 times slower than this,
    and its fused float32 one (on inputs cast up) about twice as slow (benchmarks/gpt_precision.py
    --attention prints all three)."""
    T = q.shape[-2]
    if mask is None:
        mask = torch.ones(T, T, dtype=torch.bool, device=q.device).tril()  # (T, T) causal
    bias = torch.zeros(mask.shape, dtype=q.dtype, device=q.device).masked_fill_(~mask, float("-inf"))
    att = (q * (1.0 / math.sqrt(q.shape[-1]))) @ k.transpose(-2, -1)  # (B, H, T, T) bfloat16
    att = att.add_(bias).softmax(dim=-1)  # (B, H, T, T) bfloat16, from float32 sums
    att = F.dropout(att, dropout, dropout > 0)
    return att @ v  # (B, H, T, D) bfloat16


class CausalSelfAttention(nn.Module):
    def __init__(self, config: Architecture):
        super().__init__()
        assert config.n_embd % config.n_head == 0, "n_embd must be a multiple of n_head"
        self.n_head = config.n_head
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd)
        self.proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = config.dropout

    def forward(self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None, start: int = 0,
                mask: torch.Tensor | None = None):
        """x (B, T, C). With a cache (two preallocated (B, H, block_size, D) buffers), this call's keys and
        values are written at positions start..start+T-1 and attention covers positions 0..start+T-1.
        mask (B, 1, T, T) boolean replaces the causal mask (packed rows of several documents)."""
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)  # each (B, T, C)
        q, k, v = (z.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for z in (q, k, v))  # (B, H, T, D)
        if cache is not None:
            if T > 1 and start > 0:
                raise ValueError("with a filled KV cache, feed one token at a time")
            cache[0][:, :, start:start + T] = k
            cache[1][:, :, start:start + T] = v
            k, v = cache[0][:, :, :start + T], cache[1][:, :, :start + T]  # (B, H, start + T, D)
        if T == 1 and cache is not None:
            # One new query after cached positions may see all of them: no mask. Written out, because the
            # fused CPU kernel is several times slower than two small matmuls for a single query.
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))  # (B, H, 1, start + 1)
            y = att.softmax(dim=-1) @ v  # (B, H, 1, D)
        elif q.dtype == torch.bfloat16 and q.device.type == "cpu":
            y = bfloat16_cpu_attention(q, k, v, mask, self.dropout if self.training else 0.0)  # (B, H, T, D)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None and T > 1,
                                               dropout_p=self.dropout if self.training else 0.0)  # (B, H, T, D)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return F.dropout(self.proj(y), self.dropout, self.training)


class MLP(nn.Module):
    def __init__(self, config: Architecture):
        super().__init__()
        self.up = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.down = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = config.dropout

    def forward(self, x):
        return F.dropout(self.down(F.gelu(self.up(x))), self.dropout, self.training)


class Block(nn.Module):
    def __init__(self, config: Architecture):
        super().__init__()
        self.ln1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x, cache=None, start: int = 0, mask=None):
        x = x + self.attn(self.ln1(x), cache, start, mask)
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, config: Architecture):
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self.apply(self._init_weights)
        for name, param in self.named_parameters():  # scaled init of residual projections (GPT-2)
            if name.endswith("proj.weight") or name.endswith("down.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def new_cache(self, batch: int, device) -> KVCache:
        """Preallocated key/value buffers for incremental decoding, one pair per layer. Left uninitialised:
        attention reads only the positions already written (zero-filling them cost 4% of sampling)."""
        c = self.config
        shape = (batch, c.n_head, c.block_size, c.n_embd // c.n_head)
        dtype = self.wte.weight.dtype
        return [(torch.empty(shape, device=device, dtype=dtype), torch.empty(shape, device=device, dtype=dtype))
                for _ in range(c.n_layer)]

    def cache_elements_per_row(self) -> int:
        """Values one batch row of new_cache holds: a key and a value per layer, position and channel."""
        c = self.config
        return 2 * c.n_layer * c.block_size * c.n_embd

    def select_cache(self, cache: KVCache, rows: torch.Tensor, filled: int) -> KVCache:
        """The cache of the given batch rows only (rows (B',) indices): finished documents stop costing.
        Only the `filled` positions written so far are copied, into buffers as long as new_cache's."""
        kept = self.new_cache(len(rows), rows.device)
        for (k, v), (k_new, v_new) in zip(cache, kept):
            torch.index_select(k[:, :, :filled], 0, rows, out=k_new[:, :, :filled])
            torch.index_select(v[:, :, :filled], 0, rows, out=v_new[:, :, :filled])
        return kept

    def hidden(self, idx: torch.Tensor) -> torch.Tensor:
        """idx (B, T) token ids from position 0 -> the final hidden states (B, T, C), after the last layer norm:
        what the language-model head reads, and what a classification head reads in the downstream probe."""
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))  # (B, T, C)
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)  # (B, T, C)

    def forward(self, idx: torch.Tensor, cache: KVCache | None = None, start: int = 0,
                positions: torch.Tensor | None = None, mask: torch.Tensor | None = None) -> torch.Tensor:
        """idx (B, T) token ids at positions start..start+T-1 -> logits (B, T, V).

        Packed rows (models/packing.py) pass their own positions (B, T) and mask (B, 1, T, T) instead."""
        B, T = idx.shape
        if start + T > self.config.block_size and positions is None:
            raise ValueError(f"sequence of {start + T} tokens exceeds block_size {self.config.block_size}")
        pos = torch.arange(start, start + T, device=idx.device) if positions is None else positions  # (T,) or (B, T)
        x = self.wte(idx) + self.wpe(pos)  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, None if cache is None else cache[i], start, mask)
        return self.lm_head(self.ln_f(x))  # (B, T, V)
