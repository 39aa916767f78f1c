import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmcollapse.running.parts import load_source
from lmcollapse.running.parts import load_config
from lmcollapse.errors import LmcollapseError


def load(**corpus):
    config = load_config({"corpus": corpus})
    return load_source(config)


def test_kjv_is_offline_split_disjoint_and_seeded():
    a = load(name="kjv", n_train=300, n_eval=100)
    assert len(a.train) == 300 and len(a.held_out) == 100
    assert not set(a.train.text) & set(a.held_out.text)
    assert a.train.real_fraction() == 1.0 and a.train.producer[0] == "kjv"
    again = load(name="kjv", n_train=300, n_eval=100)
    assert list(a.train.text) == list(again.train.text)
    other_seed = load_source(load_config({"seed": 1, "corpus": {"n_train": 300, "n_eval": 100}}))
    assert list(other_seed.train.text) != list(a.train.text)
    # The tokenizer is fitted on the training split only; every id is inside the vocabulary.
    assert a.train.tokens.max() < a.tokenizer.vocab_size and a.train.eos_id == 1


def test_kjv_refuses_more_documents_than_it_has():
    with pytest.raises(LmcollapseError, match="exceeds the 30834 documents of kjv"):
        load(name="kjv", n_train=31000, n_eval=500)


@pytest.mark.parametrize("unit, expected", [("line", 4), ("paragraph", 2), ("file", 1)])
def test_files_txt_units(tmp_path, unit, expected):
    (tmp_path / "a.txt").write_text("one two\nthree four\n\nfive six\nseven\n")
    data = load(name="files", path=str(tmp_path / "a.txt"), unit=unit, n_train=expected - 1 or 1,
                n_eval=1) if expected > 1 else None
    if expected == 1:
        with pytest.raises(LmcollapseError, match="exceeds the 1 documents"):
            load(name="files", path=str(tmp_path / "a.txt"), unit=unit, n_train=1, n_eval=1)
    else:
        assert len(data.train) + len(data.held_out) == expected


def test_files_folder_jsonl_and_parquet(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    (folder / "a.txt").write_text("alpha beta\ngamma\n")
    (folder / "b.txt").write_text("delta\n")
    assert len(load(name="files", path=str(folder), n_train=2, n_eval=1).train) == 2
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps({"story": f"tale {i}"}) for i in range(5)))
    data = load(name="files", path=str(tmp_path / "d.jsonl"), text_field="story", n_train=3, n_eval=2)
    assert sorted(list(data.train.text) + list(data.held_out.text)) == [f"tale {i}" for i in range(5)]
    pq.write_table(pa.table({"text": [f"doc {i}" for i in range(6)]}), tmp_path / "d.parquet")
    assert len(load(name="files", path=str(tmp_path / "d.parquet"), n_train=4, n_eval=2).train) == 4


@pytest.mark.parametrize("content, message", [
    (b"", "contains no documents"),
    (b"   \n\n  \n", "contains no documents"),
    (b"\x00\x01\x02binary", "looks binary"),
    (b"caf\xe9 latin-1", "is not UTF-8"),
])
def test_bad_text_files(tmp_path, content, message):
    (tmp_path / "x.txt").write_bytes(content)
    with pytest.raises(LmcollapseError, match=message):
        load(name="files", path=str(tmp_path / "x.txt"), n_train=1, n_eval=1)


def test_files_errors_name_the_problem(tmp_path):
    with pytest.raises(LmcollapseError, match="needs corpus.path"):
        load(name="files")
    with pytest.raises(LmcollapseError, match="does not exist"):
        load(name="files", path=str(tmp_path / "nope.txt"))
    (tmp_path / "d.jsonl").write_text('{"body": "x"}\n')
    with pytest.raises(LmcollapseError, match="no 'text' field; set corpus.text_field"):
        load(name="files", path=str(tmp_path / "d.jsonl"))
    (tmp_path / "e.jsonl").write_text('{"text": "x"}\nnot json\n')
    with pytest.raises(LmcollapseError, match="line 2 is not valid JSON"):
        load(name="files", path=str(tmp_path / "e.jsonl"))


def test_tinystories_loader_reads_the_published_local_formats(tmp_path):
    stories = ["Once upon a time there was a cat.", "Tom had a red ball. He liked it.", "The sun was hot.",
               "Lily saw a bird."]
    (tmp_path / "TinyStories-valid.txt").write_text("\n<|endoftext|>\n".join(stories) + "\n")
    data = load(name="tinystories", path=str(tmp_path / "TinyStories-valid.txt"), n_train=3, n_eval=1)
    assert sorted(list(data.train.text) + list(data.held_out.text)) == sorted(stories)
    (tmp_path / "ts.jsonl").write_text("\n".join(json.dumps({"text": s}) for s in stories))
    data = load(name="tinystories", path=str(tmp_path / "ts.jsonl"), n_train=2, n_eval=2)
    assert data.train.producer[0] == "tinystories"


def test_categorical_frequencies_and_fixed_length():
    data = load(name="categorical", probs=[0.5, 0.3, 0.2], n_train=4000, n_eval=10, doc_length=5)
    assert set(data.train.lengths.tolist()) == {5} and data.train.eos_id is None
    freq = np.bincount(data.train.tokens, minlength=3) / data.train.n_tokens
    np.testing.assert_allclose(freq, [0.5, 0.3, 0.2], atol=4 * np.sqrt(0.25 / 20000))


def test_zipf_and_end_token_documents():
    data = load(name="categorical", vocab_size=10, zipf_exponent=1.0, end_prob=0.1, n_train=3000, n_eval=10)
    assert data.train.eos_id == 10 and data.train.vocab_size == 11
    # Lengths are geometric: mean (1-e)/e = 9.
    assert abs(data.train.lengths.mean() - 9) < 4 * np.sqrt(90 / 3000)
    truth = data.truth.next_token_probs(np.zeros((1, 0), np.int64))[0]
    assert truth[-1] == pytest.approx(0.1) and truth.sum() == pytest.approx(1)


def test_markov_transitions_match_the_table():
    data = load(name="markov", vocab_size=3, order=1, concentration=1.0, doc_length=200, n_train=100, n_eval=5)
    tokens = data.train.tokens.reshape(100, 200)
    pairs = np.zeros((3, 3))
    np.add.at(pairs, (tokens[:, :-1].ravel(), tokens[:, 1:].ravel()), 1)
    empirical = pairs / pairs.sum(axis=1, keepdims=True)
    expected = data.truth.next_token_probs(np.arange(3)[:, None])
    np.testing.assert_allclose(empirical, expected, atol=0.03)


def test_truth_sources_need_exactly_one_length_rule():
    with pytest.raises(LmcollapseError, match="exactly one of corpus.doc_length"):
        load(name="categorical", probs=[0.5, 0.5])
    with pytest.raises(LmcollapseError, match="needs corpus.probs or corpus.vocab_size"):
        load(name="categorical", doc_length=3)
    with pytest.raises(LmcollapseError, match="at least 2 non-negative"):
        load(name="categorical", probs=[1.0, -0.5], doc_length=3)
