"""Tokenizers with a symbol list of their own: words and punctuation, or single characters."""
from __future__ import annotations

import abc
import json
import re
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
from pydantic import Field

from lmcollapse.config import Section
from lmcollapse.errors import LmcollapseError
from lmcollapse.tokenizers.base import TOKENIZERS, Tokenizer

UNK, EOS = "<unk>", "<eos>"
UNK_ID, EOS_ID = 0, 1
# The word rule: a word is a run of letters/digits that may be joined, without spaces, by an apostrophe
# (straight or curly: "don't", "Lord's") or a hyphen ("drawing-room", "long-suffering"), and digits may be
# joined by a point or comma between digits ("3.5", "1,000", "10.30"). Everything else that is not space
# is a token of one character. Keeping these whole matters for collapse metrics: a split "drawing - room"
# counts as three frequent tokens and makes the text look more repetitive than it is.
_WORD = re.compile(r"\w+(?:(?:['\u2019-]|(?<=\d)[.,](?=\d))\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = re.compile(r" ([.,;:!?)\]}'])")
_NO_SPACE_AFTER = re.compile(r"([(\[{]) ")


class VocabTokenizerConfig(Section):
    lowercase: bool = Field(False, description="lowercase the text before it is split")
    min_count: int = Field(1, ge=1, description="a symbol seen fewer times in R's text is <unk> (bpe: the fewest "
                                                "occurrences of a pair it merges)")


class VocabTokenizer(Tokenizer):
    """Shared machinery: a symbol list with <unk>=0 and <eos>=1, ordered by training frequency."""

    config_class = VocabTokenizerConfig

    def __init__(self, config=None):
        super().__init__(config)
        self.lowercase, self.min_count = self.config.lowercase, self.config.min_count

    @abc.abstractmethod
    def split(self, text: str) -> list[str]:
        ...

    @abc.abstractmethod
    def join(self, symbols: list[str]) -> str:
        ...

    def _prepare(self, text: str) -> str:
        return text.lower() if self.lowercase else text

    def fit(self, texts: Sequence[str]) -> "VocabTokenizer":
        counts = Counter()
        for text in texts:
            counts.update(self.split(self._prepare(text)))
        kept = sorted((s for s, c in counts.items() if c >= self.min_count), key=lambda s: (-counts[s], s))
        if not kept:
            raise LmcollapseError("the training text has no tokens; check the corpus and tokenizer.min_count")
        self.symbols_ = [UNK, EOS] + kept
        self._index = {s: i for i, s in enumerate(self.symbols_)}
        return self

    @property
    def vocab_size(self) -> int:
        return len(self.symbols_)

    eos_id = EOS_ID
    unk_id = UNK_ID

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        get = self._index.get
        return [np.fromiter((get(s, UNK_ID) for s in self.split(self._prepare(t))), dtype=np.int32) for t in texts]

    def decode(self, tokens) -> str:
        symbols = self.symbols_
        return self.join([symbols[int(t)] for t in tokens])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"name": self.name, "lowercase": self.lowercase,
                                          "min_count": self.min_count, "symbols": self.symbols_}))

    @classmethod
    def from_saved(cls, data: dict) -> "VocabTokenizer":
        tok = cls(cls.config_class(lowercase=data["lowercase"], min_count=data["min_count"]))
        tok.symbols_ = data["symbols"]
        tok._index = {s: i for i, s in enumerate(tok.symbols_)}
        return tok


@TOKENIZERS.register("word", "words (hyphenated words and numbers whole) and punctuation marks, vocabulary from generation-0 text")
class WordTokenizer(VocabTokenizer):

    def split(self, text: str) -> list[str]:
        return _WORD.findall(text)

    def join(self, symbols: list[str]) -> str:
        return _NO_SPACE_AFTER.sub(r"\1", _NO_SPACE_BEFORE.sub(r"\1", " ".join(symbols)))


@TOKENIZERS.register("char", "single characters, vocabulary from generation-0 text")
class CharTokenizer(VocabTokenizer):

    def split(self, text: str) -> list[str]:
        return list(text)

    def join(self, symbols: list[str]) -> str:
        return "".join(symbols)
