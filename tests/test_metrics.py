import numpy as np
import pytest

from lmcollapse.corpus import Corpus
from lmcollapse.metrics import HIGHER_IS_BETTER, METRICS, GenerationView, measure
from lmcollapse.models.ngram import NGramModel


def view_for(model, real, samples, held_out=None):
    return GenerationView(generation=0, model=model, train=real, pool=real, samples=samples, kept=samples,
                          real=real, held_out=held_out if held_out is not None else real)


def test_every_metric_declares_direction_and_description():
    assert set(METRICS.names()) == set(HIGHER_IS_BETTER)
    assert all(METRICS.describe().values())


def test_heldout_nll_and_ppl_are_per_predicted_symbol():
    real = Corpus.from_documents([[0, 0, 1]], vocab_size=3, eos_id=2)
    model = NGramModel(order=1, smoothing=0.0).fit(real)  # p = (0.5, 0.25, 0.25)
    held = Corpus.from_documents([[1]], vocab_size=3, eos_id=2)
    row = measure(view_for(model, real, real, held), ["heldout_nll", "heldout_ppl"])
    assert row["heldout_nll"] == pytest.approx(-np.log(0.25))
    assert row["heldout_ppl"] == pytest.approx(4.0)


def test_infinite_perplexity_is_written_as_null():
    real = Corpus.from_documents([[0, 0]], vocab_size=2)
    model = NGramModel(order=1, smoothing=0.0).fit(real)
    row = measure(view_for(model, real, real, Corpus.from_documents([[1]], vocab_size=2)), ["heldout_ppl"])
    assert row == {"generation": 0, "heldout_ppl": None}


def test_support_fraction_counts_lost_real_ngrams():
    real = Corpus.from_documents([[0, 1, 2], [0, 2, 2]], vocab_size=3)
    # Real bigrams (pad,0) (0,1) (1,2) (0,2) (2,2): 5 distinct. A model fitted on [0, 2, 2] lost (0,1);
    # context 1 is unseen, so (1,2) backs off to the unigram, where 2 was seen: still supported.
    later = NGramModel(order=2, smoothing=0.5).fit(Corpus.from_documents([[0, 2, 2]], vocab_size=3))
    assert METRICS.get("support_fraction")(view_for(later, real, real)) == pytest.approx(4 / 5)
    # Fitted on [2, 2]: (pad,0) and (0,1) are lost; (1,2), (0,2) back off to the seen unigram 2.
    lost_more = NGramModel(order=2, smoothing=0.5).fit(Corpus.from_documents([[2, 2]], vocab_size=3))
    assert METRICS.get("support_fraction")(view_for(lost_more, real, real)) == pytest.approx(3 / 5)
    assert METRICS.get("support_fraction")(view_for(NGramModel(order=2).fit(real), real, real)) == 1.0


def test_model_entropy_of_a_unigram_is_its_entropy():
    real = Corpus.from_documents([[0, 0, 1, 2]], vocab_size=3)
    model = NGramModel(order=1, smoothing=0.0).fit(real)
    p = np.array([0.5, 0.25, 0.25])
    assert METRICS.get("model_entropy")(view_for(model, real, real)) == pytest.approx(-(p * np.log(p)).sum())


def test_truth_metrics_skip_real_text():
    real = Corpus.from_documents([[0, 1]], vocab_size=2)
    row = measure(view_for(NGramModel(order=1).fit(real), real, real), ["kl_to_truth", "tv_to_truth"])
    assert row == {"generation": 0}


def test_distinct_ngrams_decodes_every_real_ngram_once(monkeypatch):
    from lmcollapse.metrics import base as metrics

    real = Corpus.from_documents([[0, 1, 2], [0, 2, 2], [0, 1, 2]], vocab_size=4, eos_id=3)
    monkeypatch.setattr(metrics, "COUNT_CHUNK", 2)  # several chunks, merged
    contexts, tokens = metrics.distinct_ngrams(real, 3)
    got = sorted((tuple(c), t) for c, t in zip(contexts.tolist(), tokens.tolist()))
    expected = sorted({((-1, -1), 0), ((-1, 0), 1), ((0, 1), 2), ((1, 2), 3), ((-1, 0), 2), ((0, 2), 2),
                       ((2, 2), 3)})
    assert got == expected
