"""The fine-tuning regime (running/base_model.py): `lmcollapse pretrain` trains a base model once on text no
run sees, and `model.init: base` fine-tunes it every generation."""
import json

import pytest

pytest.importorskip("torch")

import lmcollapse  # noqa: E402
from lmcollapse.errors import LmcollapseError  # noqa: E402
from lmcollapse.running.base_model import BASE_RECORD  # noqa: E402
from lmcollapse.running.parts import load_config, load_source  # noqa: E402

from helpers import cli  # noqa: E402

CONFIG = {"generations": 2, "ci_rounds": 0, "corpus": {"name": "kjv", "n_train": 80, "n_eval": 30, "n_reservoir": 20},
          "tokenizer": {"name": "char"}, "sampler": {"max_tokens": 47}, "metrics": ["heldout_nll", "fit"],
          "model": {"name": "gpt", "n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 48, "epochs": 1,
                    "lr": 0.01}}


def _pretrained(tmp_path, config=CONFIG, documents=400):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = cli("pretrain", path, "--out", tmp_path / "bases", "--documents", str(documents),
                 "--set", "model.epochs=3")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip(), result.stderr


def test_the_left_over_text_is_disjoint_from_everything_a_run_sees():
    data = load_source(load_config(CONFIG))
    leftover = data.leftover()
    seen = set(data.train.text) | set(data.held_out.text) | set(data.reservoir.text)
    assert len(leftover) > 30_000 and not seen & set(leftover.text)
    assert leftover.vocab_size == data.train.vocab_size  # the run's tokenizer: the base's token ids are the run's


def test_pretrain_once_then_fine_tune_it_every_generation(tmp_path):
    folder, said = _pretrained(tmp_path)
    record = json.loads((tmp_path / "bases").joinpath(folder.split("/")[-1], BASE_RECORD).read_text())
    assert record["documents"] == 400 and "pretraining a base model on 400 documents" in said
    # a key newer than the first bases is left out at its default: bases pretrained before it keep their folder
    assert "eos_loss" not in record["depends_on"]["model"] and "tce_mean" in record["depends_on"]["model"]
    again, said = _pretrained(tmp_path)  # the same config: found, not trained again
    assert again == folder and "base model found" in said
    tuned = {**CONFIG, "model": {**CONFIG["model"], "init": "base", "base": folder}}
    fine = lmcollapse.run(tuned, out_dir=tmp_path / "fine", progress=False).metrics
    scratch = lmcollapse.run(CONFIG, out_dir=tmp_path / "scratch", progress=False).metrics
    # One epoch on 80 verses from scratch leaves a char model near uniform; from a base pretrained on 400
    # other verses it starts far lower, in both generations.
    for t in range(2):
        assert fine[t]["heldout_nll"] < scratch[t]["heldout_nll"] - 0.3, (t, fine[t], scratch[t])
    lmcollapse.run({**tuned, "generations": 1}, out_dir=tmp_path / "parts", progress=False)
    assert lmcollapse.run(tuned, out_dir=tmp_path / "parts", progress=False).metrics == fine  # resumed: equal


def test_pretraining_says_how_far_it_has_got(tmp_path, monkeypatch):
    """A base trains for 10 to 20 minutes on 2 cores: pretrain reports its training steps as it goes (here on
    every step; by default at most every LOG_EVERY seconds), and the last line is the base's own."""
    from lmcollapse.running import base_model

    monkeypatch.setattr(base_model, "LOG_EVERY", 0.0)
    config = load_config({**CONFIG, "model": {**CONFIG["model"], "epochs": 2}})
    lines: list[str] = []
    base_model.pretrain(config, tmp_path / "bases", lambda: load_source(config), documents=200,
                        progress=lines.append)
    steps = [line for line in lines if "training steps done" in line]
    assert len(steps) >= 4 and steps[0].startswith("[lmcollapse] pretraining: 0 of ")
    total = int(steps[0].split(" of ")[1].split(" ")[0].replace(",", ""))
    done = [int(line.split("pretraining: ")[1].split(" ")[0].replace(",", "")) for line in steps]
    assert done == list(range(total))  # every step before the last (a finished fit says so in the next line)
    assert "at most" not in steps[0] and lines[-1].startswith("[lmcollapse] base model: ")
    quiet: list[str] = []
    base_model.step_lines(quiet.append, early_stop=True, every=3600)("fit", 5, 10)  # within the hour: no line
    base_model.step_lines(quiet.append, early_stop=True, every=0)("fit", 5, 10)
    assert quiet == [quiet[0]] and "5 of at most 10 training steps done" in quiet[0]


def test_a_base_that_does_not_fit_the_run_is_refused_in_one_line(tmp_path):
    folder, _ = _pretrained(tmp_path, documents=50)
    tuned = {**CONFIG, "model": {**CONFIG["model"], "init": "base", "base": folder}}
    with pytest.raises(LmcollapseError, match="pretrained for another seed"):
        load_config({**tuned, "seed": 1})
    with pytest.raises(LmcollapseError, match="its network .* is not this run's"):
        load_config({**tuned, "model": {**tuned["model"], "n_embd": 32}})
    with pytest.raises(LmcollapseError, match="its network .* is not this run's"):
        load_config({**tuned, "model": {**tuned["model"], "eos_loss": False}})  # a base ends as its run's do
    with pytest.raises(LmcollapseError, match="not a folder; name a base model's folder or a folder of bases"):
        load_config({**tuned, "model": {**tuned["model"], "base": str(tmp_path / "config.json")}})
    with pytest.raises(LmcollapseError, match="no base model there"):  # one base's name, mistyped
        load_config({**tuned, "model": {**tuned["model"], "base": folder + "x"}})
    # a folder of bases without this run's base is accepted: the run pretrains it when it starts
    assert load_config({**tuned, "model": {**tuned["model"], "base": str(tmp_path / "empty")}}).init == "base"
    with pytest.raises(LmcollapseError, match="model.init: base needs model.base"):
        load_config({**CONFIG, "model": {**CONFIG["model"], "init": "base"}})
    with pytest.raises(LmcollapseError, match="model.base applies with model.init: base"):
        load_config({**CONFIG, "model": {**CONFIG["model"], "base": folder}})
    with pytest.raises(LmcollapseError, match="model.init: does not apply to model 'ngram'"):
        load_config({"model": {"name": "ngram", "init": "base"}})
    assert load_config({**tuned, "model": {**tuned["model"], "lr": 0.001, "epochs": 2}}).init == "base"
    counted = cli("pretrain", "--out", tmp_path / "b", "--set", "model.name=ngram")
    assert counted.returncode == 2 and "pretrain a neural model" in counted.stderr, counted.stderr


def test_a_folder_of_bases_gives_each_seed_its_own_base_pretrained_when_first_needed(tmp_path):
    """model.base may name pretrain's --out: each run takes its own config's base there, and the first run
    that misses it pretrains it; a second seed gets a second base, a second run of a seed reuses its base."""
    lines = [f"verse {i}: and the {('lamb', 'lion', 'dove')[i % 3]} went up {i % 7} times" for i in range(260)]
    (tmp_path / "verses.txt").write_text("\n".join(lines))
    small = {**CONFIG, "generations": 1, "corpus": {"name": "files", "path": str(tmp_path / "verses.txt"),
                                                    "n_train": 60, "n_eval": 30}}  # 170 verses left over
    tuned = {**small, "model": {**small["model"], "init": "base", "base": str(tmp_path / "bases")}}
    lmcollapse.run(tuned, out_dir=tmp_path / "s0", progress=False)
    lmcollapse.run({**tuned, "seed": 1}, out_dir=tmp_path / "s1", progress=False)
    bases = sorted(p.name for p in (tmp_path / "bases").iterdir() if p.is_dir())
    assert len(bases) == 2 and all(b.startswith("base-") for b in bases)
    lmcollapse.run({**tuned, "paradigm": {"name": "mix", "real_fraction": 0.5}}, out_dir=tmp_path / "mix",
                   progress=False)
    assert sorted(p.name for p in (tmp_path / "bases").iterdir() if p.is_dir()) == bases  # the seed's base, reused
    capped = {**tuned, "model": {**tuned["model"], "base_documents": 40}}  # fewer documents: another base
    lmcollapse.run(capped, out_dir=tmp_path / "capped", progress=False)
    records = [json.loads((p / BASE_RECORD).read_text()) for p in (tmp_path / "bases").iterdir() if p.is_dir()]
    assert sorted(r["documents"] for r in records) == [40, 170, 170]
