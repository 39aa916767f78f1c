"""`fresh` on a finite text corpus: new real documents come from a reservoir held back from R, E and the probe."""
import numpy as np
import pytest

import lmcollapse
from lmcollapse.corpora.corpus import REAL
from lmcollapse.corpora.parquet import read_corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import load_config

FRESH = {"corpus": {"n_train": 300, "n_eval": 100, "n_reservoir": 150}, "generations": 4, "ci_rounds": 0,
         "paradigm": {"name": "fresh", "rate": 0.5, "fresh_fraction": 0.1}}


def test_fresh_on_kjv_draws_new_verses_from_the_reservoir_and_resumes_identically(tmp_path):
    run = lmcollapse.run(FRESH, out_dir=tmp_path / "r")
    seen_text = set(run.real.text) | set(run.held_out.text)
    stored = read_corpus(run.path / "docs" / "reservoir.parquet")
    assert len(stored) == 150 and not (set(stored.text) & seen_text)
    taken = []
    for t in range(3):  # generations 1..3 each received 30 new real verses, in reservoir order
        fresh = read_corpus(run.path / f"gen-{t:04d}" / "fresh.parquet")
        assert len(fresh) == 30 and (fresh.origin == REAL).all() and (fresh.generation == t + 1).all()
        taken += list(fresh.text)
    assert taken == list(stored.text[:90])
    pool = run.corpus(3)
    assert pool.real_fraction() > 0 and len(set(pool.doc_id)) == len(pool)
    # Killed after two generations and resumed: the same documents, the same numbers.
    partial = lmcollapse.run({**FRESH, "generations": 2}, out_dir=tmp_path / "resumed")
    resumed = lmcollapse.run(None, out_dir=partial.path, overrides=["generations=4"])
    assert resumed.metrics == run.metrics
    assert np.array_equal(resumed.corpus(3).doc_id, run.corpus(3).doc_id)


@pytest.mark.parametrize("reservoir, expected", [
    (0, "paradigm fresh needs a corpus that can produce new real documents: kjv is a finite set, so hold some back "
        "with corpus.n_reservoir (this run needs 120: 30 per generation x 4)"),
    (100, "corpus.n_reservoir = 100 would run out: paradigm fresh takes 30 new real documents per generation, 120 "
          "over 4 generations; raise corpus.n_reservoir to 120"),
])
def test_a_reservoir_too_small_for_the_run_is_refused_before_it_starts(reservoir, expected, tmp_path):
    config = {**FRESH, "corpus": {**FRESH["corpus"], "n_reservoir": reservoir}}
    with pytest.raises(LmcollapseError) as err:
        load_config(config)
    assert str(err.value).startswith(expected) and "\n" not in str(err.value), str(err.value)
    with pytest.raises(LmcollapseError, match="n_reservoir"):
        lmcollapse.run(config, out_dir=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_extending_a_fresh_run_past_its_reservoir_is_refused(tmp_path):
    run = lmcollapse.run(FRESH, out_dir=tmp_path / "r")
    with pytest.raises(LmcollapseError, match="would run out"):
        lmcollapse.run(None, out_dir=run.path, overrides=["generations=6"])
    assert lmcollapse.load_run(run.path).generations_done == 4
