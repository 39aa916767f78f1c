
import pytest

from lmcollapse.config import apply_overrides
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import load_config


def test_defaults_are_the_demo():
    c = load_config(None)
    assert (c.corpus.name, c.model.name, c.paradigm.name) == ("kjv", "ngram", "replace")


def test_yaml_toml_dict_and_overrides_agree(tmp_path):
    (tmp_path / "a.yaml").write_text("seed: 3\nmodel:\n  order: 3\n")
    (tmp_path / "a.toml").write_text("seed = 3\n[model]\norder = 3\n")
    from_yaml = load_config(tmp_path / "a.yaml")
    from_toml = load_config(tmp_path / "a.toml")
    from_dict = load_config({"seed": 3, "model": {"order": 3}})
    from_overrides = load_config(None, ["seed=3", "model.order=3"])
    assert from_yaml == from_toml == from_dict == from_overrides


def test_override_values_are_typed():
    c = load_config(None, ["corpus.probs=[0.5, 0.5]", "corpus.name=categorical", "corpus.doc_length=4",
                           "paradigm.name=accumulate", "paradigm.rate=0.25", "metrics=[heldout_nll]"])
    assert c.corpus.probs == [0.5, 0.5] and c.paradigm.rate == 0.25 and c.metrics == ["heldout_nll"]


@pytest.mark.parametrize("override, expected", [
    ("corpus.n_train=0", "corpus.n_train: input should be greater than or equal to 1 (got 0)"),
    ("model.order=abc", "model.order: input should be a valid integer"),
    ("corpus.nope=1", "corpus.nope: unknown key; allowed here: name, n_train"),
    ("nope=1", "nope: unknown key; allowed here: seed, generations"),
    ("model.name=bert", "model.name: unknown model 'bert'; choose one of: gpt, hf, ngram"),
    ("paradigm.name=keep", "paradigm.name: unknown paradigm 'keep'; choose one of: accumulate"),
    ("gates=[magic]", "gates[0]: unknown gate 'magic'"),
    ("metrics=[bleu]", "metrics: unknown metric 'bleu'"),
    ("sampler.top_p=1.5", "sampler.top_p: input should be less than or equal to 1"),
    ("paradigm.real_fraction=1", "paradigm.real_fraction: does not apply to paradigm 'replace' (only to mix)"),
])
def test_bad_values_give_one_line_naming_the_key(override, expected):
    with pytest.raises(LmcollapseError) as err:
        load_config(None, [override])
    message = str(err.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_malformed_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("seed: [1, 2\n")
    with pytest.raises(LmcollapseError, match="not valid YAML"):
        load_config(bad)
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(LmcollapseError, match="must hold a mapping"):
        load_config(tmp_path / "list.yaml")
    with pytest.raises(LmcollapseError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
    with pytest.raises(LmcollapseError, match="key.sub=value"):
        load_config(None, ["model.order"])


def test_override_does_not_mutate_input():
    data = {"model": {"order": 2}}
    out = apply_overrides(data, ["model.order=4"])
    assert data["model"]["order"] == 2 and out["model"]["order"] == 4


# ---- keys that do not apply are refused -------------------------------------------------------------------
@pytest.mark.parametrize("overrides, expected", [
    (["model.name=gpt", "model.order=3"], "model.order: does not apply to model 'gpt' (only to ngram)"),
    (["model.n_layer=4"], "model.n_layer: does not apply to model 'ngram' (only to gpt)"),
    (["model.name=hf", "model.n_head=4"], "model.n_head: does not apply to model 'hf' (only to gpt)"),
    (["model.block_size=64"], "model.block_size: does not apply to model 'ngram' (only to gpt, hf)"),
    (["corpus.name=markov", "corpus.unit=paragraph"], "corpus.unit: does not apply to corpus 'markov' (only to files)"),
    (["corpus.probs=[0.5,0.5]"], "corpus.probs: does not apply to corpus 'kjv' (only to categorical)"),
    (["corpus.name=bible"], "corpus.name: unknown corpus 'bible'; choose one of: categorical, files, kjv, markov"),
])
def test_a_key_of_another_component_is_a_one_line_error(overrides, expected):
    with pytest.raises(LmcollapseError) as err:
        load_config(None, overrides)
    assert str(err.value).startswith(expected) and "\n" not in str(err.value), str(err.value)


def test_each_default_is_written_once():
    from lmcollapse.models.hf import HFModel
    from lmcollapse.models.gpt import GPTModel
    from lmcollapse.models.ngram import NGramModel
    from lmcollapse.models.decoding import Sampler

    config = load_config(None)
    assert NGramModel().smoothing == config.model.smoothing and NGramModel().order == config.model.order
    assert Sampler().max_tokens == config.sampler.max_tokens
    gpt = load_config(None, ["model.name=gpt"]).model
    assert GPTModel().block_size == gpt.block_size and GPTModel().lr == gpt.lr
    assert HFModel().config.hf_config == load_config(None, ["model.name=hf"]).model.hf_config
