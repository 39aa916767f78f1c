"""The mitigations of the benchmark's version 2 (P21), each against what its paper says it does: the
detector importance resampling of Drayson et al., the oracle rejection sampler with Feng et al.'s measured
keep rates, Ferbach et al.'s Bradley-Terry curation, Gambetta et al.'s high-surprise selection, Gillman et al.'s
self-correction, Shi et al.'s entropy-based selection, and ToEdit as published. Statistical
claims are checked over several seeds with a stated tolerance."""
import numpy as np
import pytest

import lmcollapse
from lmcollapse.config import NGramConfig, section_of, validate
from lmcollapse.corpora.contexts import positions, truth_log_probs
from lmcollapse.corpora.corpus import REAL, Corpus
from lmcollapse.gates import GateContext, ReferenceModel, build_gates
from lmcollapse.gates.selection import per_token
from lmcollapse.models.ngram import NGramModel
from lmcollapse.sources import SOURCES


class Reference(ReferenceModel):
    def __init__(self, model):
        self.model = model

    def reference_model(self):
        return self.model


def built(entry):
    gates = build_gates(validate({"gates": [entry]}).gates)
    return (gates.filters or [None])[0] or gates.producer or gates.pool_weighting or gates.resampler


def markov_world(seed, smoothing=1.0, n=400, order=2):
    """(real, truth, an n-gram model fitted to R: at order 1 it forgets the chain's transitions, so its samples
    are clearly worse than real text)."""
    source = SOURCES.build(section_of("corpus", "markov")(vocab_size=8, doc_length=12, n_train=n, n_eval=100,
                                                          concentration=0.3), seed=seed)
    data = source.load()
    model = NGramModel(NGramConfig(order=order, smoothing=smoothing)).fit(data.train, seed=0)
    return data, source.truth, model


def test_detector_importance_fills_the_training_set_with_what_reads_as_real():
    """Drayson et al.: beta 10 moves the learner's data towards human text; beta 0 only upsamples."""
    gains = []
    for seed in range(4):
        data, truth, model = markov_world(seed, order=1)
        generated = model.sample(400, seed=seed, generation=1, first_id=10**6, producer="m")
        train = Corpus.concat([data.train.take(np.arange(100)), generated])  # 20% real, as a mix would hold
        ctx = GateContext(1, None, train, data.train, data.held_out, truth, run=Reference(model))
        gate = built({"name": "detector-importance", "include_real": False})
        seen, activity = gate.resample(train, ctx, np.random.default_rng(seed))
        assert len(seen) == int(round(1.5 * len(train)))  # the paper's 1.5x upsampling
        assert np.unique(seen.doc_id, return_counts=True)[1].max() <= 3  # at most 3 copies, as its runs use
        assert activity["detector_auc"] > 0.7  # a unigram's text is easy to tell from the chain's
        real_share = (seen.origin == REAL).mean()
        flat, _ = built({"name": "detector-importance", "beta": 0.0, "include_real": False}).resample(
            train, ctx, np.random.default_rng(seed))
        assert (flat.origin == REAL).mean() == pytest.approx(0.2, abs=0.06)  # beta 0: uniform
        gains.append(real_share - 0.2)
        # as published, all of R joins the pool: 400 real and 400 generated, resampled to 1,200
        published, _ = built("detector-importance").resample(train, ctx, np.random.default_rng(seed))
        assert len(published) == 1200 and set(published.doc_id) <= set(data.train.doc_id) | set(train.doc_id)
        assert (published.origin == REAL).mean() > 0.6
    assert min(gains) > 0.1, gains  # every seed: the real share rises by more than 10 points


def test_detector_importance_in_a_run_resamples_what_the_learner_sees(tmp_path):
    config = {"seed": 0, "generations": 3, "ci_rounds": 0, "metrics": ["real_fraction"],
              "corpus": {"name": "markov", "vocab_size": 8, "doc_length": 10, "n_train": 200, "n_eval": 100},
              "model": {"name": "ngram", "order": 1, "smoothing": 0.5},
              "paradigm": {"name": "mix", "real_fraction": 0.3}, "gates": ["detector-importance"]}
    run = lmcollapse.run(config, out_dir=tmp_path / "run")
    plain = lmcollapse.run({**config, "gates": []}, out_dir=tmp_path / "plain")
    manifests = [run.manifest(t) for t in range(3)]
    assert "detector_auc" not in manifests[0]["activity"]  # generation 0 trains on R itself, as in every row
    assert all(0.5 < m["activity"]["detector_auc"] <= 1 for m in manifests[1:])
    assert all(m["seconds"]["resample"] >= 0 for m in manifests[1:])
    # the learner saw more real text than the policy's 30%; D_t itself is the policy's
    assert all(m["real_token_share"] > plain.manifest(t)["real_token_share"] + 0.05 for t, m in enumerate(manifests)
               if t > 0)
    assert [r["real_fraction"] for r in run.metrics] == [r["real_fraction"] for r in plain.metrics]


def test_oracle_rejection_keeps_good_documents_more_than_bad_ones_and_noise_closes_the_gap():
    """Feng et al.'s phi (good kept) and psi (bad kept), measured with good defined apart from the rule."""
    gaps = {0.0: [], 0.4: []}
    for seed in range(5):
        data, truth, model = markov_world(seed, smoothing=10.0)  # about half its candidates are good
        candidates = model.sample(1500, seed=seed, generation=1, first_id=10**6, producer="m")
        ctx = GateContext(1, model, data.train, data.train, data.held_out, truth, run=Reference(model))
        score_real = per_token(truth_log_probs(truth, data.train), data.train)
        good = None
        for rate in gaps:
            keep, score = built({"name": "oracle-rejection", "error_rate": rate}).keep(
                candidates, ctx, np.random.default_rng(seed))
            good = score >= np.quantile(score_real, 0.1)
            phi, psi = keep[good].mean(), keep[~good].mean()
            gaps[rate].append(phi - psi)
            if rate == 0.0:  # what is kept is closer to the truth than what was drawn
                assert score[keep].mean() > score.mean() + 0.02
        assert 0.1 < good.mean() < 0.9  # both kinds are present to measure
    assert min(gaps[0.0]) > 0.1, gaps
    # flips at rate e shrink phi - psi by the factor (1 - 2e): 0.2 of it at e = 0.4
    assert np.mean(gaps[0.4]) == pytest.approx(0.2 * np.mean(gaps[0.0]), abs=0.06)


def test_bt_curation_chooses_the_higher_reward_and_flattens_with_temperature():
    data, truth, model = markov_world(0, order=1)
    ctx = GateContext(1, model, data.train, data.train, data.held_out, truth, run=Reference(model))
    sharp, reward = built({"name": "bt-curation", "k": 4, "reward": "truth"}).generate(
        300, ctx, seed=1, generation=2, first_id=0, producer="m")
    drawn = model.sample(1200, seed=1, generation=2, first_id=0, producer="m")
    everything = per_token(truth_log_probs(truth, drawn), drawn).reshape(300, 4)  # the same candidates
    np.testing.assert_allclose(reward, per_token(truth_log_probs(truth, sharp), sharp))
    assert (reward >= everything.max(axis=1) - 0.15).mean() > 0.8  # nearly always the best of four
    flat, flat_reward = built({"name": "bt-curation", "k": 4, "reward": "truth", "temperature": 1e6}).generate(
        300, ctx, seed=1, generation=2, first_id=0, producer="m")
    assert flat_reward.mean() == pytest.approx(everything.mean(), abs=3 * everything.std() / np.sqrt(300))
    assert reward.mean() > flat_reward.mean() + 0.05


def test_high_surprise_keeps_the_most_surprising_candidates():
    data, truth, model = markov_world(1, smoothing=0.5)
    ctx = GateContext(1, model, data.train, data.train, data.held_out, truth, run=Reference(model))
    out, nll = built({"name": "high-surprise", "upsample": 2.0}).generate(
        200, ctx, seed=3, generation=2, first_id=0, producer="m")
    drawn = model.sample(400, seed=3, generation=2, first_id=0, producer="m")
    all_nll = -per_token(model.log_prob(drawn), drawn)
    assert len(out) == 200 and nll.min() >= np.sort(all_nll)[-200] - 1e-12  # exactly the top half
    np.testing.assert_allclose(nll, -per_token(model.log_prob(out), out))


def test_gates_that_need_a_truth_say_so(tmp_path):
    with pytest.raises(lmcollapse.LmcollapseError, match="needs a known-truth corpus"):
        lmcollapse.run({"corpus": {"name": "kjv", "n_train": 20, "n_eval": 10}, "generations": 1,
                        "gates": ["oracle-rejection"]}, out_dir=tmp_path / "r")


class Untouchable:
    """A model that fails when asked anything: proves that a gate does not use the generation's model."""

    def __getattr__(self, name):
        raise AssertionError(f"the generation's model was used ({name})")


def test_toedit_as_published_edits_the_training_set_with_the_fixed_prior_at_its_calibrated_share():
    shares, realised = [], []
    for seed in range(3):
        data, truth, prior = markov_world(seed, smoothing=0.01)
        train = prior.sample(300, seed=seed, generation=1, first_id=10**6, producer="m")  # D_t: not R
        ctx = GateContext(1, Untouchable(), train, data.train, data.held_out, truth, run=Reference(prior))
        toedit = built({"name": "token-edit", "editor": "reference", "source": "train", "top_k": 1,
                        "edited_share": 0.2})
        out, score = toedit.generate(300, ctx, seed=seed, generation=2, first_id=0, producer="e")
        base = train.take(np.sort(np.random.default_rng(seed).choice(300, size=300, replace=False)))
        assert np.array_equal(out.lengths, base.lengths)  # the documents of D_t, edited in place
        threshold = toedit.calibrated()["threshold"]
        # the rule: the prior puts 20% of R's tokens above the threshold
        doc, logp = prior.token_log_probs(data.train)
        _, pos, _ = positions(data.train)
        p_real = np.exp(logp)[pos < data.train.lengths[doc]]  # the end token is never edited
        achievable = [(p_real > v).mean() for v in np.r_[0.0, np.unique(p_real)]]  # ties: not every share is
        assert abs((p_real > threshold).mean() - 0.2) == pytest.approx(min(abs(np.array(achievable) - 0.2)))
        realised.append((p_real > threshold).mean())
        shares.append(toedit.activity(out, score)["edited_token_share"])
    assert np.mean(realised) == pytest.approx(0.2, abs=0.05), realised
    # D_t was written by the prior itself: it puts about as many of D_t's tokens above the threshold as of R's
    assert np.mean(shares) == pytest.approx(0.2, abs=0.08), shares


def test_token_edit_top_k_and_beta_shape_the_replacement_law():
    data, truth, model = markov_world(0, smoothing=0.01)
    ctx = GateContext(1, model, data.train, data.train, data.held_out, truth, run=Reference(model))
    out, score = built({"name": "token-edit", "threshold": 0.5, "top_k": 1}).generate(
        200, ctx, seed=0, generation=1, first_id=0, producer="e")
    base = data.train.take(np.sort(np.random.default_rng(0).choice(len(data.train), size=200, replace=False)))
    changed = out.tokens != base.tokens
    assert score.mean() > 0.1  # edits happened
    assert not changed.any()  # top_k 1 at p > 0.5: a confident token's likeliest replacement is itself
    out, score = built({"name": "token-edit", "threshold": 0.5, "beta": 1e6}).generate(
        200, ctx, seed=0, generation=1, first_id=0, producer="e")
    edited = out.tokens != base.tokens  # beta -> infinity: replacements uniform over the vocabulary but the end
    assert edited.sum() / (score * np.maximum(out.lengths, 1)).sum() > 0.6  # most edits now change the token
    with pytest.raises(lmcollapse.LmcollapseError, match="not both"):
        lmcollapse.run({"gates": [{"name": "token-edit", "threshold": 0.9, "edited_share": 0.1}]}, out_dir="/tmp/no")


def test_self_correct_draws_the_papers_mixture():
    data, truth, model = markov_world(0, order=1)
    ctx = GateContext(1, model, data.train, data.train, data.held_out, truth, run=Reference(model))
    plain = model.sample(2000, seed=5, generation=2, first_id=0, producer="m")
    none, score = built({"name": "self-correct", "gamma": 0.0}).generate(2000, ctx, seed=5, generation=2,
                                                                          first_id=0, producer="m")
    assert np.array_equal(none.tokens, plain.tokens) and score.max() == 0  # gamma 0: the model's own samples
    truth_lp = lambda c: per_token(truth_log_probs(truth, c), c).mean()  # noqa: E731
    for gamma in (0.25, 1.0, 4.0):
        out, score = built({"name": "self-correct", "gamma": gamma}).generate(2000, ctx, seed=5, generation=2,
                                                                              first_id=0, producer="m")
        t = gamma / (1 + gamma)
        assert score.mean() == pytest.approx(t, abs=4 * np.sqrt(t * (1 - t) / 2000))  # binomial, 4 sd
        fixed = out.take(np.flatnonzero(score == 1))
        assert truth_lp(fixed) > truth_lp(plain) + 0.1  # the corrected documents are the truth's
        assert len(out) == 2000 and len(set(out.doc_id)) == 2000


def distinct_ngrams(corpus: Corpus, n: int) -> int:
    return len({tuple(d[j:j + n]) for d in (corpus.doc(i) for i in range(len(corpus))) for j in range(len(d) - n + 1)})


def test_entropy_select_keeps_a_more_diverse_half_than_chance():
    """Shi et al.'s aim: the kept subset is more diverse than the candidates it came from. Against 30 random
    halves of the same candidates (mean 169-181 distinct trigrams, sd 4-6 on these worlds), the chosen half
    holds more distinct trigrams in every one of 4 seeds, by 2 sd at least and by 3 on average."""
    from lmcollapse.gates.selection import draw_candidates

    z = []
    for seed in range(4):
        data, truth, model = markov_world(seed, smoothing=0.05)
        ctx = GateContext(1, model, data.train, data.train, data.held_out, truth, run=Reference(model))
        out, gaps = built("entropy-select").generate(200, ctx, seed=seed, generation=2, first_id=0, producer="m")
        candidates = draw_candidates(ctx, 2.0, 200, seed=seed, generation=2, first_id=0, producer="m")  # the gate's
        assert len(out) == 200 and np.isinf(gaps).sum() == 1 and np.all(gaps[np.isfinite(gaps)] > 0)
        halves = [distinct_ngrams(candidates.take(np.sort(np.random.default_rng(k).choice(400, 200, replace=False))), 3)
                  for k in range(30)]
        z.append((distinct_ngrams(out, 3) - np.mean(halves)) / np.std(halves))
    assert min(z) > 2 and np.mean(z) > 3, z
