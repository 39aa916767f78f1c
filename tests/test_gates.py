"""Quality gates: what each keeps and why, and the runner keeping the contribution fixed."""
import numpy as np
import pytest

import lmcollapse
from lmcollapse.running import activity
from lmcollapse.running.parts import load_source
from lmcollapse.running.parts import load_config
from lmcollapse.corpora.corpus import SYNTHETIC, Corpus
from lmcollapse.corpora.parquet import read_column
from lmcollapse.errors import LmcollapseError
from lmcollapse.gates import GateContext, ReferenceModel, apply_filters, build_gates
from lmcollapse.gates.dedup import signatures
from lmcollapse.models.ngram import NGramModel
from lmcollapse.sources import SOURCES
from lmcollapse.config import NGramConfig, validate

from conftest import small_truth_config


class FixedReference(ReferenceModel):
    def __init__(self, model):
        self.model = model

    def reference_model(self):
        return self.model


def context(train, real=None, held_out=None, truth=None, model=None, reference=None):
    real = real if real is not None else train
    return GateContext(0, model, train, real, held_out if held_out is not None else real, truth,
                       run=FixedReference(reference))


def gate(entry):
    """The built gate of one `gates` entry (a name or a mapping, as a config writes it), in a list."""
    gates = build_gates(validate({"gates": [entry]}).gates)
    return gates.filters or [gates.producer or gates.pool_weighting]


def apply_gates(gates, candidates, ctx, rng):
    return apply_filters(gates, candidates, ctx, rng)


def test_minhash_estimates_jaccard_similarity():
    rng = np.random.default_rng(0)
    errors = []
    for _ in range(40):
        a = rng.integers(0, 50, size=60)
        b = a.copy()
        b[rng.choice(60, size=rng.integers(0, 30), replace=False)] = rng.integers(50, 100)
        docs = Corpus.from_documents([a, b], vocab_size=100)
        grams = [set(zip(d[:-2], d[1:-1], d[2:])) for d in (a, b)]
        truth = len(grams[0] & grams[1]) / len(grams[0] | grams[1])
        sig = signatures(docs, 3, 256)
        errors.append((sig[0] == sig[1]).mean() - truth)
    # 256 permutations: the estimate's standard deviation is at most 0.5/16 = 0.031
    assert abs(np.mean(errors)) < 0.02 and np.max(np.abs(errors)) < 0.13


def test_dedup_drops_exact_and_near_duplicates_of_training_and_earlier_documents():
    rng = np.random.default_rng(1)
    train_docs = [rng.integers(0, 500, size=40) for _ in range(20)]
    near = train_docs[3].copy()
    near[20] = 499  # one token changed out of 40: Jaccard of 3-gram sets 35/41 = 0.85
    fresh = [rng.integers(0, 500, size=40) for _ in range(5)]
    candidates = [train_docs[0], near, *fresh, fresh[1], np.array([7, 8])]
    train = Corpus.from_documents(train_docs, vocab_size=500)
    cand = Corpus.from_documents(candidates, vocab_size=500, origin=SYNTHETIC)
    outcome = apply_gates(gate("dedup"), cand, context(train), np.random.default_rng(0))
    assert outcome.keep.tolist() == [False, False, True, True, True, True, True, False, True]
    assert outcome.scores["dedup"][0] == 1.0 and 0.7 < outcome.scores["dedup"][1] < 1.0
    assert outcome.counts["dedup"] == [9, 6]
    assert outcome.rejected_by.tolist()[:2] == ["dedup", "dedup"]


def test_perplexity_band_keeps_real_looking_documents_only():
    config = load_config({"corpus": {"n_train": 2000, "n_eval": 1000}})
    data = load_source(config)
    reference = NGramModel(NGramConfig(order=2, smoothing=1e-4)).fit(data.train)
    ctx = context(data.train, held_out=data.held_out, reference=reference)
    outcome = apply_gates(gate("perplexity"), data.held_out, ctx, np.random.default_rng(0))
    assert outcome.keep.mean() == pytest.approx(0.90, abs=0.01)  # the band is held-out's 5%..95%
    the = data.train.doc(0)[0]
    babble = Corpus.from_documents([[the] * 30, list(range(2000, 2030))], vocab_size=data.train.vocab_size,
                                   eos_id=data.train.eos_id, origin=SYNTHETIC)
    outcome = apply_gates(gate({"name": "perplexity", "low": 0.01, "high": 0.99}), babble, ctx, np.random.default_rng(0))
    assert outcome.keep.tolist() == [False, False]  # repetition too easy, word salad too hard


def test_oracle_and_noisy_verifier():
    config = load_config(small_truth_config(**{"corpus.doc_length": 5, "corpus.n_train": 4000}))
    source = SOURCES.build(config.corpus, seed=config.seed)
    data = source.load()
    samples = source.truth.sample(4000, 5, np.random.default_rng(9), first_id=10**6, generation=1,
                                  producer="truth", seed=9)
    ctx = context(data.train, truth=source.truth)
    oracle = apply_gates(gate("verifier"), samples, ctx, np.random.default_rng(0))
    # Candidates from the truth itself pass like real documents do: about 1 - quantile (ties included)
    assert 0.86 <= oracle.keep.mean() <= 0.97
    noisy = apply_gates(gate({"name": "verifier", "error_rate": 0.2}), samples, ctx, np.random.default_rng(1))
    flipped = (noisy.keep != oracle.keep).mean()
    assert flipped == pytest.approx(0.2, abs=4 * np.sqrt(0.2 * 0.8 / 4000))
    with pytest.raises(LmcollapseError, match="needs a known-truth corpus"):
        apply_gates(gate("verifier"), samples, context(data.train), np.random.default_rng(0))


def test_token_edit_resamples_only_confident_tokens():
    rng = np.random.default_rng(2)
    # Token 0 is always followed by 1; everything else is random: only those "1"s are confident.
    docs = []
    for _ in range(300):
        d = []
        while len(d) < 12:
            d += [0, 1] if rng.random() < 0.3 else [int(rng.integers(2, 8))]
        docs.append(d)
    real = Corpus.from_documents(docs, vocab_size=9, eos_id=8)
    model = NGramModel(NGramConfig(order=2, smoothing=0.0)).fit(real)
    ctx = context(real, model=model)
    (editor,) = gate({"name": "token-edit", "threshold": 0.9})
    out, share = editor.generate(200, ctx, seed=3, generation=1, first_id=10**6, producer="edit")
    assert len(out) == 200
    assert (out.origin == SYNTHETIC).all() and np.all(share >= 0) and share.max() < 0.6
    # A resampled position after 0 draws from p(. | 0) = 1 at token 1 again: edited text equals the base.
    picked = real.take(np.sort(np.random.default_rng(3).choice(len(real), size=200, replace=False)))
    assert np.array_equal(out.lengths, picked.lengths) and np.array_equal(out.tokens, picked.tokens)
    assert share.mean() > 0.1
    (never,) = gate({"name": "token-edit", "threshold": 0.999999})
    smoothed = NGramModel(NGramConfig(order=2, smoothing=1.0)).fit(real)
    out, share = never.generate(50, context(real, model=smoothed), seed=4, generation=1, first_id=0, producer="e")
    assert share.max() == 0.0
    # its activity (running/activity.py): nothing edited, so a row of it is "inactive"
    assert never.activity(out, share) == {"edited_token_share": 0.0, "edited_document_share": 0.0}
    assert activity.never_acted([never.activity(out, share)] * 3)
    out, share = editor.generate(200, ctx, seed=3, generation=1, first_id=10**6, producer="edit")
    acted = editor.activity(out, share)
    confident = sum(int(((np.array(d[:-1]) == 0)).sum()) for d in  # each 0 followed by a 1 gets edited
                    (out.tokens[o:o + n] for o, n in zip(out.offsets, out.lengths)))
    assert acted["edited_token_share"] == pytest.approx(confident / out.lengths.sum(), abs=0.02)
    assert 0.5 < acted["edited_document_share"] <= 1.0 and not activity.never_acted([acted])


def test_runner_samples_more_to_keep_the_contribution_fixed(tmp_path):
    config = small_truth_config(**{"corpus.doc_length": 6, "corpus.n_train": 300, "generations": 3,
                                   "gates": [{"name": "verifier", "quantile": 0.5}], "ci_rounds": 0})
    run = lmcollapse.run(config, out_dir=tmp_path / "run")
    for t in range(3):
        manifest = (run.path / f"gen-{t:04d}" / "manifest.json").read_text()
        assert len(run.samples(t, kept_only=True)) == 300
        if t == 0:
            assert '"sampling_rounds": 1,' not in manifest  # at ~50% acceptance one round cannot fill it
        rejected = read_column(run.path / f"gen-{t:04d}" / "samples.parquet", "rejected_by")
        scores = read_column(run.path / f"gen-{t:04d}" / "samples.parquet", "score_verifier")
        assert set(rejected.tolist()) <= {"", "verifier", "surplus"} and np.isfinite(scores).any()
    record = run.gate_record(0)
    assert record["kept"].sum() == 300 and record["counts"]["verifier"][0] == len(record["kept"])
    passed = record["rejected_by"] != "verifier"
    assert np.all(record["score_verifier"][passed] >= np.nanmin(record["score_verifier"][passed]))
    assert np.nanmin(record["score_verifier"][passed]) > np.nanmax(record["score_verifier"][~passed]) - 1e-12
    acceptance = [row["acceptance_rate"] for row in run.metrics]
    # Half of the truth's documents clear the median at first; models trained on verified data then
    # write ever more such documents: the verifier pulls the data towards the mode.
    assert 0.35 < acceptance[0] < 0.65 and acceptance[2] > acceptance[0]
    # the manifest records the gate's activity and the training set's real share (replace: all real at 0)
    manifests = [run.manifest(t) for t in range(3)]
    assert [m.activity["acceptance"] for m in manifests] == pytest.approx(acceptance, abs=1e-12)
    assert manifests[0].real_token_share == 1.0 and manifests[1].real_token_share == 0.0
    lmcollapse.run({**config, "generations": 1}, out_dir=tmp_path / "short")
    lmcollapse.run({**config, "generations": 3}, out_dir=tmp_path / "short")  # resumed from generation 1
    assert lmcollapse.load_run(tmp_path / "short").metrics == run.metrics


def test_reweight_favours_real_documents_in_the_subsampled_pool(tmp_path):
    base = small_truth_config(**{"paradigm": {"name": "accumulate-subsample", "rate": 1.0}, "generations": 4,
                                 "corpus.n_train": 400, "ci_rounds": 0, "metrics": ["real_fraction"]})
    plain = lmcollapse.run(base, out_dir=tmp_path / "plain").metrics
    weighted = lmcollapse.run({**base, "gates": [{"name": "reweight", "real_weight": 4.0}]},
                              out_dir=tmp_path / "weighted").metrics
    # Uniform draws give real share 1/(1+t); weight 4 gives at least 4/(4+t) (older synthetic weigh more).
    assert plain[3]["real_fraction"] == pytest.approx(1 / 4, abs=0.08)
    assert weighted[3]["real_fraction"] > 0.45
    with pytest.raises(LmcollapseError, match="use accumulate-subsample or fresh"):
        lmcollapse.run({**base, "paradigm": {"name": "replace"}, "gates": ["reweight"]}, out_dir=tmp_path / "bad")


def test_gate_config_errors_are_one_line():
    with pytest.raises(LmcollapseError, match=r"gates\[1\] \(dedup\): unknown parameter 'treshold'; allowed: "
                                              r"threshold, ngram, num_perm, bands"):
        load_config({"gates": ["nonempty", {"name": "dedup", "treshold": 0.5}]})
    with pytest.raises(LmcollapseError, match=r"gates\[0\]: unknown gate 'magic'"):
        load_config({"gates": [{"name": "magic"}]})
    with pytest.raises(LmcollapseError, match=r"gates\[0\] \(verifier\) needs a known-truth corpus"):
        load_config({"gates": ["verifier"]})  # kjv: caught before anything runs
    with pytest.raises(LmcollapseError, match=r"gates\[0\] \(perplexity\): need low < high"):
        load_config({"gates": [{"name": "perplexity", "low": 0.9, "high": 0.1}]})
    with pytest.raises(LmcollapseError, match=r"gates\[0\] \(dedup\): num_perm \(60\) must be a multiple of bands"):
        load_config({"gates": [{"name": "dedup", "num_perm": 60}]})
    with pytest.raises(LmcollapseError, match="give the quality gates once"):
        load_config({"gates": ["dedup"], "filters": ["dedup"]})
    # `filters`, the key's name before 0.4, still reads as `gates`
    assert [g.name for g in load_config({"filters": ["dedup", {"name": "perplexity", "low": 0.1}]}).gates] == \
        ["dedup", "perplexity"]


def test_a_strict_gate_with_a_small_budget_contributes_fewer_documents(tmp_path):
    config = small_truth_config(**{"corpus.doc_length": 6, "corpus.n_train": 200, "generations": 2, "ci_rounds": 0,
                                   "gates": [{"name": "verifier", "quantile": 0.9}], "oversample_max": 1.5,
                                   "paradigm": {"name": "accumulate", "rate": 1.0}})
    run = lmcollapse.run(config, out_dir=tmp_path / "run")
    drawn, kept = len(run.samples(0)), len(run.samples(0, kept_only=True))
    assert drawn <= 300 and 0 < kept < 200  # the budget ran out before 200 passed
    assert run.metrics[1]["n_train"] == 200 + kept
