"""Property-based tests of the loaders: whatever a user hands them, the outcome is a valid config (or
documents), or a one-line LmcollapseError; never another exception."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmcollapse.config import Config
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import load_config
from lmcollapse.sources.readers import read_documents

SECTIONS = ["seed", "generations", "corpus", "tokenizer", "model", "sampler", "paradigm", "probe", "gates",
            "metrics", "ci_rounds", "save_models", "oversample_max"]
KEYS = SECTIONS + ["name", "n_train", "n_eval", "order", "smoothing", "n_layer", "block_size", "rate", "task",
                   "mode", "doc_length", "vocab_size", "probs", "path", "max_tokens", "top_p", "nope", ""]
NAMES = ["kjv", "files", "markov", "categorical", "tinystories", "ngram", "gpt", "hf", "replace", "mix", "fresh",
         "accumulate-subsample", "word", "bpe", "kjv-genre", "linear", "dedup", "reweight", "verifier", "bogus"]
SCALARS = (st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True)
           | st.sampled_from(NAMES) | st.text(max_size=12))
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.sampled_from(KEYS), inner, max_size=4), max_leaves=12)
CONFIGS = st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=6)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome_of(call):
    try:
        return call()
    except LmcollapseError as exc:
        message = str(exc)
        assert message and "\n" not in message, repr(message)
        return exc


@FUZZ
@given(CONFIGS)
def test_any_config_dict_loads_or_fails_in_one_line(data):
    result = outcome_of(lambda: load_config(data))
    if isinstance(result, Config):
        assert load_config(result.model_dump()) == result  # a loaded config loads again to itself


@FUZZ
@given(st.lists(st.tuples(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3).map(".".join),
                          st.text(max_size=20)), max_size=5))
def test_any_set_overrides_load_or_fail_in_one_line(pairs):
    outcome_of(lambda: load_config(None, [f"{key}={value}" for key, value in pairs]))
    outcome_of(lambda: load_config(None, [key for key, _ in pairs]))  # no '=' at all


@FUZZ
@given(st.binary(max_size=2000))
def test_any_bytes_as_a_config_file_load_or_fail_in_one_line(tmp_path_factory, raw):
    folder = tmp_path_factory.mktemp("cfg")
    for suffix in (".yaml", ".toml"):
        path = folder / f"config{suffix}"
        path.write_bytes(raw)
        outcome_of(lambda: load_config(path))


LINES = st.lists(st.text(max_size=300) | st.text(alphabet="ab \n\t\r\x00é€", max_size=5000), max_size=30)


@FUZZ
@given(raw=st.binary(max_size=3000), unit=st.sampled_from(["line", "paragraph", "file"]))
def test_any_bytes_as_a_text_file_read_or_fail_in_one_line(tmp_path_factory, raw, unit):
    path = tmp_path_factory.mktemp("txt") / "corpus.txt"
    path.write_bytes(raw)
    docs = outcome_of(lambda: read_documents(path, unit))
    if isinstance(docs, list):
        assert docs and all(isinstance(d, str) and d and d == " ".join(d.split()) for d in docs)


@FUZZ
@given(lines=LINES, encoding=st.sampled_from(["utf-8", "utf-16", "latin-1", "cp1252"]))
def test_text_in_any_encoding_reads_or_fails_in_one_line(tmp_path_factory, lines, encoding):
    path = tmp_path_factory.mktemp("enc") / "corpus.txt"
    try:
        path.write_bytes("\n".join(lines).encode(encoding))
    except UnicodeEncodeError:
        return  # the encoding cannot hold this text: nothing to read
    outcome_of(lambda: read_documents(path))


ROWS = st.lists(st.dictionaries(st.sampled_from(["text", "label", "other"]), SCALARS, max_size=3), max_size=20)


@FUZZ
@given(rows=ROWS, field=st.sampled_from(["text", "label", "missing"]))
def test_any_jsonl_rows_read_or_fail_in_one_line(tmp_path_factory, rows, field):
    path = tmp_path_factory.mktemp("jsonl") / "corpus.jsonl"
    path.write_text("\n".join(json.dumps(row) for row in rows))
    outcome_of(lambda: read_documents(path, field=field))


@FUZZ
@given(values=st.lists(st.text(max_size=50) | st.none(), max_size=20)
       | st.lists(st.integers(-5, 5), max_size=20) | st.lists(st.floats(allow_nan=True), max_size=20))
def test_any_parquet_column_reads_or_fails_in_one_line(tmp_path_factory, values):
    path = tmp_path_factory.mktemp("pq") / "corpus.parquet"
    pq.write_table(pa.table({"text": pa.array(values, type=None if values else pa.string())}), path)
    docs = outcome_of(lambda: read_documents(path))
    if isinstance(docs, list):
        assert all(isinstance(d, str) for d in docs)


VALID = [{}, {"corpus": {"name": "markov", "vocab_size": 5, "doc_length": 4}},
         {"model": {"name": "gpt"}, "probe": {"task": "kjv-genre"}},
         {"paradigm": {"name": "fresh"}, "corpus": {"name": "kjv", "n_reservoir": 20000}},
         {"gates": ["dedup", {"name": "perplexity", "low": 0.1}], "paradigm": {"name": "accumulate-subsample"}},
         {"corpus": {"name": "categorical", "probs": [0.5, 0.5], "end_prob": 0.1}, "filters": ["verifier"]}]


@FUZZ
@given(base=st.sampled_from(VALID), section=st.sampled_from(SECTIONS), key=st.sampled_from(KEYS), value=VALUES)
def test_a_valid_config_with_one_key_changed_loads_or_fails_in_one_line(base, section, key, value):
    assert isinstance(load_config(base), Config)
    data = json.loads(json.dumps(base))
    if isinstance(data.get(section), dict):
        data[section][key] = value
    else:
        data[section] = value
    outcome_of(lambda: load_config(data))
