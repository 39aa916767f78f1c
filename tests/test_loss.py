"""Truncated cross-entropy (`model.loss: tce`, ForTIFAI): the tokens left out of the loss, the mean over
the rest, what it does to a trained model, and the one-line refusals."""
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lmcollapse.config import GPTConfig  # noqa: E402
from lmcollapse.models.loss import finish_batch, summed_loss  # noqa: E402
from lmcollapse.models.gpt import GPTModel  # noqa: E402

from helpers import cli  # noqa: E402
from test_gpt import TINY, learnable_corpus  # noqa: E402


def test_tokens_predicted_above_gamma_leave_the_loss_and_the_rest_are_averaged():
    """Four positions whose target probabilities are known: 0.995 (dropped at gamma 0.99), 0.5, 0.2, and
    one without a target. The loss is the mean cross-entropy of the two kept; the dropped row gets no
    gradient."""
    probs = torch.tensor([[0.995, 0.004, 0.001], [0.5, 0.3, 0.2], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4]])
    logits = probs.log().requires_grad_()  # softmax(log p) = p
    y = torch.tensor([0, 0, 0, -100])
    loss, kept = summed_loss(torch, logits, y, 3, "tce", 0.99)
    assert kept == 2
    loss.backward()
    weight = torch.nn.Parameter(torch.zeros(1))
    weight.grad = logits.grad.sum().reshape(1)  # any parameter's gradient is rescaled the same way
    assert finish_batch([weight], 3, kept)
    assert loss.item() * 3 / kept == pytest.approx((-math.log(0.5) - math.log(0.2)) / 2, rel=1e-6)
    assert torch.all(logits.grad[0] == 0) and torch.all(logits.grad[3] == 0)
    assert float(weight.grad) == pytest.approx(float(logits.grad.sum()) * 3 / 2)
    plain, none_kept = summed_loss(torch, probs.log(), y, 3, "ce", 0.99)  # plain cross-entropy keeps all
    assert none_kept is None and float(plain) == pytest.approx(-(math.log(0.995) + math.log(0.5) + math.log(0.2)) / 3)
    assert not finish_batch([weight], 3, 0)  # every target confident: no step


def _training_target_probs(model, corpus) -> np.ndarray:
    _, logp = model.token_log_probs(corpus)
    return np.exp(logp)


@pytest.mark.slow  # 6 trainings, about 12 s; CI runs it
def test_a_model_trained_with_tce_stops_sharpening_at_gamma():
    """Documents counting up mod 5 are learnt to about 0.9 per token (the end token competes). With
    cross-entropy most training targets end above 0.9; with tce at gamma 0.8 none does, over 3 seeds: the
    loss no longer pushes a token once it is above gamma."""
    corpus = learnable_corpus()
    for seed in range(3):
        ce = _training_target_probs(GPTModel(GPTConfig(**{**TINY, "epochs": 20})).fit(corpus, seed=seed), corpus)
        tce = _training_target_probs(GPTModel(GPTConfig(**{**TINY, "epochs": 20}, loss="tce", tce_gamma=0.8))
                                     .fit(corpus, seed=seed), corpus)
        assert (ce > 0.9).mean() > 0.4, seed
        assert (tce > 0.9).mean() < 0.02 and 0.75 < np.median(tce) < 0.88, seed
        assert np.median(ce) > np.median(tce) + 0.04, seed


def test_the_fit_record_says_which_share_of_targets_tce_dropped():
    """The mitigation's activity (running/activity.py): at gamma 0.999999 a briefly trained model is never
    that confident, so tce masked nothing and is plain cross-entropy; at 0.3, after 8 epochs (when the
    model gives its targets about 0.6), it drops some (0.37 to 0.41 measured over 3 seeds). Plain
    cross-entropy records no share."""
    corpus = learnable_corpus()
    for seed in range(2):
        never = GPTModel(GPTConfig(**TINY, loss="tce", tce_gamma=0.999999)).fit(corpus, seed=seed).fit_record_
        low = GPTModel(GPTConfig(**{**TINY, "epochs": 8}, loss="tce", tce_gamma=0.3)).fit(corpus, seed=seed).fit_record_
        plain = GPTModel(GPTConfig(**TINY)).fit(corpus, seed=seed).fit_record_
        assert never.masked_share == 0.0 and 0.2 < low.masked_share < 0.6, (seed, low.masked_share)
        assert plain.masked_share is None and plain.epoch_losses == pytest.approx(never.epoch_losses, rel=1e-5)


def test_tce_refusals_are_one_line():
    on_ngram = cli("validate", "--set", "model.loss=tce")  # as a user meets it
    assert on_ngram.returncode == 2 and on_ngram.stderr.count("\n") == 1
    assert "model.loss: does not apply to model 'ngram'" in on_ngram.stderr
    from lmcollapse.errors import LmcollapseError
    from lmcollapse.running.parts import load_config

    with pytest.raises(LmcollapseError, match="model.tce_gamma applies with model.loss: tce"):
        load_config(None, ["model.name=gpt", "model.tce_gamma=0.9"])
    with pytest.raises(LmcollapseError, match="model.tce_gamma.*less than 1"):
        load_config(None, ["model.name=gpt", "model.loss=tce", "model.tce_gamma=1"])
    assert load_config(None, ["model.name=gpt", "model.loss=tce"]).model.tce_gamma == 0.99


def test_tce_calibrated_to_a_masked_share_of_generation_0s_own_samples(tmp_path):
    """model.tce_masked_share: generation 0 trains with cross-entropy (the same M_0 as the row without tce), and
    from generation 1 tce_gamma is the probability above which M_0 puts that share of its samples' tokens."""
    import lmcollapse
    from lmcollapse.calibration import threshold_for_share

    base = {"seed": 0, "generations": 2, "ci_rounds": 0, "metrics": ["heldout_ppl"], "save_models": True,
            "corpus": {"name": "markov", "vocab_size": 8, "doc_length": 10, "n_train": 200, "n_eval": 100},
            "model": {"name": "gpt", "n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16, "epochs": 3}}
    plain = lmcollapse.run(base, out_dir=tmp_path / "ce", progress=False)
    gammas = {}
    for share in (0.1, 0.5):
        run = lmcollapse.run({**base, "model": {**base["model"], "loss": "tce", "tce_masked_share": share,
                                                "tce_mean": "all"}}, out_dir=tmp_path / f"tce{share}", progress=False)
        assert run.metrics[0]["heldout_ppl"] == plain.metrics[0]["heldout_ppl"]  # the same M_0: a paired row
        assert run.manifest(0)["calibrated"] == {} and "masked_token_share" not in run.manifest(0)["activity"]
        gamma = run.manifest(1)["calibrated"]["model.tce_gamma"]
        m0 = run.model(0)
        _, logp = m0.token_log_probs(run.samples(0))
        assert gamma == threshold_for_share(np.exp(logp), share)
        assert abs((np.exp(logp) > gamma).mean() - share) < 0.02  # the rule, on M_0's samples
        assert run.manifest(1)["activity"]["masked_token_share"] > 0
        gammas[share] = gamma
    assert gammas[0.5] < gammas[0.1]  # masking more means a lower cut
