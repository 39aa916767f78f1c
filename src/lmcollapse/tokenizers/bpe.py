"""Byte-level BPE trained on generation-0 text with HF `tokenizers` (offline, seconds), fixed thereafter.

Byte-level pre-tokenisation makes decode(encode(text)) == text for any UTF-8 text, so no <unk> is ever
produced; <unk> (id 0) and <eos> (id 1) are reserved as in the word and char tokenizers.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
from pydantic import Field

from lmcollapse.errors import LmcollapseError
from lmcollapse.tokenizers.base import TOKENIZERS, Tokenizer
from lmcollapse.tokenizers.vocab import EOS, EOS_ID, UNK, UNK_ID, VocabTokenizerConfig


class HFBackedTokenizer(Tokenizer):
    """What tokenizers around an HF `tokenizers.Tokenizer` (self.hf_) share: optional lowercasing of the
    text before encoding, and decoding without special tokens."""
    lowercase = False

    def _prepare(self, text: str) -> str:
        return text.lower() if self.lowercase else text

    def decode(self, tokens) -> str:
        return self.hf_.decode([int(t) for t in tokens], skip_special_tokens=True)


class BPETokenizerConfig(VocabTokenizerConfig):
    vocab_size: int = Field(2000, ge=260, description="vocabulary size (256 bytes + merges + specials)")


@TOKENIZERS.register("bpe", "byte-level BPE (HF tokenizers) with tokenizer.vocab_size, trained on generation-0 text")
class BPETokenizer(HFBackedTokenizer):
    config_class = BPETokenizerConfig
    eos_id = EOS_ID
    unk_id = UNK_ID

    def __init__(self, config=None):
        super().__init__(config)
        self.target_vocab_size = self.config.vocab_size
        self.lowercase, self.min_count = self.config.lowercase, self.config.min_count

    def fit(self, texts: Sequence[str]) -> "BPETokenizer":
        try:
            from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
        except ImportError:
            raise LmcollapseError("tokenizer.name=bpe needs HF tokenizers: pip install tokenizers") from None
        texts = [self._prepare(t) for t in texts]
        if not any(t.strip() for t in texts):
            raise LmcollapseError("the training text has no tokens; check the corpus")
        tok = Tokenizer(models.BPE(unk_token=UNK))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=self.target_vocab_size, min_frequency=self.min_count,
                                      special_tokens=[UNK, EOS], show_progress=False,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tok.train_from_iterator(texts, trainer=trainer)
        self.hf_ = tok
        return self

    @property
    def vocab_size(self) -> int:
        return self.hf_.get_vocab_size()

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        return [np.asarray(e.ids, dtype=np.int32) for e in self.hf_.encode_batch([self._prepare(t) for t in texts])]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"name": self.name, "vocab_size": self.target_vocab_size,
                                          "lowercase": self.lowercase, "min_count": self.min_count,
                                          "hf": self.hf_.to_str()}))

    @classmethod
    def from_saved(cls, data: dict) -> "BPETokenizer":
        from tokenizers import Tokenizer

        tok = cls(cls.config_class(vocab_size=data["vocab_size"], lowercase=data["lowercase"],
                                  min_count=data["min_count"]))
        tok.hf_ = Tokenizer.from_str(data["hf"])
        return tok
