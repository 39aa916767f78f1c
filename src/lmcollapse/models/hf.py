"""The `hf` backend: any transformers causal LM built from a config, under the same contract as `gpt`.

Training, sampling and scoring are NeuralLM's (models/neural/); HFNetwork builds the network. `model.hf_config` names a preset (the GPT-Neo sizes of the TinyStories-1M and -33M models) or
a local config.json / directory holding one; the vocabulary then comes from the run's tokenizer (plus
BOS), max positions from `model.block_size`, and weights start fresh every generation.

`model.init: base` with `model.base` naming a local checkpoint directory (save_pretrained's layout; 0.4's
spelling: `model.hf_checkpoint`) instead starts every generation from its weights, i.e. fine-tunes it
rather than training from scratch: the fine-tuning regime of running/base_model.py with a base trained
elsewhere. Its token ids
must be the run's, so pair it with `tokenizer.name=pretrained` and `tokenizer.path` set to the same
directory. The embedding gains one row for the BOS input symbol when the checkpoint has no spare id.
"""
from __future__ import annotations

import inspect
from pathlib import Path

from pydantic import Field, model_validator

from lmcollapse.errors import LmcollapseError
from lmcollapse.extras import require
from lmcollapse.models.base import MODELS
from lmcollapse.models.neural import NetworkAdapter, NeuralConfig, NeuralLM, _torch

PRESETS = {
    # Sizes of the published TinyStories-1M / -33M GPT-Neo configs (Eldan and Li, 2023).
    "tinystories-1m": {"model_type": "gpt_neo", "hidden_size": 64, "num_layers": 8, "num_heads": 16,
                       "attention_types": [[["global", "local"], 4]], "window_size": 256},
    "tinystories-33m": {"model_type": "gpt_neo", "hidden_size": 768, "num_layers": 4, "num_heads": 16,
                        "attention_types": [[["global", "local"], 2]], "window_size": 256},
}


def _transformers():
    require(["transformers"], "model.name=hf")
    import transformers

    return transformers


def hf_config(name: str, vocab_size: int, block_size: int, dropout: float):
    transformers = _transformers()
    if name in PRESETS:
        fields = dict(PRESETS[name])
        config = transformers.AutoConfig.for_model(fields.pop("model_type"), **fields)
    else:
        path = Path(name).expanduser()
        if not path.exists():
            raise LmcollapseError(f"model.hf_config {name!r} is neither a preset ({', '.join(PRESETS)}) nor a "
                                  f"config.json or directory on disk")
        try:
            config = transformers.AutoConfig.from_pretrained(str(path), local_files_only=True)
        except (OSError, ValueError) as exc:
            raise LmcollapseError(f"cannot read a transformers config from {path}: {str(exc).splitlines()[0]}") from None
    config.vocab_size = vocab_size
    for key in ("max_position_embeddings", "n_positions"):
        if hasattr(config, key):
            setattr(config, key, block_size)
    for key in ("embed_dropout", "attention_dropout", "resid_dropout", "hidden_dropout", "dropout"):
        if hasattr(config, key):
            setattr(config, key, dropout)
    return config


def _hf_net_class():
    torch = _torch()

    class HFNet(torch.nn.Module):
        """Adapts a transformers causal LM to the interface of models/neural/transformer.py: net(idx, cache, start)."""

        def __init__(self, model, block_size: int):
            super().__init__()
            self.model = model
            self.block_size = block_size
            # transformers 5.x renamed past_key_values to cache (the old name is removed in 5.40); older
            # releases know only past_key_values. Asked once, of the model's own signature.
            self.cache_keyword = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"

        def new_cache(self, batch: int, device) -> dict:
            return {"past": None}

        def cache_elements_per_row(self) -> int:
            """At most what one batch row's cache holds once it spans the block: key and value per layer
            (0 for an architecture whose config names neither its depth nor its width the usual ways)."""
            config = self.model.config
            layers = next((getattr(config, k) for k in ("num_hidden_layers", "num_layers", "n_layer")
                           if getattr(config, k, None)), 0)
            width = next((getattr(config, k) for k in ("hidden_size", "n_embd", "d_model")
                          if getattr(config, k, None)), 0)
            return 2 * layers * self.block_size * width

        @staticmethod
        def select_cache(cache: dict, rows, filled: int):
            """Keep only the given batch rows (rows (B',) indices) of the cache (transformers' caches hold
            just the `filled` positions already)."""
            past = cache["past"]
            if hasattr(past, "reorder_cache"):
                past.reorder_cache(rows)  # transformers' Cache objects: index_select on every layer, in place
            elif past is not None:  # legacy tuples of (key, value) per layer
                cache["past"] = tuple(tuple(t.index_select(0, rows) for t in layer) for layer in past)
            return cache

        def hidden(self, idx):
            """idx (B, T) -> the last layer's hidden states (B, T, C) (after the final layer norm in GPT-Neo)."""
            return self.model(input_ids=idx, output_hidden_states=True).hidden_states[-1]

        def forward(self, idx, cache: dict | None = None, start: int = 0):
            if cache is None:
                return self.model(input_ids=idx).logits  # (B, T, V)
            B, T = idx.shape
            positions = torch.arange(start, start + T, device=idx.device).expand(B, T)
            out = self.model(input_ids=idx, use_cache=True, position_ids=positions,
                             **{self.cache_keyword: cache["past"]})
            cache["past"] = getattr(out, self.cache_keyword)
            return out.logits  # (B, T, V)

    return HFNet


class HFNetwork(NetworkAdapter):
    """A transformers causal LM from a preset or config (fresh weights) or a checkpoint (its weights).
    transformers models take no block-diagonal masks across architectures, so rows are padded."""

    packs_documents = False

    def __init__(self, hf_config: str, hf_checkpoint: str | None):
        self.hf_config, self.hf_checkpoint = hf_config, hf_checkpoint

    def build(self, n_symbols: int, block_size: int, dropout: float):
        transformers = _transformers()
        if self.hf_checkpoint:
            model = load_checkpoint(self.hf_checkpoint, n_symbols - 1, block_size)
        else:
            config = hf_config(self.hf_config, n_symbols, block_size, dropout)
            model = transformers.AutoModelForCausalLM.from_config(config)
        return _hf_net_class()(model, block_size)


class HFConfig(NeuralConfig):
    hf_config: str = Field("tinystories-1m", description="tinystories-1m, tinystories-33m, or a config.json path")
    hf_checkpoint: str | None = Field(None, description="before 0.5: a local checkpoint directory every generation "
                                                        "starts from; now model.init: base with model.base: DIR")

    @model_validator(mode="after")
    def _one_spelling(self):
        if self.hf_checkpoint is not None and self.init != "scratch":
            raise ValueError("model.hf_checkpoint is the old spelling of model.init: base with model.base: DIR; "
                             "give only one")
        return self

    @property
    def checkpoint(self) -> str | None:
        """The transformers checkpoint every generation starts from: hf_checkpoint, or a model.base that is
        one (a folder with a config.json rather than lmcollapse's own base)."""
        if self.hf_checkpoint is not None:
            return self.hf_checkpoint
        if self.init == "base" and self.base is not None and is_transformers_checkpoint(Path(self.base)):
            return self.base
        return None


def is_transformers_checkpoint(folder: Path) -> bool:
    """A folder save_pretrained wrote (config.json), not a base `lmcollapse pretrain` wrote (pretrain.json)."""
    return (folder / "config.json").is_file() and not (folder / "pretrain.json").is_file()


@MODELS.register("hf", "a transformers causal LM from a preset (tinystories-1m/-33m) or config.json (extra [hf])")
class HFModel(NeuralLM):
    config_class = HFConfig
    requires = ("transformers", "torch")

    @staticmethod
    def network_of(config: HFConfig) -> NetworkAdapter:
        return HFNetwork(config.hf_config, config.checkpoint)


def load_checkpoint(path: str, vocab_size: int, block_size: int):
    """A causal LM with a checkpoint's weights, its embedding covering vocab_size tokens + the BOS symbol."""
    transformers = _transformers()
    directory = Path(path).expanduser()
    if not (directory / "config.json").is_file():
        raise LmcollapseError(f"model.hf_checkpoint {path}: not a checkpoint directory (no config.json; write one "
                              f"with model.save_pretrained(DIR) in transformers)")
    transformers.utils.logging.disable_progress_bar()  # one bar per generation would bury lmcollapse's own
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(str(directory), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise LmcollapseError(f"cannot load the checkpoint {directory}: {str(exc).splitlines()[0]}") from None
    known = model.get_input_embeddings().num_embeddings
    if vocab_size > known:
        raise LmcollapseError(f"model.hf_checkpoint {path} knows {known} token ids but the run's tokenizer has "
                              f"{vocab_size}; use the checkpoint's own tokenizer (tokenizer.name=pretrained, "
                              f"tokenizer.path={path})")
    if known < vocab_size + 1:
        model.resize_token_embeddings(vocab_size + 1)  # one new row: the BOS input symbol
    positions = getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", None)
    if positions is not None and block_size > positions:
        raise LmcollapseError(f"model.block_size {block_size} exceeds the checkpoint's {positions} positions")
    return model
