import numpy as np
import pytest

from lmcollapse.corpora.corpus import Corpus
from lmcollapse.metrics import METRICS, NEEDS, GenerationView, MetricsRow, measure, measured_columns
from lmcollapse.models.ngram import NGramModel
from lmcollapse.config import NGramConfig


def view_for(model, real, samples, held_out=None):
    return GenerationView(generation=0, model=model, train=real, pool=real, samples=samples, kept=samples,
                          real=real, held_out=held_out if held_out is not None else real)


def test_every_metric_is_one_spec_with_its_columns_directions_and_needs():
    for name in METRICS.names():
        spec = METRICS.get(name)
        assert spec.name == name and spec.description and spec.columns and set(spec.needs) <= set(NEEDS)
        assert all(c.description for c in spec.columns)
    assert len(measured_columns()) == len(set(measured_columns()))  # no two metrics write one column
    assert [c.name for c in METRICS.get("downstream").columns][:2] == ["downstream_acc", "downstream_f1"]
    assert METRICS.get("kl_to_truth").needs == ("truth",) and METRICS.get("embedding_diversity").opt_in


def test_a_metrics_row_keeps_values_and_intervals_apart_and_reads_back_its_json():
    row = MetricsRow(3, {"heldout_ppl": 12.5, "n_train": 100.0, "kl_to_truth": None},
                     {"heldout_ppl": (11.0, 14.0)}, {"heldout_ppl": 4})
    flat = row.to_json()
    assert flat == {"generation": 3, "heldout_ppl": 12.5, "heldout_ppl_lo": 11.0, "heldout_ppl_hi": 14.0,
                    "heldout_ppl_n": 4, "n_train": 100.0, "kl_to_truth": None}
    assert MetricsRow.from_json(flat) == row
    assert MetricsRow.from_json({"generation": 0, "support_loss": 0.2, "support_loss_lo": 0.1,
                                 "support_loss_hi": 0.3}).intervals == {"support_loss": (0.1, 0.3)}


def test_heldout_nll_and_ppl_are_per_predicted_symbol():
    real = Corpus.from_documents([[0, 0, 1]], vocab_size=3, eos_id=2)
    model = NGramModel(NGramConfig(order=1, smoothing=0.0)).fit(real)  # p = (0.5, 0.25, 0.25)
    held = Corpus.from_documents([[1]], vocab_size=3, eos_id=2)
    row = measure(view_for(model, real, real, held), ["heldout_nll", "heldout_ppl"])
    assert row.values["heldout_nll"] == pytest.approx(-np.log(0.25))
    assert row.values["heldout_ppl"] == pytest.approx(4.0)


def test_infinite_perplexity_is_written_as_null():
    real = Corpus.from_documents([[0, 0]], vocab_size=2)
    model = NGramModel(NGramConfig(order=1, smoothing=0.0)).fit(real)
    row = measure(view_for(model, real, real, Corpus.from_documents([[1]], vocab_size=2)), ["heldout_ppl"])
    assert row.to_json() == {"generation": 0, "heldout_ppl": None}


def test_support_fraction_counts_lost_real_ngrams():
    real = Corpus.from_documents([[0, 1, 2], [0, 2, 2]], vocab_size=3)
    # Real bigrams (pad,0) (0,1) (1,2) (0,2) (2,2): 5 distinct. A model fitted on [0, 2, 2] lost (0,1);
    # context 1 is unseen, so (1,2) backs off to the unigram, where 2 was seen: still supported.
    later = NGramModel(NGramConfig(order=2, smoothing=0.5)).fit(Corpus.from_documents([[0, 2, 2]], vocab_size=3))
    assert METRICS.get("support_fraction")(view_for(later, real, real)) == pytest.approx(4 / 5)
    # Fitted on [2, 2]: (pad,0) and (0,1) are lost; (1,2), (0,2) back off to the seen unigram 2.
    lost_more = NGramModel(NGramConfig(order=2, smoothing=0.5)).fit(Corpus.from_documents([[2, 2]], vocab_size=3))
    assert METRICS.get("support_fraction")(view_for(lost_more, real, real)) == pytest.approx(3 / 5)
    assert METRICS.get("support_fraction")(view_for(NGramModel(NGramConfig(order=2)).fit(real), real, real)) == 1.0


def test_model_entropy_of_a_unigram_is_its_entropy():
    real = Corpus.from_documents([[0, 0, 1, 2]], vocab_size=3)
    model = NGramModel(NGramConfig(order=1, smoothing=0.0)).fit(real)
    p = np.array([0.5, 0.25, 0.25])
    assert METRICS.get("model_entropy")(view_for(model, real, real)) == pytest.approx(-(p * np.log(p)).sum())


def test_truth_metrics_skip_real_text():
    real = Corpus.from_documents([[0, 1]], vocab_size=2)
    row = measure(view_for(NGramModel(NGramConfig(order=1)).fit(real), real, real), ["kl_to_truth", "tv_to_truth"])
    assert row.to_json() == {"generation": 0}


def test_distinct_ngrams_decodes_every_real_ngram_once(monkeypatch):
    from lmcollapse.metrics import base as metrics

    real = Corpus.from_documents([[0, 1, 2], [0, 2, 2], [0, 1, 2]], vocab_size=4, eos_id=3)
    monkeypatch.setattr(metrics, "COUNT_CHUNK", 2)  # several chunks, merged
    contexts, tokens = metrics.distinct_ngrams(real, 3)
    got = sorted((tuple(c), t) for c, t in zip(contexts.tolist(), tokens.tolist()))
    expected = sorted({((-1, -1), 0), ((-1, 0), 1), ((0, 1), 2), ((1, 2), 3), ((-1, 0), 2), ((0, 2), 2),
                       ((2, 2), 3)})
    assert got == expected
