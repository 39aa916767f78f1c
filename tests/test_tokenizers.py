import pytest

from lmcollapse.errors import LmcollapseError
from lmcollapse.tokenizers import EOS_ID, UNK_ID, CharTokenizer, VocabTokenizer, WordTokenizer


def test_word_vocabulary_is_fixed_and_unknowns_map_to_unk(tmp_path):
    tok = WordTokenizer().fit(["And God said, Let there be light.", "And there was light."])
    assert tok.symbols_[:2] == ["<unk>", "<eos>"] and tok.symbols_[2] in {"And", "light", "there", "."}
    ids = tok.encode(["Let there be darkness."])[0].tolist()
    assert ids[3] == UNK_ID and UNK_ID not in ids[:3]
    assert tok.decode(tok.encode(["And God said, Let there be light."])[0]) == "And God said, Let there be light."
    tok.save(tmp_path / "t.json")
    assert VocabTokenizer.load(tmp_path / "t.json").encode(["light"])[0].tolist() == tok.encode(["light"])[0].tolist()


def test_char_tokenizer_round_trips_and_options():
    tok = CharTokenizer(lowercase=True).fit(["Hello", "world"])
    assert tok.decode(tok.encode(["HELLO"])[0]) == "hello"
    assert EOS_ID == tok.eos_id == 1
    assert len(WordTokenizer(min_count=2).fit(["a a b", "c a"]).symbols_) == 3  # <unk>, <eos>, a


def test_empty_training_text_is_an_error():
    with pytest.raises(LmcollapseError, match="no tokens"):
        WordTokenizer().fit(["", "   "])
