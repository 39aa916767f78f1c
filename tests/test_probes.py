"""The downstream probe: its splits, its refusals, and its power to tell a trained model from an untrained one."""
import json

import numpy as np
import pytest

import lmcollapse
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import load_config, load_source, new_model
from lmcollapse.probes.protocol import macro_f1, probe
from lmcollapse.probes.tasks import kjv_label

pytest.importorskip("torch")

PROBE = {"task": "kjv-genre", "mode": "linear", "n_train": 600, "n_test": 600}
SMALL_GPT = {"name": "gpt", "block_size": 48, "n_embd": 48, "n_head": 2, "n_layer": 2, "epochs": 2, "lr": 3e-3}
POWER_GPT = {"name": "gpt", "block_size": 64, "n_embd": 64, "n_head": 2, "n_layer": 2, "epochs": 2, "lr": 3e-3}


def test_kjv_labels_follow_the_books():
    assert [kjv_label("kjv-testament", b) for b in ("Genesis", "Malachi", "Matthew", "Revelation")] == \
        ["old", "old", "new", "new"]
    assert [kjv_label("kjv-genre", b) for b in ("Leviticus", "Esther", "Psalms", "Daniel", "Acts", "Jude",
                                                "Revelation")] == \
        ["law", "history", "wisdom", "prophecy", "gospels-acts", "epistles", "prophecy"]


def test_macro_f1_by_hand():
    truth, predicted = np.array([0, 0, 1, 1, 2]), np.array([0, 1, 1, 1, 0])
    # class 0: tp 1 fp 1 fn 1 -> 0.5; class 1: tp 2 fp 1 fn 0 -> 0.8; class 2: tp 0 fp 0 fn 1 -> 0
    assert macro_f1(predicted, truth, 3) == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_probe_documents_are_their_own_split_and_r_and_e_do_not_move():
    base = {"corpus": {"n_train": 500, "n_eval": 200}}
    plain = load_source(load_config(base))
    with_probe = load_source(load_config({**base, "corpus": {**base["corpus"], "n_reservoir": 300},
                                          "probe": PROBE, "model": SMALL_GPT}))
    assert list(plain.train.text) == list(with_probe.train.text)  # adding a probe changes neither R nor E
    assert list(plain.held_out.text) == list(with_probe.held_out.text)
    split = with_probe.probe
    groups = [set(plain.train.text), set(plain.held_out.text), set(split.train.text), set(split.test.text),
              set(with_probe.reservoir.text)]
    assert [len(g) for g in groups] == [500, 200, 600, 600, 300]
    assert sum(len(g) for g in groups) == len(set().union(*groups))  # pairwise disjoint
    assert split.classes == sorted(set(split.classes)) and len(split.classes) == 6
    assert set(np.unique(split.train_labels)) <= set(range(6))


@pytest.mark.parametrize("overrides, expected", [
    ({"probe": PROBE}, "probe.task: model 'ngram' has no hidden states"),
    ({"probe": {**PROBE, "task": "files-label"}, "model": SMALL_GPT},
     "probe.task files-label labels documents of corpus files, not kjv"),
    ({"corpus": {"name": "files", "path": "notes.txt"}, "probe": {**PROBE, "task": "files-label"}, "model": SMALL_GPT},
     "probe.task files-label needs labels"),
])
def test_refusals_at_config_time(overrides, expected):
    with pytest.raises(LmcollapseError) as err:
        load_config(overrides)
    assert str(err.value).startswith(expected) and "\n" not in str(err.value), str(err.value)


def test_a_jsonl_without_the_label_field_is_refused_at_config_time(tmp_path):
    path = tmp_path / "reviews.jsonl"
    path.write_text("\n".join(json.dumps({"text": f"review number {i}", "stars": i % 2}) for i in range(50)))
    config = {"corpus": {"name": "files", "path": str(path), "n_train": 20, "n_eval": 5},
              "probe": {**PROBE, "task": "files-label", "label_field": "sentiment", "n_train": 10, "n_test": 10},
              "model": SMALL_GPT}
    with pytest.raises(LmcollapseError, match="probe.label_field 'sentiment'.*has no such field"):
        load_config(config)
    split = load_source(load_config(config, ["probe.label_field=stars"])).probe
    assert split.classes == ["0", "1"] and len(split.train) == 10


def test_files_label_takes_the_class_from_the_file(tmp_path):
    for name, word in (("sea", "waves"), ("hill", "stones")):
        (tmp_path / f"{name}.txt").write_text("\n".join(f"{word} line {i} of the {name}" for i in range(40)))
    config = load_config({"corpus": {"name": "files", "path": str(tmp_path), "n_train": 30, "n_eval": 10},
                          "probe": {**PROBE, "task": "files-label", "n_train": 20, "n_test": 20}, "model": SMALL_GPT})
    split = load_source(config).probe
    assert split.classes == ["hill", "sea"]
    for corpus, labels in ((split.train, split.train_labels), (split.test, split.test_labels)):
        for text, label in zip(corpus.text, labels):
            assert ("waves" in text) == (split.classes[label] == "sea")


@pytest.mark.slow
def test_the_probe_tells_a_trained_model_from_untrained_and_noise_trained_ones():
    """Power: generation 0 (trained on real verses) beats the random-init baseline beyond its 95% interval,
    on each of 3 seeds; a model trained on the same tokens shuffled across the corpus (no word order, no
    co-occurrence) does not beat it beyond its interval on any seed."""
    for seed in range(3):
        config = load_config({"seed": seed, "corpus": {"n_train": 2000, "n_eval": 100}, "model": POWER_GPT,
                              "tokenizer": {"name": "bpe", "vocab_size": 1000},
                              "probe": {**PROBE, "n_train": 1000, "n_test": 2000}})
        data = load_source(config)
        real = data.train
        shuffled = np.random.default_rng(seed).permutation(real.tokens)
        noise = Corpus.from_flat(shuffled, real.lengths, vocab_size=real.vocab_size, eos_id=real.eos_id, origin=0,
                                 generation=0, producer="noise", seed=0, first_id=0)
        trained = new_model(config).fit(real, seed=seed)
        noisy = new_model(config).fit(noise, seed=seed)
        untrained = new_model(config).untrained(real, seed=seed)
        scores = {name: probe(model, data.probe, config.probe, seed=seed).accuracy
                  for name, model in (("trained", trained), ("noise", noisy), ("untrained", untrained))}
        baseline = scores["untrained"].value
        low = {name: s.interval(np.random.default_rng(seed), 100)[0] for name, s in scores.items()}
        assert low["trained"] > baseline, (seed, {n: s.value for n, s in scores.items()}, low)
        assert low["noise"] <= baseline, (seed, {n: s.value for n, s in scores.items()}, low)


def test_a_run_with_the_probe_writes_its_columns_and_stores_the_baseline(tmp_path):
    config = {"corpus": {"n_train": 300, "n_eval": 50}, "model": {**SMALL_GPT, "epochs": 1, "n_layer": 1},
              "probe": {**PROBE, "n_train": 60, "n_test": 60}, "generations": 2, "ci_rounds": 10,
              "metrics": ["heldout_ppl", "downstream"], "sampler": {"max_tokens": 40}}
    run = lmcollapse.run(config, out_dir=tmp_path / "r")
    baseline = json.loads((run.path / "probe-baseline.json").read_text())
    for row in run.metrics:
        assert row["downstream_acc_lo"] <= row["downstream_acc"] <= row["downstream_acc_hi"]
        assert row["downstream_baseline_acc"] == baseline["accuracy"]
        assert row["downstream_gap"] == pytest.approx(row["downstream_acc"] - baseline["accuracy"])
        assert row["random_init_heldout_ppl"] > row["heldout_ppl"]  # training beats an untrained model
        assert 0 <= row["downstream_f1"] <= 1
