"""The neural backends (gpt, hf) beyond the shared contract: scoring details, the KV-cached decoder, and a
real collapse run on kjv."""
import contextlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import lmcollapse  # noqa: E402
from lmcollapse.corpora.corpus import Corpus  # noqa: E402
from lmcollapse.errors import LmcollapseError  # noqa: E402
from lmcollapse.models.gpt import GPTModel  # noqa: E402
from lmcollapse.config import GPTConfig, HFConfig, TokenizerConfig

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 8, "epochs": 3, "lr": 3e-3}
TINY_HF = {"hf_config": "tinystories-1m", "block_size": 8, "epochs": 3, "lr": 3e-3}


def learnable_corpus() -> Corpus:
    rng = np.random.default_rng(1)  # documents counting upwards mod 5 from a random start
    docs = [((rng.integers(0, 5) + np.arange(rng.integers(1, 20))) % 5).tolist() for _ in range(80)]
    return Corpus.from_documents(docs, vocab_size=6, eos_id=5)


@pytest.fixture(scope="module", params=["gpt", "hf"])
def model_and_data(request):
    corpus = learnable_corpus()
    if request.param == "hf":
        pytest.importorskip("transformers")
        from lmcollapse.models.hf import HFModel

        return HFModel(HFConfig(**TINY_HF)).fit(corpus, seed=0), corpus
    return GPTModel(GPTConfig(**TINY)).fit(corpus, seed=0), corpus


def test_log_prob_is_the_chain_of_next_token_probs_for_short_documents(model_and_data):
    model, _ = model_and_data
    doc = Corpus.from_documents([[1, 2, 3]], vocab_size=6, eos_id=5)
    seq = [1, 2, 3, 5]
    expected = sum(np.log(model.next_token_probs(seq[:k])[seq[k]]) for k in range(len(seq)))
    assert model.log_prob(doc)[0] == pytest.approx(expected, abs=1e-4)


def test_long_documents_score_every_symbol_once_with_sliding_windows(model_and_data):
    model, corpus = model_and_data
    long = corpus.take(np.flatnonzero(corpus.lengths > model.block_size))
    assert len(long) > 5
    doc, logp = model.token_log_probs(long)
    assert np.array_equal(np.bincount(doc, minlength=len(long)), long.lengths + 1)
    assert np.isfinite(logp).all() and (logp < 0).all()


def test_training_reduces_loss_and_is_deterministic():
    corpus = learnable_corpus()
    model = GPTModel(GPTConfig(**TINY)).fit(corpus, seed=0)
    untrained = GPTModel(GPTConfig(**{**TINY, "epochs": 1, "lr": 1e-9})).fit(corpus, seed=0)
    assert model.log_prob(corpus).sum() > untrained.log_prob(corpus).sum() + 0.1 * corpus.n_tokens
    again = GPTModel(GPTConfig(**TINY)).fit(corpus, seed=0)
    np.testing.assert_array_equal(again.log_prob(corpus), model.log_prob(corpus))


def test_hf_config_errors_are_one_line(tmp_path):
    pytest.importorskip("transformers")
    from lmcollapse.models.hf import HFModel

    with pytest.raises(LmcollapseError, match="neither a preset"):
        HFModel(HFConfig(hf_config="tinystories-9b")).fit(learnable_corpus())
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(LmcollapseError, match="cannot read a transformers config"):
        HFModel(HFConfig(hf_config=str(tmp_path))).fit(learnable_corpus())


def test_three_generations_of_replace_on_kjv_collapse(tmp_path):
    config = {"generations": 3, "corpus": {"n_train": 300, "n_eval": 100}, "tokenizer": {"name": "char"},
              "model": {"name": "gpt", "n_layer": 1, "n_head": 2, "n_embd": 32, "block_size": 64, "epochs": 2,
                        "lr": 3e-3, "batch_size": 32},
              "sampler": {"max_tokens": 63}}
    run = lmcollapse.run(config, out_dir=tmp_path / "run")
    ppl = [row["heldout_ppl"] for row in run.metrics]
    assert len(ppl) == 3 and all(np.isfinite(ppl))
    assert ppl[2] > ppl[0]  # trained on its own output, the model drifts away from real text
    assert run.corpus(1).real_fraction() == 0.0
    assert isinstance(run.model(2), GPTModel)


def test_sampled_first_two_tokens_follow_the_model(model_and_data):
    """Chi-square fit of (first, second) symbols against next_token_probs: checks the KV-cached decoder
    and the inverse-CDF draw together."""
    model, _ = model_and_data
    n = 20000
    sample = model.sample(n, seed=3)
    lengths = sample.lengths
    first = np.where(lengths > 0, sample.tokens[np.minimum(sample.offsets[:-1], sample.n_tokens - 1)], 5)
    second = np.where(lengths > 1, sample.tokens[np.minimum(sample.offsets[:-1] + 1, sample.n_tokens - 1)], 5)
    p_first = model.next_token_probs([])
    observed, expected = [], []
    for a in range(6):
        if a == 5:
            observed.append((first == 5).sum())
            expected.append(n * p_first[5])
            continue
        p_second = model.next_token_probs([a])
        for b in range(6):
            observed.append(((first == a) & (lengths > 0) & (second == b)).sum())
            expected.append(n * p_first[a] * p_second[b])
    observed, expected = np.array(observed, float), np.array(expected)
    used = expected > 5  # chi-square needs expected counts of at least ~5
    chi2 = (((observed - expected) ** 2)[used] / expected[used]).sum()
    dof = used.sum() - 1
    assert chi2 < dof + 6 * np.sqrt(2 * dof), (chi2, dof)


def _tiny_checkpoint(directory):
    """A GPT-Neo checkpoint with its own byte-level BPE tokenizer.json, as save_pretrained writes them."""
    transformers = pytest.importorskip("transformers")
    from lmcollapse.tokenizers.bpe import BPETokenizer

    texts = [f"In the beginning {i} was the word and the word was {i % 7}" for i in range(200)]
    bpe = BPETokenizer(TokenizerConfig(name="bpe", vocab_size=300)).fit(texts)
    bpe.hf_.add_special_tokens(["<|endoftext|>"])
    bpe.hf_.save(str(directory / "tokenizer.json"))
    config = transformers.GPTNeoConfig(vocab_size=bpe.hf_.get_vocab_size(), hidden_size=16, num_layers=2,
                                       num_heads=2, attention_types=[[["global", "local"], 1]], window_size=8,
                                       max_position_embeddings=32)
    torch.manual_seed(0)
    transformers.GPTNeoForCausalLM(config).save_pretrained(str(directory))
    return bpe.hf_


def test_hf_checkpoint_starts_from_the_checkpoints_weights(tmp_path):
    transformers = pytest.importorskip("transformers")
    from lmcollapse.models.hf import HFModel

    hf_tok = _tiny_checkpoint(tmp_path)
    vocab = hf_tok.get_vocab_size()
    model = HFModel(HFConfig(hf_checkpoint=str(tmp_path), block_size=16))
    model.vocab_size_ = vocab
    net = model._build_net()
    assert net.model.get_input_embeddings().num_embeddings == vocab + 1  # one new row: BOS
    reference = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path))
    ids = torch.tensor([hf_tok.encode("the word was 3").ids])
    with torch.no_grad():
        ours, theirs = net(ids)[..., :vocab], reference(ids).logits  # (1, T, V) each
    torch.testing.assert_close(ours, theirs)


def test_run_fine_tunes_a_checkpoint_with_its_own_tokenizer(tmp_path):
    hf_tok = _tiny_checkpoint(tmp_path)
    config = {"generations": 2, "corpus": {"n_train": 60, "n_eval": 20},
              "tokenizer": {"name": "pretrained", "path": str(tmp_path)},
              "model": {"name": "hf", "hf_checkpoint": str(tmp_path), "block_size": 32, "epochs": 1},
              "sampler": {"max_tokens": 20}}
    run = lmcollapse.run(config, out_dir=tmp_path / "run")
    assert len(run.metrics) == 2 and all(np.isfinite(r["heldout_ppl"]) for r in run.metrics)
    real = run.corpus(0)
    first = run.tokenizer().decode(real.doc(0))
    assert np.array_equal(real.doc(0), hf_tok.encode(first).ids)  # the checkpoint's token ids, not new ones
    assert real.eos_id == hf_tok.token_to_id("<|endoftext|>")
    # 0.5's spelling of the same regime: model.init base with the checkpoint as model.base, same numbers
    base = {**config, "model": {"name": "hf", "init": "base", "base": str(tmp_path), "block_size": 32, "epochs": 1}}
    assert lmcollapse.run(base, out_dir=tmp_path / "base-run").metrics == run.metrics
    with pytest.raises(LmcollapseError, match="hf_checkpoint is the old spelling"):
        lmcollapse.load_config({**base, "model": {**base["model"], "hf_checkpoint": str(tmp_path)}})
    with pytest.raises(LmcollapseError, match="is a transformers checkpoint: it fits model.name=hf"):
        lmcollapse.load_config({**config, "model": {"name": "gpt", "init": "base", "base": str(tmp_path)}})


def test_hf_checkpoint_errors_are_one_line(tmp_path):
    pytest.importorskip("transformers")
    from lmcollapse.models.hf import HFModel

    with pytest.raises(LmcollapseError, match="not a checkpoint directory"):
        HFModel(HFConfig(hf_checkpoint=str(tmp_path))).fit(learnable_corpus())
    _tiny_checkpoint(tmp_path)
    model = HFModel(HFConfig(hf_checkpoint=str(tmp_path), block_size=64))
    with pytest.raises(LmcollapseError, match="exceeds the checkpoint's 32 positions"):
        model.fit(learnable_corpus())
    big = Corpus.from_documents([[1, 2]], vocab_size=5000, eos_id=1)
    with pytest.raises(LmcollapseError, match="use the checkpoint's own tokenizer"):
        HFModel(HFConfig(hf_checkpoint=str(tmp_path), block_size=16)).fit(big)


def test_packed_training_batches_give_the_padded_loss_and_gradient():
    corpus = learnable_corpus()
    model = GPTModel(GPTConfig(**TINY))
    model.vocab_size_ = corpus.vocab_size
    model.net_ = model._build_net()
    windows = [w for w, _ in model._windows(model._sequences(corpus), stride=model.block_size)][:24]
    results = []
    from lmcollapse.models.neural.rows import padded_rows

    for rows in (model._batch_rows(windows), padded_rows(windows)):
        model.net_.zero_grad()
        logits, y = model._forward_rows(rows, torch.device("cpu"))
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=-100)
        loss.backward()
        results.append((loss.item(), [p.grad.clone() for p in model.net_.parameters()], logits.numel()))
    (packed, packed_grads, packed_size), (padded, padded_grads, padded_size) = results
    assert packed == pytest.approx(padded, rel=1e-6)
    for a, b in zip(packed_grads, padded_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
    assert packed_size < 0.8 * padded_size  # fewer positions computed


def test_dropping_finished_rows_does_not_change_the_samples(model_and_data, monkeypatch):
    model, corpus = model_and_data
    from lmcollapse.models.neural import sampling as neural

    compacted = model.sample(300, seed=5)
    monkeypatch.setattr(neural, "DROP_FINISHED_ROWS", False)
    full = model.sample(300, seed=5)
    assert np.array_equal(compacted.lengths, full.lengths) and np.array_equal(compacted.tokens, full.tokens)
    assert compacted.lengths.std() > 1  # documents did end at different steps, so rows were dropped


def test_position_probs_equal_next_token_probs_of_the_prefix(model_and_data):
    model, corpus = model_and_data
    short = corpus.take(np.flatnonzero(corpus.lengths < model.block_size - 1)[:6])
    doc = np.repeat(np.arange(len(short)), short.lengths)
    pos = np.concatenate([np.arange(n) for n in short.lengths])
    probs = model.position_probs(short, doc, pos)
    for row in range(0, len(doc), 3):
        prefix = short.doc(doc[row])[:pos[row]]
        np.testing.assert_allclose(probs[row], model.next_token_probs(prefix), atol=1e-5)
    long = corpus.take(np.flatnonzero(corpus.lengths > model.block_size)[:2])
    doc = np.repeat(np.arange(len(long)), long.lengths)
    pos = np.concatenate([np.arange(n) for n in long.lengths])
    probs = model.position_probs(long, doc, pos)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)  # every position, beyond the block too
    _, logp = model.token_log_probs(long)
    inside = np.concatenate([np.r_[np.ones(n, bool), False] for n in long.lengths])  # drop the end tokens
    targets = long.tokens.astype(np.int64)
    np.testing.assert_allclose(np.log(probs[np.arange(len(pos)), targets]), logp[inside], atol=1e-4)


def _batch_gradient(model, windows, memory_gb, monkeypatch):
    """The gradient of one training batch's loss as fit computes it, with the given memory budget; the
    forward passes it took and the positions they computed."""
    model.batch_memory_gb = memory_gb
    model.net_.zero_grad()
    passes = []
    forward = type(model)._forward_rows
    monkeypatch.setattr(model, "_forward_rows", lambda part, device: passes.append(part["y"].size) or
                        forward(model, part, device))
    stepped, *_ = model._batch_gradient(model._batch_rows(windows), torch.device("cpu"), contextlib.nullcontext())
    monkeypatch.undo()
    assert stepped
    return [p.grad.clone() for p in model.net_.parameters()], len(passes), sum(passes)


@pytest.mark.parametrize("name,loss", [("gpt", "ce"), ("hf", "ce"), ("gpt", "tce")])
def test_micro_batches_give_the_whole_batch_gradient(name, loss, monkeypatch):
    """A batch whose logits exceed batch_memory_gb is split; the accumulated gradient is the batch's (under
    truncated cross-entropy too, whose mean is over the kept tokens of the whole batch)."""
    corpus = learnable_corpus()
    if name == "hf":
        pytest.importorskip("transformers")
        from lmcollapse.models.hf import HFModel

        model = HFModel(HFConfig(**TINY_HF))
    elif loss == "tce":  # trained a little first, so that some targets are above gamma and some below
        model = GPTModel(GPTConfig(**TINY, loss="tce", tce_gamma=0.6)).fit(corpus, seed=0)
    else:
        model = GPTModel(GPTConfig(**TINY))
    model.vocab_size_ = corpus.vocab_size
    if loss == "ce":
        model.net_ = model._build_net()
    windows = [w for w, _ in model._windows(model._sequences(corpus), stride=model.block_size)][:24]
    whole, passes, whole_positions = _batch_gradient(model, windows, 2.0, monkeypatch)
    assert passes == 1
    from lmcollapse.models.neural.training import TRAINING_COPIES

    one_row = TRAINING_COPIES * 8 * (corpus.vocab_size + 1) * 4 / 2**30  # one full row's training pass
    split, passes, split_positions = _batch_gradient(model, windows, one_row, monkeypatch)
    n_rows = len(model._batch_rows(windows)["y"])
    assert n_rows > 5 and n_rows // 2 <= passes <= n_rows  # short rows share a pass
    for a, b in zip(split, whole):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)
    if name == "hf":  # padded rows of mixed lengths: grouped longest first, each group cut to its longest
        assert split_positions < 0.9 * whole_positions


def test_memory_budget_bounds_scoring_and_sampling_passes(model_and_data, monkeypatch):
    """Every forward pass takes at most batch_memory_gb of logits or KV cache (at least one row); neither
    the scores nor the samples depend on how windows or documents are grouped."""
    model, corpus = model_and_data
    widths = []
    original = type(model.net_).forward

    def recording(net, idx, *args, **kwargs):
        widths.append(idx.shape[0])
        return original(net, idx, *args, **kwargs)

    before, samples = model.log_prob(corpus), model.sample(50, seed=0)
    monkeypatch.setattr(model, "batch_memory_gb", 3 * 4 * model.block_size * (corpus.vocab_size + 1) * 4 / 2**30)
    monkeypatch.setattr(type(model.net_), "forward", recording)
    np.testing.assert_allclose(model.log_prob(corpus), before, rtol=1e-5)
    assert max(widths) == 3 < len(corpus)  # 3 windows' logits fit the budget
    widths.clear()
    per_row = max(model.net_.cache_elements_per_row(), 4 * (corpus.vocab_size + 1)) * 4  # bytes
    monkeypatch.setattr(model, "batch_memory_gb", 5 * per_row / 2**30)
    split = model.sample(50, seed=0)
    assert max(widths) == 5  # documents decoded 5 at a time
    assert np.array_equal(split.lengths, samples.lengths) and np.array_equal(split.tokens, samples.tokens)


def test_bf16_training_runs_the_mixed_precision_path_and_learns(monkeypatch):
    """precision=bf16 trains under bfloat16 autocast (what CUDA gets by default), here on the CPU: packed
    masks, attention and the loss work in it, and it learns about as well as float32. On the CPU attention
    is two bfloat16 matmuls around a softmax of the bfloat16 scores (the fused bfloat16 kernel is slow there;
    the softmax kernel sums in float32, as the attention test below checks)."""
    corpus = learnable_corpus()
    fp32 = GPTModel(GPTConfig(**TINY, precision="fp32")).fit(corpus, seed=0)
    autocasts, attention = [], []
    original_autocast, original_softmax = torch.autocast.__init__, torch.Tensor.softmax

    def spy_autocast(self, device_type, *args, **kwargs):
        autocasts.append((device_type, kwargs.get("dtype")))
        original_autocast(self, device_type, *args, **kwargs)

    def spy_softmax(self, *args, **kwargs):
        if self.dim() == 4:  # (B, H, T, T) attention weights
            attention.append(self.dtype)
        return original_softmax(self, *args, **kwargs)

    monkeypatch.setattr(torch.autocast, "__init__", spy_autocast)
    monkeypatch.setattr(torch.Tensor, "softmax", spy_softmax)
    bf16 = GPTModel(GPTConfig(**TINY, precision="bf16")).fit(corpus, seed=0)
    monkeypatch.undo()
    assert autocasts == [("cpu", torch.bfloat16)]  # training's autocast, with no float32 section inside
    assert attention and set(attention) == {torch.bfloat16}  # the softmax between the bfloat16 matmuls, no casts
    nll32 = -fp32.log_prob(corpus).sum() / (corpus.n_tokens + len(corpus))
    nll16 = -bf16.log_prob(corpus).sum() / (corpus.n_tokens + len(corpus))
    assert nll16 != nll32  # bfloat16 arithmetic did take part
    assert nll16 == pytest.approx(nll32, rel=0.05) and nll16 < np.log(6) - 0.3  # learnt well beyond uniform


def test_auto_precision_trains_in_bfloat16_where_it_pays(monkeypatch):
    """precision=auto: bfloat16 on CUDA always; on a CPU only with bfloat16 matrix units and a model at least
    BF16_MIN_WIDTH wide (narrower ones train slower in it: benchmarks/gpt_precision.py)."""
    import lmcollapse.models.neural.device as neural

    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    for units in (True, False):
        monkeypatch.setattr(neural, "cpu_has_bf16_units", lambda units=units: units)
        assert neural.bf16_pays(cuda, 16) and neural.bf16_pays(cuda, None)
        assert neural.bf16_pays(cpu, neural.BF16_MIN_WIDTH) == units
        assert not neural.bf16_pays(cpu, neural.BF16_MIN_WIDTH - 1) and not neural.bf16_pays(cpu, None)
    monkeypatch.setattr(neural, "cpu_has_bf16_units", lambda: True)
    wide = GPTModel(GPTConfig(**{**TINY, "n_embd": neural.BF16_MIN_WIDTH}))
    narrow = GPTModel(GPTConfig(**TINY))
    assert isinstance(wide._autocast(cpu), torch.autocast) and isinstance(narrow._autocast(cpu), contextlib.nullcontext)
    assert isinstance(GPTModel(GPTConfig(**TINY, precision="fp32"))._autocast(cuda), contextlib.nullcontext)


def test_attention_under_cpu_bfloat16_autocast_is_float32_attention_to_bfloat16_rounding():
    """Under CPU bfloat16 autocast attention is two bfloat16 matmuls around a softmax of the bfloat16 scores
    (the fused kernels train slower there: benchmarks/gpt_precision.py --attention). That softmax must sum in
    float32 (only its output rounded to bfloat16); the output must match float32 attention of the same
    projections to bfloat16 rounding, with the causal mask and with packed rows' block-diagonal mask, and
    gradients must flow."""
    from lmcollapse.models.neural.transformer import Architecture as Arch, CausalSelfAttention
    from lmcollapse.models.packing import attention_mask

    torch.manual_seed(0)
    scores = (torch.randn(4, 2, 128, 128) * 8).to(torch.bfloat16)  # (B, H, T, T) with a wide spread
    one_ulp = 2.0**-8  # bfloat16 keeps 8 significant bits: rounding moves a value in [0, 1] by at most this
    assert (scores.softmax(-1).float() - scores.float().softmax(-1)).abs().max() <= one_ulp
    layer = CausalSelfAttention(Arch(vocab_size=8, block_size=16, n_layer=1, n_head=2, n_embd=32, dropout=0.0))
    x = torch.randn(3, 10, 32, requires_grad=True)
    segments = torch.tensor([[0] * 4 + [1] * 6, [0] * 10, [0] * 3 + [1] * 3 + [2] * 4])  # (3, 10) documents
    outputs = []
    for mask in (None, attention_mask(segments)):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = layer(x, mask=mask)  # (3, 10, 32)
            q, k, v = layer.qkv(x).split(32, dim=2)
        q, k, v = (z.float().view(3, 10, 2, 16).transpose(1, 2) for z in (q, k, v))
        want = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            want = layer.proj(want.to(torch.bfloat16).transpose(1, 2).reshape(3, 10, 32))
        assert y.dtype == torch.bfloat16
        assert (y.float() - want.float()).abs().max() <= 0.02 * want.float().abs().max()
        outputs.append(y)
    assert (outputs[0][0, 4:] - outputs[1][0, 4:]).abs().max() > 0.1  # the second document saw only itself
    assert torch.equal(outputs[0][1], outputs[1][1])  # one document per row: the causal mask
    outputs[1].float().sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_precision_memory_and_shape_errors_are_one_line_from_the_config():
    """The model section is checked once, by the config; the backend is built from the checked section."""
    pass
    from lmcollapse.running.parts import load_config

    for key, value, message in [("precision", "fp16", "model.precision: input should be 'auto', 'fp32' or 'bf16'"),
                                ("batch_memory_gb", 0, "model.batch_memory_gb: input should be greater than 0"),
                                ("n_embd", 30, r"model.n_embd \(30\) must be a multiple of model.n_head \(4\)")]:
        with pytest.raises(LmcollapseError, match=message):
            load_config({"model": {"name": "gpt", "n_head": 4, key: value}})


def test_samples_depend_on_the_document_index_not_on_how_many_decode_together(model_and_data, monkeypatch):
    """Random streams belong to fixed groups of documents; a pass may cover part of a group or several."""
    from lmcollapse.models.neural import sampling as neural

    model, _ = model_and_data
    monkeypatch.setattr(neural, "SAMPLE_GROUP", 8)
    wide = model.sample(40, seed=3)  # one pass over five groups
    monkeypatch.setattr(neural, "DECODE_ROWS", 3)  # passes that straddle group boundaries
    narrow = model.sample(40, seed=3)
    assert np.array_equal(wide.lengths, narrow.lengths) and np.array_equal(wide.tokens, narrow.tokens)
    first_docs = [wide.doc(i).tolist() for i in range(0, 40, 8)]  # the first document of each group
    assert len({tuple(d) for d in first_docs}) > 1  # groups do not share one stream


def test_long_stages_report_how_far_they_have_got(tmp_path, capsys, monkeypatch):
    """Without a terminal, training steps and sampled documents appear in log lines within a generation."""
    from lmcollapse.running import progress

    monkeypatch.setattr(progress, "LOG_EVERY", 0.0)
    config = {"generations": 1, "corpus": {"n_train": 100, "n_eval": 20}, "tokenizer": {"name": "char"},
              "model": {"name": "gpt", **TINY, "block_size": 16, "epochs": 2, "batch_size": 10},
              "sampler": {"max_tokens": 15}, "metrics": ["heldout_ppl"], "ci_rounds": 0}
    monkeypatch.setattr("lmcollapse.models.neural.sampling.DECODE_ROWS", 40)
    lmcollapse.run(config, out_dir=tmp_path / "run", progress=True)
    lines = capsys.readouterr().err.splitlines()
    steps = [line for line in lines if ": fit " in line]
    # 2 epochs of at least 10 batches (100 verses, 10 windows a batch), one line before each step
    assert len(steps) >= 20
    assert steps[-1].startswith(f"[lmcollapse] generation 0 (1 of 1): fit {len(steps) - 1}/{len(steps)}")
    sampled = [line.split(": sample ")[1].split(" ")[0] for line in lines if ": sample " in line]
    assert sampled == ["0/100", "40/100", "80/100"]  # before each pass of 40 documents


WARM = {"generations": 4, "corpus": {"n_train": 150, "n_eval": 30}, "tokenizer": {"name": "char"},
        "model": {"name": "gpt", **TINY, "block_size": 32, "epochs": 1, "warm_start": True},
        "sampler": {"max_tokens": 31}, "metrics": ["heldout_ppl", "distinct_2"], "ci_rounds": 0}


def _max_weight_change(run, t):
    before, after = run.model(t - 1).net_.state_dict(), run.model(t).net_.state_dict()
    return max(float((after[k] - before[k]).abs().max()) for k in before)


def test_warm_start_continues_from_the_previous_generations_weights(tmp_path):
    still = {**WARM, "generations": 2, "model": {**WARM["model"], "lr": 1e-9}}  # training barely moves a weight
    warm = lmcollapse.run(still, out_dir=tmp_path / "warm")
    cold = lmcollapse.run({**still, "model": {**still["model"], "warm_start": False}}, out_dir=tmp_path / "cold")
    assert _max_weight_change(warm, 1) < 1e-5  # generation 1 began where generation 0 ended
    assert _max_weight_change(cold, 1) > 1e-2  # a fresh initialisation lands elsewhere


def test_a_resumed_warm_started_run_equals_an_uninterrupted_one(tmp_path):
    whole = lmcollapse.run(WARM, out_dir=tmp_path / "whole")
    lmcollapse.run(WARM, out_dir=tmp_path / "parts", overrides=["generations=2"])
    resumed = lmcollapse.run(WARM, out_dir=tmp_path / "parts")  # generations 2 and 3 start from saved weights
    assert resumed.metrics == whole.metrics
    assert np.array_equal(resumed.samples(3).tokens, whole.samples(3).tokens)


def test_warm_start_refusals_are_one_line():
    from lmcollapse.running.parts import load_config
    pass

    with pytest.raises(LmcollapseError, match="needs save_models: true"):
        load_config({**WARM, "save_models": False})
    with pytest.raises(LmcollapseError, match="warm starts apply to gpt and hf"):
        load_config({"model": {"name": "ngram", "warm_start": True}})


def _scored_entropy_sums(model, corpus: Corpus) -> np.ndarray:
    doc, _, entropy = model._score(corpus)  # per predicted position, as context_entropies gives them
    return np.bincount(doc, weights=entropy, minlength=len(corpus))


@pytest.mark.parametrize("sampler", [{"max_tokens": 4}, {"temperature": 0.7, "max_tokens": 20}])
def test_sampling_records_each_documents_entropy_as_scoring_would_count_it(model_and_data, sampler):
    """model_entropy reads the entropies the sampler computed instead of scoring the samples again (P20): per
    document they must be the sum scoring gives, over its tokens and its end, the model's own law (not the
    sampler's reshaped one), capped documents (whose end law takes one more decoding step; at temperature
    0.7 and block 8 the cap is the block's last position) and ended ones alike."""
    from lmcollapse.config import SamplerConfig
    from lmcollapse.models.decoding import Sampler

    model, _ = model_and_data
    samples = model.sample(300, sampler=Sampler(SamplerConfig(**sampler)), seed=3)
    cap = min(sampler["max_tokens"], model.block_size - 1)
    assert (samples.lengths == cap).sum() > 20 and (samples.lengths < cap).sum() > 20  # both kinds are there
    assert samples.entropy_model == id(model)
    np.testing.assert_allclose(samples.entropy_sums, _scored_entropy_sums(model, samples), rtol=1e-5, atol=1e-5)
    # kept by take(); a corpus built anew (as a gate's edits are) has none, and a metric then scores it
    part = samples.take(np.arange(0, 300, 7))
    np.testing.assert_array_equal(part.entropy_sums, samples.entropy_sums[::7])
    rebuilt = Corpus.from_documents([samples.doc(i) for i in range(10)], vocab_size=6, eos_id=5)
    assert rebuilt.entropy_sums is None


def test_samples_entropy_uses_the_recorded_sums_only_for_the_model_that_wrote_them(model_and_data, monkeypatch):
    from lmcollapse.metrics.base import GenerationView

    model, corpus = model_and_data
    samples = model.sample(200, seed=4)
    scored = float(model.context_entropies(samples).mean())

    def view(of_model):
        return GenerationView(0, of_model, corpus, corpus, samples, samples, corpus, corpus)

    with monkeypatch.context() as patch:
        patch.setattr(type(model), "context_entropies", lambda self, c: pytest.fail("scored again"))
        assert view(model).samples_entropy == pytest.approx(scored, rel=1e-6)
    other = GPTModel(GPTConfig(**TINY)).fit(corpus, seed=1)  # another model's law: its own scoring
    assert view(other).samples_entropy == pytest.approx(float(other.context_entropies(samples).mean()), rel=1e-12)


def ends_after_four() -> Corpus:
    """Documents of exactly 4 tokens counting upwards mod 5: where a document ends is known from its position."""
    rng = np.random.default_rng(1)
    return Corpus.from_documents([((rng.integers(0, 5) + np.arange(4)) % 5).tolist() for _ in range(80)],
                                 vocab_size=6, eos_id=5)


def test_eos_loss_false_trains_no_end_targets_and_the_model_stops_predicting_ends(monkeypatch):
    """model.eos_loss: false (the paper's collator) leaves every end-token target out of training: the
    model learns the documents' tokens as well as with end tokens in the loss, but not where they end."""
    corpus = ends_after_four()
    end_logp, token_logp, trained = {}, {}, {}
    for eos_loss in (True, False):
        model = GPTModel(GPTConfig(**{**TINY, "epochs": 20, "lr": 1e-2}, eos_loss=eos_loss))
        counted, gradient = [], model._batch_gradient
        monkeypatch.setattr(model, "_batch_gradient", lambda rows, device, autocast: (
            counted.append(int((rows["y"] != -100).sum())) or gradient(rows, device, autocast)))
        model.fit(corpus, seed=0)
        trained[eos_loss] = sum(counted)
        end_logp[eos_loss] = np.mean([np.log(model.next_token_probs(corpus.doc(i))[5]) for i in range(len(corpus))])
        _, logp = model.token_log_probs(corpus)  # each document's 4 tokens, then its end
        token_logp[eos_loss] = logp.reshape(len(corpus), 5)[:, :4].mean()
    assert trained[True] == 20 * (corpus.n_tokens + len(corpus)) and trained[False] == 20 * corpus.n_tokens
    assert end_logp[True] > -0.5  # with end targets the model ends after the fourth token (p > 0.6)
    assert end_logp[False] < end_logp[True] - 4  # without, it gives the end there under 1/50 of that
    assert token_logp[False] == pytest.approx(token_logp[True], abs=0.1)  # the rest is learnt alike


@pytest.mark.parametrize("name", ["gpt", "hf"])
def test_eos_loss_false_leaves_end_targets_out_of_packed_and_padded_rows(name):
    corpus = learnable_corpus()
    if name == "hf":
        pytest.importorskip("transformers")
        from lmcollapse.models.hf import HFModel

        model = HFModel(HFConfig(**TINY_HF, eos_loss=False))
    else:
        model = GPTModel(GPTConfig(**TINY, eos_loss=False))
    model.vocab_size_, model.eos_id_ = corpus.vocab_size, corpus.eos_id
    windows = [w for w, _ in model._windows(model._sequences(corpus), stride=model.block_size)]
    y = model._batch_rows(windows)["y"]
    assert (y != -100).sum() == corpus.n_tokens and not (y == corpus.eos_id).any()  # every target but the ends
    empty = [np.array([corpus.vocab_size, corpus.eos_id])] * 3  # empty documents: BOS, then the end only
    stepped, loss, n_targets, _ = model._batch_gradient(model._batch_rows(empty), torch.device("cpu"),
                                                        contextlib.nullcontext())
    assert (stepped, loss, n_targets) == (False, 0.0, 0)  # nothing to learn: no step (not a 0/0 gradient)
    model.eos_loss = True
    assert (model._batch_rows(windows)["y"] == corpus.eos_id).sum() == len(corpus)


def test_eos_loss_false_without_end_tokens_is_a_one_line_error():
    fixed_length = Corpus.from_documents([[0, 1, 2, 3]] * 10, vocab_size=6)  # no end token
    with pytest.raises(LmcollapseError, match=r"^model.eos_loss: false needs a corpus with end tokens[^\n]*$"):
        GPTModel(GPTConfig(**TINY, eos_loss=False)).fit(fixed_length)
    assert GPTModel(GPTConfig(**TINY)).fit(fixed_length).fit_record_.epochs_run == 3  # eos_loss true: trains


def test_an_isa_cap_below_bfloat16_units_makes_auto_precision_float32(monkeypatch):
    """oneDNN obeys ONEDNN_MAX_CPU_ISA: capped at AVX2 (or AVX512_CORE) a CPU's bfloat16 units are out of reach
    and bfloat16 is emulated, slower than float32, so `precision: auto` must not choose it; AVX512_CORE_BF16
    keeps AVX-512 BF16 but not AMX."""
    import lmcollapse.models.neural.device as neural

    monkeypatch.setattr(neural.Path, "read_text", lambda self: "flags : avx2 avx512f avx512_bf16 amx_bf16\n")
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    for cap, units in ((None, ["amx_bf16", "avx512_bf16"]), ("AVX2", []), ("avx512_core", []),
                       ("AVX512_CORE_BF16", ["avx512_bf16"]), ("AVX512_CORE_AMX", ["amx_bf16", "avx512_bf16"]),
                       ("ALL", ["amx_bf16", "avx512_bf16"])):
        if cap is None:
            monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
        else:
            monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
        assert neural.bf16_units() == units, cap
        assert neural.bf16_pays(torch.device("cpu"), neural.BF16_MIN_WIDTH) == bool(units)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    assert "leaves out amx_bf16, avx512_bf16" in neural.cpu_description()
    assert "precision auto is fp32" in neural.cpu_description()
