"""The detector of generated text (probes/detector.py), the `detector_auc` metric and the `detector-resample`
gate: chance on real against real, far above it on a collapsed model's samples, and a resample that favours
what reads as real while contributing exactly as many documents."""
import numpy as np
import pytest

pytest.importorskip("sklearn")

import lmcollapse  # noqa: E402
from lmcollapse.config import DetectorResampleGateConfig, KJVCorpusConfig, NGramConfig  # noqa: E402
from lmcollapse.corpora.corpus import synthetic_first_id  # noqa: E402
from lmcollapse.probes.detector import held_out_auc, ngram_features  # noqa: E402
from lmcollapse.gates import GATES, GateContext  # noqa: E402
from lmcollapse.models import MODELS  # noqa: E402
from lmcollapse.sources import SOURCES  # noqa: E402
from lmcollapse.tokenizers import TOKENIZERS  # noqa: E402
from lmcollapse.config import TokenizerConfig  # noqa: E402

from helpers import cli  # noqa: E402


@pytest.fixture(scope="module")
def verses():
    """3,000 KJV verses, word tokens."""
    source = SOURCES.build(KJVCorpusConfig(n_train=2000, n_eval=1000), seed=0)
    return source.load(TOKENIZERS.build(TokenizerConfig(name="word")))


def test_features_count_each_documents_ngrams_and_have_unit_length(verses):
    docs = verses.train.take(np.arange(50))
    x = ngram_features(docs)
    assert x.shape[0] == 50
    assert np.allclose(np.asarray(x.multiply(x).sum(axis=1)).ravel(), 1.0)
    lengths = docs.lengths
    assert all(x[i].nnz <= 2 * lengths[i] for i in range(50))  # unigrams + bigrams, fewer when repeated
    assert x[0].nnz >= lengths[0]


def test_real_against_real_is_chance_over_many_splits(verses):
    """Two halves of real verses: the held-out AUC is 0.5 up to its noise (200 + 200 test documents: a
    standard error of about 0.03) in each of 8 random splits, and 0.5 within 0.03 on average."""
    real = verses.train
    aucs = []
    for seed in range(8):
        order = np.random.default_rng(seed).permutation(len(real))
        a, b, c, d = (real.take(order[i::4][:400]) for i in range(4))
        aucs.append(held_out_auc(a, b, c, d.take(np.arange(200))))
    assert all(0.4 < auc < 0.6 for auc in aucs), aucs
    assert abs(np.mean(aucs) - 0.5) < 0.03, aucs


@pytest.mark.slow  # 3 runs of 6 generations; CI runs it
def test_a_collapsed_models_samples_are_told_apart(tmp_path):
    """A bigram retrained on its own samples for 5 generations (replace): the detector_auc metric, near chance
    at generation 0 (about 0.55: a bigram fitted on the verses writes much like them), is far above it by
    generation 5 (about 0.83) in every one of 3 seeds."""
    for seed in range(3):
        run = lmcollapse.run({"seed": seed, "generations": 6, "corpus": {"n_train": 400, "n_eval": 400},
                              "metrics": ["detector_auc"], "ci_rounds": 0, "save_models": False},
                             out_dir=tmp_path / f"s{seed}")
        auc = [r["detector_auc"] for r in run.metrics]
        assert auc[-1] > 0.75 and auc[-1] > auc[0] + 0.15 and auc[0] < 0.65, auc


def _context(n_train=300):
    source = SOURCES.build(KJVCorpusConfig(n_train=n_train, n_eval=200), seed=1)
    data = source.load(TOKENIZERS.build(TokenizerConfig(name="word")))
    model = MODELS.build(NGramConfig(order=2, smoothing=0.01)).fit(data.train, seed=0)
    return GateContext(1, model, data.train, data.train, data.held_out, None, run=None)


def test_the_resample_contributes_n_documents_and_favours_what_reads_as_real():
    """Over 4 seeds: exactly n documents, none more than max_repeats times, and with beta = 4 a lower mean
    p_generated than with beta = 0 (which draws uniformly from the candidates)."""
    ctx = _context()
    for seed in range(4):
        scores = {}
        for beta in (0.0, 4.0):
            gate = GATES.build(DetectorResampleGateConfig(beta=beta, upsample=4, max_repeats=2))
            made, p = gate.generate(100, ctx, seed=seed, generation=2, first_id=synthetic_first_id(2),
                                    producer="ngram@gen-1")
            assert len(made) == 100 and len(p) == 100
            texts = [tuple(made.doc(i)) for i in range(100)]
            assert max(texts.count(t) for t in set(texts)) <= 2 or beta == 0.0 and len(set(texts)) > 80
            scores[beta] = float(np.mean(p))
        assert scores[4.0] < scores[0.0] - 0.05, scores


def test_hidden_features_need_a_model_with_hidden_states():
    refused = cli("validate", "--set", "gates=[{name: detector-resample, features: hidden}]")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "needs a model with hidden-states (gpt, hf), not ngram" in refused.stderr


@pytest.mark.slow  # trains a GPT; CI runs it
def test_hidden_state_features_drive_the_resample_of_a_neural_model():
    """features: hidden: the detector reads the GPT's final hidden state; the resample still contributes
    exactly n documents."""
    pytest.importorskip("torch")
    from lmcollapse.config import GPTConfig
    from lmcollapse.models.gpt import GPTModel
    from test_gpt import TINY, learnable_corpus

    corpus = learnable_corpus()
    model = GPTModel(GPTConfig(**TINY)).fit(corpus, seed=0)
    ctx = GateContext(1, model, corpus, corpus, corpus, None, run=None)
    gate = GATES.build(DetectorResampleGateConfig(features="hidden", upsample=2))
    made, p = gate.generate(40, ctx, seed=3, generation=2, first_id=synthetic_first_id(2), producer="gpt@gen-1")
    assert len(made) == 40 and ((0 <= p) & (p <= 1)).all() and p.std() > 0


def test_dropping_the_columns_no_document_uses_changes_no_probability(verses):
    """The gate fits its detectors on the columns its documents use (liblinear sweeps the whole weight vector
    each iteration); a logistic regression is 0 on an unused column, so the probabilities stay those of the
    full-width fit, to the solver's rounding."""
    from lmcollapse.probes.detector import fit_classifier, used_columns

    real, other = verses.train.take(np.arange(0, 400)), verses.train.take(np.arange(400, 800))
    scored = verses.held_out.take(np.arange(300))
    x_real, x_other, x_scored = ngram_features(real), ngram_features(other), ngram_features(scored)
    full = fit_classifier(x_real, x_other).predict_proba(x_scored)[:, 1]
    c_real, c_other, c_scored = used_columns(x_real, x_other, x_scored)
    assert c_real.shape[1] < x_real.shape[1] / 10  # most hashed columns are empty
    narrow = fit_classifier(c_real, c_other).predict_proba(c_scored)[:, 1]
    assert np.max(np.abs(narrow - full)) < 1e-9
    assert np.std(full) > 0.01  # and the probabilities are not all alike (the comparison could fail)


def test_the_dual_solver_where_columns_outnumber_documents_finds_the_primal_optimum(verses):
    """fit_classifier takes liblinear's dual where hashed columns outnumber documents (about 3x faster there);
    the objective is the same, so p_generated agrees with the primal fit to the solvers' tolerance, on
    documents neither saw."""
    from scipy import sparse
    from sklearn.linear_model import LogisticRegression

    from lmcollapse.probes.detector import fit_classifier, used_columns

    real, other = verses.train.take(np.arange(0, 600)), verses.train.take(np.arange(1000, 1600))
    x_real, x_other, x_scored = used_columns(ngram_features(real), ngram_features(other),
                                             ngram_features(verses.held_out.take(np.arange(400))))
    assert x_real.shape[1] > 2 * 1200  # wide: the dual's case
    chosen = fit_classifier(x_real, x_other)
    assert chosen.dual
    x = sparse.vstack([x_real, x_other])
    y = np.r_[np.zeros(600), np.ones(600)]
    primal = LogisticRegression(solver="liblinear", dual=False, random_state=0).fit(x, y)
    p_dual, p_primal = chosen.predict_proba(x_scored)[:, 1], primal.predict_proba(x_scored)[:, 1]
    assert np.max(np.abs(p_dual - p_primal)) < 1e-4
    assert np.std(p_primal) > 0.01  # the probabilities differ between documents: the comparison could fail
    rng = np.random.default_rng(0)
    narrow = fit_classifier(rng.normal(size=(50, 3)), rng.normal(size=(50, 3)) + 0.5)
    assert not narrow.dual  # more documents than columns: the primal


def test_r_is_featurized_once_a_run_and_a_changed_corpus_is_featurized_again(verses):
    from lmcollapse.probes.detector import FixedCorpusFeatures

    features = FixedCorpusFeatures()
    real = verses.train.take(np.arange(300))
    first = features(real)
    assert features(verses.train.take(np.arange(300))) is first  # the same documents: the same matrix
    assert (abs(first - ngram_features(real))).max() == 0
    other = verses.train.take(np.arange(1, 301))
    assert (abs(features(other) - ngram_features(other))).max() == 0  # different documents: featurized again


def test_detector_importance_with_r_featurized_once_gives_the_same_draw_as_featurizing_it_again(verses):
    """The gate's cached R features, with fresh real documents (not in R) stacked below them, score every
    document exactly as featurizing R and the fresh ones together does."""
    from lmcollapse.corpora.corpus import Corpus, SYNTHETIC
    from lmcollapse.gates.detector_importance import DetectorImportance

    real = verses.train.take(np.arange(400))
    fresh = verses.train.take(np.arange(400, 500))  # real documents R does not hold, as `fresh` brings them
    model = MODELS.build(NGramConfig(order=1, smoothing=0.5)).fit(real, seed=0)
    made = model.sample(300, seed=1, generation=1, first_id=synthetic_first_id(1), producer="m")
    assert (made.origin == SYNTHETIC).all()
    train = Corpus.concat([real.take(np.arange(100)), fresh, made])
    again, auc_again = DetectorImportance.cross_fitted(train, real, np.random.default_rng(5))
    cached, auc_cached = DetectorImportance.cross_fitted(train, real, np.random.default_rng(5), ngram_features(real))
    assert np.array_equal(again, cached) and auc_again == auc_cached
    assert auc_cached > 0.6 and np.std(cached) > 0.01


def test_auc_is_scikit_learns_roc_auc_with_ties_counted_half():
    from sklearn.metrics import roc_auc_score

    from lmcollapse.probes.detector import auc

    rng = np.random.default_rng(0)
    for shift in (0.0, 0.1, 0.5):
        p_real, p_generated = rng.random(300).round(2), (rng.random(500) + shift).round(2)  # rounded: many ties
        expected = roc_auc_score(np.r_[np.zeros(300), np.ones(500)], np.r_[p_real, p_generated])
        assert auc(p_real, p_generated) == pytest.approx(expected, abs=1e-12)
    assert auc(np.zeros(3), np.ones(4)) == 1.0 and auc(np.ones(3), np.zeros(4)) == 0.0


def test_scoring_without_scikit_learns_checks_is_its_predict_proba(verses):
    from lmcollapse.probes.detector import fit_classifier, p_generated_of

    real, other = verses.train.take(np.arange(0, 300)), verses.train.take(np.arange(300, 600))
    classifier = fit_classifier(ngram_features(real), ngram_features(other))
    scored = ngram_features(verses.held_out.take(np.arange(200)))
    assert np.allclose(p_generated_of(classifier, scored), classifier.predict_proba(scored)[:, 1], rtol=0, atol=1e-12)
    dense = np.random.default_rng(0).normal(size=(60, 3))
    narrow = fit_classifier(dense[:30], dense[30:] + 0.5)
    assert np.allclose(p_generated_of(narrow, dense), narrow.predict_proba(dense)[:, 1], rtol=0, atol=1e-12)
