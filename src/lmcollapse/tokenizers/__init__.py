"""Tokenizers for real text (see base.py for the contract); HF tokenizers is imported only when used."""
from lmcollapse.tokenizers import bpe, pretrained  # noqa: F401  (register "bpe" and "pretrained")
from lmcollapse.tokenizers.base import TOKENIZERS, Tokenizer, load_tokenizer
from lmcollapse.tokenizers.vocab import EOS, EOS_ID, UNK, UNK_ID, CharTokenizer, VocabTokenizer, WordTokenizer

__all__ = ["EOS", "EOS_ID", "TOKENIZERS", "UNK", "UNK_ID", "CharTokenizer", "Tokenizer", "VocabTokenizer",
           "WordTokenizer", "load_tokenizer"]
