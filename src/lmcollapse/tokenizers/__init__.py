"""Tokenizers for real text (see base.py for the contract); HF tokenizers is imported only when used."""
from . import bpe, pretrained  # noqa: F401  (register "bpe" and "pretrained")
from .base import TOKENIZERS, Tokenizer, load_tokenizer
from .vocab import EOS, EOS_ID, UNK, UNK_ID, CharTokenizer, VocabTokenizer, WordTokenizer

__all__ = ["EOS", "EOS_ID", "TOKENIZERS", "UNK", "UNK_ID", "CharTokenizer", "Tokenizer", "VocabTokenizer",
           "WordTokenizer", "load_tokenizer"]
