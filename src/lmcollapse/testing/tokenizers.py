"""The tokenizer suite (tokenizers/base.py): text it was fitted on comes back from decode(encode(text)),
ids stay inside the vocabulary, and a saved tokenizer reads back the same."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable, Iterator

from lmcollapse.tokenizers import Tokenizer, load_tokenizer
from lmcollapse.testing._suite import bound

Factory = Callable[[], Tokenizer]
TEXTS = ["And God said, Let there be light: and there was light.", "In the beginning was the Word.",
         "The drawing-room held 1,000 chairs; it's 3.5 metres wide!", "And the evening and the morning were the day."]


def check_tokenizer(factory: Factory, lossless: bool = True) -> Iterator[Callable[[], None]]:
    """lossless=False for tokenizers that normalise text (lowercase), whose round trip holds up to that."""
    checks = [check_ids_stay_inside_the_vocabulary, check_a_saved_tokenizer_reads_back_the_same]
    if lossless:
        checks.append(check_decode_undoes_encode)
    return bound(checks, factory)


def _fitted(factory: Factory) -> Tokenizer:
    return factory().fit(TEXTS * 5)


def check_decode_undoes_encode(factory: Factory) -> None:
    tok = _fitted(factory)
    for text, ids in zip(TEXTS, tok.encode(TEXTS)):
        assert tok.decode(ids) == text, f"round trip: {text!r} came back as {tok.decode(ids)!r}"


def check_ids_stay_inside_the_vocabulary(factory: Factory) -> None:
    tok = _fitted(factory)
    assert 0 <= tok.eos_id < tok.vocab_size, "the end token must be an id of the vocabulary"
    for ids in tok.encode(TEXTS + ["words never seen: zebra quartz"]):
        assert len(ids) and (ids >= 0).all() and (ids < tok.vocab_size).all(), "an id outside the vocabulary"
        assert not (ids == tok.eos_id).any(), "encode never writes the end token (corpora add it)"


def check_a_saved_tokenizer_reads_back_the_same(factory: Factory) -> None:
    tok = _fitted(factory)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "saved.json"
        tok.save(path)
        back = load_tokenizer(path)
    assert back.vocab_size == tok.vocab_size and back.eos_id == tok.eos_id and back.name == tok.name
    for a, b in zip(tok.encode(TEXTS), back.encode(TEXTS)):
        assert a.tolist() == b.tolist(), "the saved tokenizer encodes differently"
