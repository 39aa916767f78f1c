import numpy as np
import pytest

from lmcollapse.errors import LmcollapseError
from lmcollapse.tokenizers import EOS_ID, UNK_ID, CharTokenizer, WordTokenizer, load_tokenizer
from lmcollapse.config import TokenizerConfig


def test_word_vocabulary_is_fixed_and_unknowns_map_to_unk(tmp_path):
    tok = WordTokenizer(TokenizerConfig(name="word")).fit(["And God said, Let there be light.", "And there was light."])
    assert tok.symbols_[:2] == ["<unk>", "<eos>"] and tok.symbols_[2] in {"And", "light", "there", "."}
    ids = tok.encode(["Let there be darkness."])[0].tolist()
    assert ids[3] == UNK_ID and UNK_ID not in ids[:3]
    assert tok.decode(tok.encode(["And God said, Let there be light."])[0]) == "And God said, Let there be light."
    tok.save(tmp_path / "t.json")
    assert load_tokenizer(tmp_path / "t.json").encode(["light"])[0].tolist() == tok.encode(["light"])[0].tolist()


def test_char_tokenizer_round_trips_and_options():
    tok = CharTokenizer(TokenizerConfig(name="char", lowercase=True)).fit(["Hello", "world"])
    assert tok.decode(tok.encode(["HELLO"])[0]) == "hello"
    assert EOS_ID == tok.eos_id == 1
    assert len(WordTokenizer(TokenizerConfig(name="word", min_count=2)).fit(["a a b", "c a"]).symbols_) == 3  # <unk>, <eos>, a


def test_empty_training_text_is_an_error():
    with pytest.raises(LmcollapseError, match="no tokens"):
        WordTokenizer(TokenizerConfig(name="word")).fit(["", "   "])


def test_bpe_round_trips_exactly_and_saves_with_the_run(tmp_path):
    pytest.importorskip("tokenizers")
    from lmcollapse.tokenizers.bpe import BPETokenizer

    texts = ["In the beginning God created the heaven and the earth.", "And God said, Let there be light."] * 20
    tok = BPETokenizer(TokenizerConfig(name="bpe", vocab_size=300)).fit(texts)
    assert 258 <= tok.vocab_size <= 300 and tok.eos_id == 1
    unseen = "Zebras grazed quietly; naïve café!"
    assert tok.decode(tok.encode([unseen])[0]) == unseen  # byte-level: any text round-trips
    ids = tok.encode(texts[:1])[0]
    assert len(ids) < len(texts[0]) and ids.min() >= 2  # merges learnt, specials never produced by text
    tok.save(tmp_path / "t.json")
    back = load_tokenizer(tmp_path / "t.json")
    assert back.encode([unseen])[0].tolist() == tok.encode([unseen])[0].tolist()


def test_bpe_run_on_kjv(tmp_path):
    pytest.importorskip("tokenizers")
    import lmcollapse

    run = lmcollapse.run({"generations": 2, "corpus": {"n_train": 300, "n_eval": 50},
                          "tokenizer": {"name": "bpe", "vocab_size": 500}}, out_dir=tmp_path / "run")
    assert run.tokenizer().vocab_size <= 500 and len(run.metrics) == 2
    assert run.samples(1).text[0] == run.tokenizer().decode(run.samples(1).doc(0))


def test_pretrained_tokenizer_reads_a_tokenizer_json_and_finds_its_end_token(tmp_path):
    from lmcollapse.errors import LmcollapseError
    from lmcollapse.tokenizers.bpe import BPETokenizer
    from lmcollapse.tokenizers.pretrained import PretrainedTokenizer
    from lmcollapse.tokenizers import load_tokenizer

    bpe = BPETokenizer(TokenizerConfig(name="bpe", vocab_size=300)).fit(["and the earth was without form, and void"] * 20)
    bpe.hf_.add_special_tokens(["</s>"])
    bpe.hf_.save(str(tmp_path / "tokenizer.json"))
    tok = PretrainedTokenizer(TokenizerConfig(name="pretrained", path=str(tmp_path))).fit([])
    assert tok.eos_id == bpe.hf_.token_to_id("</s>") and tok.vocab_size == bpe.hf_.get_vocab_size() == tok.eos_id + 1
    text = "and the earth was void"
    assert np.array_equal(tok.encode([text])[0], bpe.encode([text])[0]) and tok.decode(tok.encode([text])[0]) == text
    tok.save(tmp_path / "saved.json")
    (tmp_path / "tokenizer.json").unlink()  # the run's copy no longer needs the original
    again = load_tokenizer(tmp_path / "saved.json")
    assert again.eos_id == tok.eos_id and np.array_equal(again.encode([text])[0], tok.encode([text])[0])
    with pytest.raises(LmcollapseError, match="no tokenizer.json there"):
        PretrainedTokenizer(TokenizerConfig(name="pretrained", path=str(tmp_path))).fit([])
    with pytest.raises(LmcollapseError, match="needs tokenizer.path"):
        PretrainedTokenizer(TokenizerConfig(name="pretrained")).fit([])
    (tmp_path / "tokenizer.json").write_text("{broken")
    with pytest.raises(LmcollapseError, match="not an HF tokenizer.json"):
        PretrainedTokenizer(TokenizerConfig(name="pretrained", path=str(tmp_path))).fit([])
    bpe.hf_.save(str(tmp_path / "tokenizer.json"))
    with pytest.raises(LmcollapseError, match="tokenizer.eos_token"):
        PretrainedTokenizer(TokenizerConfig(name="pretrained", path=str(tmp_path), eos_token="<nope>")).fit([])


def test_word_rule_keeps_hyphenated_words_and_numbers_whole():
    split = WordTokenizer(TokenizerConfig(name="word")).split
    assert split("She sat in the drawing-room.") == ["She", "sat", "in", "the", "drawing-room", "."]
    assert split("It rose 3.5 feet, cost 1,000 pounds at 10.30.") == [
        "It", "rose", "3.5", "feet", ",", "cost", "1,000", "pounds", "at", "10.30", "."]
    assert split("don’t and don't") == ["don’t", "and", "don't"]  # curly and straight apostrophes
    # Joiners count only between word characters: dashes, a final point or a list comma stay apart.
    assert split("well--then 3, 4. end-") == ["well", "-", "-", "then", "3", ",", "4", ".", "end", "-"]


def test_word_rule_on_the_kjv_keeps_every_hyphenated_word_and_round_trips():
    import json
    import re

    from lmcollapse.sources.text import kjv_path

    verses = [json.loads(line)["text"] for line in kjv_path().read_text().splitlines() if line.strip()]
    tok = WordTokenizer(TokenizerConfig(name="word")).fit(verses)
    hyphenated = [w for v in verses for w in re.findall(r"\w+(?:-\w+)+", v)]
    assert len(hyphenated) >= 30 and "long-suffering" in hyphenated  # the rule has something to act on
    for word in set(hyphenated):
        assert tok.encode([word])[0].tolist() == [tok.symbols_.index(word)]  # one known token each
    tokens = [t for v in verses for t in tok.split(v)]
    assert sum("-" in t and t != "-" for t in tokens) == len(hyphenated)  # no partial joins either
    # Joining the tokens back loses only spacing, never characters: same text with spaces removed.
    for v in verses[:2000]:
        assert re.sub(r"\s", "", tok.join(tok.split(v))) == re.sub(r"\s", "", v)
