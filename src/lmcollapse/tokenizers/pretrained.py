"""A tokenizer read from disk (an HF `tokenizer.json`, e.g. the one beside a transformers checkpoint).

Needed to start models from a checkpoint's weights (`model.hf_checkpoint`): the token ids must be the
ones the checkpoint was trained on. Nothing is fitted; a copy is stored with the run, so the run stays
readable when the original file moves.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.errors import LmcollapseError
from lmcollapse.tokenizers.base import TOKENIZERS
from lmcollapse.tokenizers.bpe import HFBackedTokenizer

# End-of-document tokens of common checkpoints, tried in order when tokenizer.eos_token is not set.
EOS_CANDIDATES = ("<|endoftext|>", "</s>", "<eos>", "<|end_of_text|>", "[SEP]")


class PretrainedTokenizerConfig(Section):
    path: str | None = Field(None, description="a tokenizer.json or a checkpoint directory holding one")
    eos_token: str | None = Field(None, description="the end-of-document token (default: guessed from common ones)")
    lowercase: bool = Field(False, description="lowercase the text before it is encoded")


@TOKENIZERS.register("pretrained", "an HF tokenizer.json from disk (tokenizer.path), e.g. a checkpoint's own")
class PretrainedTokenizer(HFBackedTokenizer):
    config_class = PretrainedTokenizerConfig
    unk_id = None

    def __init__(self, config=None):
        super().__init__(config)
        self.path, self.eos_token, self.lowercase = self.config.path, self.config.eos_token, self.config.lowercase

    def fit(self, texts: Sequence[str]) -> "PretrainedTokenizer":
        if not self.path:
            raise LmcollapseError("tokenizer.name=pretrained needs tokenizer.path: a tokenizer.json or a "
                                  "checkpoint directory holding one")
        path = Path(self.path).expanduser()
        file = path / "tokenizer.json" if path.is_dir() else path
        if not file.is_file():
            raise LmcollapseError(f"tokenizer.path {self.path}: no tokenizer.json there (save one with "
                                  f"tokenizer.save_pretrained(DIR) in transformers)")
        try:
            from tokenizers import Tokenizer
        except ImportError:
            raise LmcollapseError("tokenizer.name=pretrained needs HF tokenizers: pip install tokenizers") from None
        try:
            self.hf_ = Tokenizer.from_file(str(file))
        except Exception as exc:  # tokenizers raises a bare Exception on malformed JSON
            raise LmcollapseError(f"tokenizer.path {file} is not an HF tokenizer.json: {str(exc).splitlines()[0]}") from None
        self._resolve_eos()
        return self

    def _resolve_eos(self) -> None:
        names = [self.eos_token] if self.eos_token else list(EOS_CANDIDATES)
        for name in names:
            token_id = self.hf_.token_to_id(name)
            if token_id is not None:
                self.eos_token, self.eos_id = name, int(token_id)
                return
        raise LmcollapseError(f"tokenizer {self.path} has no end token among {', '.join(names)}; "
                              f"name it with tokenizer.eos_token")

    @property
    def vocab_size(self) -> int:
        return self.hf_.get_vocab_size(with_added_tokens=True)

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        # No special tokens: the model adds its own BOS, and the corpus its end token.
        batch = self.hf_.encode_batch([self._prepare(t) for t in texts], add_special_tokens=False)
        return [np.asarray(e.ids, dtype=np.int32) for e in batch]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"name": self.name, "path": self.path, "eos_token": self.eos_token,
                                          "lowercase": self.lowercase, "hf": self.hf_.to_str()}))

    @classmethod
    def from_saved(cls, data: dict) -> "PretrainedTokenizer":
        from tokenizers import Tokenizer

        tok = cls(cls.config_class(path=data["path"], eos_token=data["eos_token"],
                                  lowercase=data["lowercase"]))
        tok.hf_ = Tokenizer.from_str(data["hf"])
        tok._resolve_eos()
        return tok
