import numpy as np
import pytest

from lmcollapse.corpora.corpus import REAL, SYNTHETIC, Corpus
from lmcollapse.corpora.parquet import read_corpus, write_corpus


def test_take_concat_and_select(toy_corpus):
    part = toy_corpus.take(np.array([3, 0, 0]))
    assert [part.doc(i).tolist() for i in range(3)] == [[0, 1, 3, 3, 2], [0, 1, 2, 1], [0, 1, 2, 1]]
    synth = Corpus.from_documents([[1, 1]], vocab_size=5, eos_id=4, origin=SYNTHETIC, generation=2, first_id=100)
    both = Corpus.concat([toy_corpus, synth])
    assert len(both) == 5 and both.n_tokens == toy_corpus.n_tokens + 2
    picked = both.select_ids(np.array([100, 1]))
    assert picked.doc(0).tolist() == [1, 1] and picked.doc(1).tolist() == [2, 2, 1]
    with pytest.raises(KeyError):
        both.select_ids(np.array([7]))


def test_real_fraction_and_composition_come_from_provenance(toy_corpus):
    synth = Corpus.from_documents([[1, 1], [2]], vocab_size=5, eos_id=4, origin=SYNTHETIC, generation=3,
                                  first_id=100)
    both = Corpus.concat([toy_corpus, synth])
    assert both.real_fraction() == pytest.approx(4 / 6)
    assert both.real_fraction(by="tokens") == pytest.approx(13 / 16)
    assert both.composition() == {"real": 4, "synthetic@3": 2}
    prov = both.provenance(4)
    assert (prov.origin, prov.generation, prov.doc_id) == ("synthetic", 3, 100)


def test_corpus_is_immutable(toy_corpus):
    with pytest.raises(ValueError):
        toy_corpus.tokens[0] = 3


def test_parquet_round_trip_keeps_everything(tmp_path, toy_corpus):
    c = toy_corpus.with_text(["a", "b", "c", "d"])
    write_corpus(c, tmp_path / "c.parquet")
    back = read_corpus(tmp_path / "c.parquet")
    for name in ("tokens", "offsets", "doc_id", "origin", "generation", "seed"):
        assert np.array_equal(getattr(back, name), getattr(c, name)), name
    assert back.text.tolist() == ["a", "b", "c", "d"]
    assert (back.vocab_size, back.eos_id) == (5, 4)
    assert not list(tmp_path.glob("*.tmp"))


def test_empty_documents_survive_round_trip(tmp_path):
    c = Corpus.from_documents([[], [1, 2], []], vocab_size=3, origin=REAL)
    write_corpus(c, tmp_path / "e.parquet")
    back = read_corpus(tmp_path / "e.parquet")
    assert back.lengths.tolist() == [0, 2, 0] and back.eos_id is None


def test_writing_text_takes_memory_in_proportion_to_the_text_not_documents_times_the_longest(tmp_path):
    """One 100,000-character document among 3,000 short ones: a fixed-width string array would take
    3,001 x 100,000 x 4 bytes = 1.2 GB; the text itself is 0.2 MB."""
    import tracemalloc

    from lmcollapse.corpora.parquet import read_corpus, write_corpus

    texts = ["short verse"] * 3000 + ["x" * 100_000]
    corpus = Corpus.from_documents([[1]] * 3001, vocab_size=3, text=texts)
    tracemalloc.start()
    write_corpus(corpus, tmp_path / "c.parquet")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * 2**20, f"writing took {peak / 2**20:.0f} MiB"
    assert list(read_corpus(tmp_path / "c.parquet").text) == texts


def test_a_document_longer_than_the_limit_is_refused_in_one_line(tmp_path):
    import pytest

    from lmcollapse.errors import LmcollapseError
    from lmcollapse.sources.readers import MAX_DOCUMENT_CHARS, read_documents

    path = tmp_path / "dump.txt"
    path.write_text("a short line\n" + "word " * (MAX_DOCUMENT_CHARS // 5 + 10) + "\n")
    with pytest.raises(LmcollapseError, match=r"document 2 has 1,048,6\d\d characters, more than "
                                              r"corpus.max_document_chars = 1,048,576; raise"):
        read_documents(path)


def test_the_document_limit_is_a_setting_and_its_advice_applies_to_the_unit(tmp_path):
    """0.4.0: an undocumented 1 MiB cap whose advice (corpus.unit=paragraph or line) did not apply to a line
    that was already one line, and that corpus.doc_length did not get around."""
    import lmcollapse
    from lmcollapse.errors import LmcollapseError
    from lmcollapse.running.parts import load_source

    line = "In the beginning " * 200_000  # 3.4 million characters on one line
    path = tmp_path / "book.txt"
    path.write_text("\n".join([f"a short line number {i}" for i in range(40)] + [line]) + "\n")
    base = {"corpus": {"name": "files", "path": str(path), "n_train": 30, "n_eval": 10}}

    def refusal(**corpus):
        with pytest.raises(LmcollapseError) as refused:
            load_source(lmcollapse.load_config({"corpus": {**base["corpus"], **corpus}}))
        return str(refused.value)

    by_line = refusal()
    assert "more than corpus.max_document_chars = 1,048,576; raise corpus.max_document_chars" in by_line
    assert "corpus.unit=" not in by_line  # the unit is already a line: no advice to split by lines
    assert "corpus.unit=paragraph or line splits it" in refusal(unit="file")
    assert "corpus.unit=line splits it" in refusal(unit="paragraph")
    raised = load_source(lmcollapse.load_config({"corpus": {**base["corpus"], "max_document_chars": 4_000_000}}))
    assert max(raised.train.lengths.max(), raised.held_out.lengths.max()) > 500_000  # the book is one document
    cut = load_source(lmcollapse.load_config({"corpus": {**base["corpus"], "doc_length": 64}}))
    assert max(cut.train.lengths.max(), cut.held_out.lengths.max()) <= 64
