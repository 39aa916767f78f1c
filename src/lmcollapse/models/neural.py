"""Neural language models under the LanguageModel contract: training, sampling and scoring around a
network that a NetworkAdapter builds (models/gpt.py for `gpt`, a transformers model for `hf`).

Every document is fed as [BOS] + tokens (+ [EOS] when the corpus has an end token); BOS is an extra
input-only symbol, masked out of every output distribution. Documents longer than the block are trained
on in block-sized windows and scored with sliding windows of half a block stride, so every token is
predicted from at least half a block of context. Fixed-length corpora (no end token) sample lengths from
the training lengths, as the count model does.

Memory: with a GPT-2-sized vocabulary (50,257) and a block of 1,024 one window's logits alone take 200 MB,
so no forward pass may take a whole batch blindly. Every pass is sized so that what it holds (logit-sized
tensors, or the KV cache when sampling) stays within `batch_memory_gb`; a training batch larger than that
is split into micro-batches whose gradients add up to the whole batch's (gradient accumulation). The
sizes depend on the configuration only, never on the machine, so results do not change with hardware.
"""
from __future__ import annotations

import abc
import contextlib
import json
from pathlib import Path
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from ..config import Section
from ..corpus import SYNTHETIC, Corpus
from ..errors import LmcollapseError
from ..extras import require
from ..sampling import Sampler
from .base import MODELS, Capability, LanguageModel, ProgressCallback
from .loss import finish_batch, summed_loss
from .packing import IGNORE, attention_mask, pack_batch

# A training pass holds about this many logit-sized float32 tensors at its peak (logits, log-probabilities,
# their gradients, allocator slack): 5.8 measured by benchmarks/paper_scale_memory.py.
TRAINING_COPIES = 6
# Sampling: documents decoded together, memory permitting (wide batches make each step's matmuls efficient:
# 1,024 rows sample 1.6x faster per token than 256 for a small CPU model; a GPU wants them wider still),
# and documents per random stream (so that the draws do not depend on how many decode together).
DECODE_ROWS = 4096
SAMPLE_GROUP = 1024
# Drop finished documents from the decoding batch and its KV cache once DROP_WHEN_FINISHED of the rows it
# decodes are done. The draws do not depend on it (tests turn it off and compare); only the time does. A
# quarter sampled 4,096 KJV-like documents (width 256, 2 layers, one thread) about 5% faster than half did
# (18.7 s against 19.8 s; 19.7 against 20.6); an eighth gained no more, the extra cache copies eating what
# the finished rows spare; never dropping took 53 s (benchmarks/gpt_sampling_drop.py).
DROP_FINISHED_ROWS = True
DROP_WHEN_FINISHED = 0.25


def _torch():
    require(["torch"], "a neural model")
    import torch

    return torch


def pad_rows(rows: list[np.ndarray], value: int) -> np.ndarray:
    """(R, longest) int64: the rows side by side, each filled up with value."""
    out = np.full((len(rows), max(len(r) for r in rows)), value, dtype=np.int64)
    for i, r in enumerate(rows):
        out[i, :len(r)] = r
    return out


def by_length(lengths: np.ndarray, rows_per_batch: int):
    """Index arrays of batches of at most rows_per_batch rows, shortest rows first. A batch padded to its own
    longest row then computes little padding: scoring verses of 5 to 128 tokens in their corpus order padded
    most batches to near the longest verse, three times the arithmetic. Causal attention keeps a row's
    results independent of the padding, so the order changes nothing but the time."""
    order = np.argsort(lengths, kind="stable")
    for lo in range(0, len(order), rows_per_batch):
        yield order[lo:lo + rows_per_batch]


def packed_rows(windows: list[np.ndarray], block_size: int) -> dict[str, np.ndarray]:
    """Windows packed several to a row (models/packing.py): the same loss and gradient as padding each window
    to the longest, with less arithmetic."""
    x, y, positions, segments = pack_batch(windows, block_size)
    return {"x": x, "y": y, "positions": positions, "segments": segments}


def padded_rows(windows: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Each window padded to the longest: for networks that take no positions or mask (hf)."""
    batch = pad_rows(windows, IGNORE)
    return {"x": np.where(batch[:, :-1] == IGNORE, 0, batch[:, :-1]), "y": batch[:, 1:]}


class NeuralConfig(Section):
    """Training shared by the neural backends (the paper's optimiser: AdamW, betas (0.9, 0.95), constant
    learning rate)."""

    block_size: int = Field(128, ge=2, description="positions the model sees at once, the start token included")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout probability in training")
    epochs: int = Field(1, ge=1, description="passes over the generation's training set")
    batch_size: int = Field(32, ge=1, description="sequences per optimiser step (AdamW, betas 0.9/0.95)")
    lr: float = Field(5e-4, gt=0, description="learning rate (constant)")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay")
    device: str = Field("auto", description="auto (CUDA when available), cpu, cuda")
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="training: bf16 = bfloat16 autocast; "
                                                       "auto = bf16 on CUDA and, for models at least 128 wide, on a CPU with "
                                                       "bfloat16 matrix units (AMX, AVX-512 BF16); fp32 elsewhere")
    batch_memory_gb: float = Field(2.0, gt=0, description="about the most memory one forward pass may take; "
                                                          "larger batches are split")
    warm_start: bool = Field(False, description="each generation starts from the previous generation's weights "
                                                "(fresh optimiser) instead of a new initialisation")
    loss: Literal["ce", "tce"] = Field("ce", description="ce: cross-entropy; tce: truncated cross-entropy "
                                                         "(ForTIFAI), tokens predicted above tce_gamma left out")
    tce_gamma: float = Field(0.99, gt=0, lt=1, description="tce: a target token whose probability exceeds this "
                                                           "is dropped from the loss")

    @model_validator(mode="after")
    def _gamma_needs_tce(self):
        # (at its default it may stand anywhere: a stored config.yaml spells out every key)
        if self.loss != "tce" and self.tce_gamma != type(self).model_fields["tce_gamma"].default:
            raise ValueError("model.tce_gamma applies with model.loss: tce (truncated cross-entropy); set "
                             "model.loss=tce or drop tce_gamma")
        return self


class NetworkAdapter(abc.ABC):
    """Builds the network a NeuralLM trains. The network (a torch Module) takes net(idx (B, T)) -> logits
    (B, T, V+1), and for decoding net(idx, cache, start=step) with new_cache(batch, device),
    select_cache(cache, rows, filled) (the rows' first `filled` positions) and cache_elements_per_row()."""

    #: whether the network takes packed rows (positions and a block-diagonal mask); otherwise rows are padded
    packs_documents: ClassVar[bool]

    @abc.abstractmethod
    def build(self, n_symbols: int, block_size: int, dropout: float):
        """A freshly initialised network over n_symbols input symbols (the vocabulary plus BOS)."""


class GPTNetwork(NetworkAdapter):
    """models/gpt.py: packs documents with block-diagonal masks."""

    packs_documents = True

    def __init__(self, n_layer: int, n_head: int, n_embd: int):
        self.n_layer, self.n_head, self.n_embd = n_layer, n_head, n_embd

    def build(self, n_symbols: int, block_size: int, dropout: float):
        from .gpt import GPT
        from .gpt import Architecture

        return GPT(Architecture(n_symbols, block_size, self.n_layer, self.n_head, self.n_embd, dropout))


# From benchmarks/gpt_precision.py on this project's machine (an AMD EPYC with AVX-512 BF16, no AMX): bfloat16
# autocast trains a 4-layer GPT of width 128 about 1.4x and one of width 256 1.7x to 1.9x faster than float32.
# At width 64 the casts eat most of the gain (1.0x to 1.6x from run to run), and float32 there keeps the
# default gpt's documented numbers from moving on noisy runs.
BF16_MIN_WIDTH = 128


def cpu_has_bf16_units() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (AMX or AVX-512 BF16; Linux's cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def bf16_pays(device, width: int | None) -> bool:
    """What `precision: auto` trains in bfloat16: always on CUDA; on a CPU with bfloat16 matrix units, a
    model at least BF16_MIN_WIDTH wide."""
    if device.type == "cuda":
        return True
    return device.type == "cpu" and width is not None and width >= BF16_MIN_WIDTH and cpu_has_bf16_units()


class NeuralLM(LanguageModel):
    """The training loop, the KV-cached sampler and the scoring shared by the neural backends; what differs
    between them is the network, which self.network builds from the config section (network_of)."""

    capabilities = frozenset({Capability.WARM_START, Capability.HIDDEN_STATES})
    requires = ("torch",)

    def __init__(self, config=None):
        super().__init__(config)
        c = self.config  # checked by pydantic (config.py): ranges, precision names, n_embd % n_head
        self.network = self.network_of(c)
        self.block_size, self.dropout, self.epochs, self.batch_size = c.block_size, c.dropout, c.epochs, c.batch_size
        self.lr, self.weight_decay, self.device = c.lr, c.weight_decay, c.device
        self.precision, self.batch_memory_gb, self.warm_start = c.precision, c.batch_memory_gb, c.warm_start
        self.loss, self.tce_gamma = c.loss, c.tce_gamma
        self._report: ProgressCallback | None = None

    @staticmethod
    @abc.abstractmethod
    def network_of(config) -> NetworkAdapter:
        """The adapter that builds this backend's network from its config section."""

    @property
    def context_width(self) -> int:
        return self.block_size - 1  # BOS takes one of the block's positions

    @property
    def longest_sample(self) -> int:
        return self.block_size - 1

    # ---- helpers ---------------------------------------------------------------------------------
    def _device(self):
        torch = _torch()
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def _autocast(self, device):
        """Training's mixed precision: bfloat16 autocast where asked for, or under `auto` where it pays
        (bf16_pays); sampling and scoring stay in float32 either way."""
        torch = _torch()
        width = getattr(self.config, "n_embd", None)  # the hf backend's width is in its hf_config: fp32 on a CPU
        bf16 = self.precision == "bf16" or (self.precision == "auto" and bf16_pays(device, width))
        return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def _progress(self, stage: str, done: int, total: int) -> None:
        if self._report is not None:
            self._report(stage, done, total)

    def _rows_within(self, elements_per_row: int) -> int:
        """How many rows of elements_per_row float32 values fit in batch_memory_gb (at least one)."""
        return max(1, int(self.batch_memory_gb * 2**30 / 4 // max(elements_per_row, 1)))

    def _sequences(self, corpus: Corpus) -> list[np.ndarray]:
        bos, tail = self.vocab_size_, ([corpus.eos_id] if corpus.eos_id is not None else [])
        return [np.concatenate([[bos], corpus.doc(i), tail]).astype(np.int64) for i in range(len(corpus))]

    def _spans(self, n: int, stride: int):
        """(start, first) of the windows over a sequence of n symbols: window seq[start:start+block+1]
        scores its targets from offset `first` on, so that every target is scored exactly once."""
        width = self.block_size + 1
        if n <= width:
            yield 0, 0
            return
        start, scored = 0, 0  # scored: targets seq[1:scored+1] already covered
        while scored < n - 1:
            yield start, scored - start
            scored = start + min(width, n - start) - 1
            start += stride

    def _windows(self, sequences: list[np.ndarray], stride: int):
        """(window tokens, index of the first target to score) covering every target once."""
        for seq in sequences:
            for start, first in self._spans(len(seq), stride):
                yield seq[start:start + self.block_size + 1], first

    _pad = staticmethod(pad_rows)

    def _build_net(self):
        """A freshly initialised network over vocab_size_ + 1 input symbols (the last is BOS)."""
        return self.network.build(self.vocab_size_ + 1, self.block_size, self.dropout)

    # ---- training --------------------------------------------------------------------------------
    def fit(self, corpus: Corpus, *, seed: int = 0, progress: ProgressCallback | None = None,
            init: "NeuralLM | None" = None) -> "NeuralLM":
        """Train on corpus from a fresh initialisation, or from init's weights (warm start; the optimiser
        starts afresh either way)."""
        self._report = progress
        try:
            return self._train(corpus, seed, init)
        finally:
            self._report = None

    def untrained(self, corpus: Corpus, *, seed: int) -> "NeuralLM":
        """This architecture freshly initialised for corpus's vocabulary, as fit would start it, and not
        trained: the downstream probe's random-init baseline. Returns self."""
        return self._train(corpus, seed, None, optimise=False)

    def _train(self, corpus: Corpus, seed: int, init: "NeuralLM | None", optimise: bool = True) -> "NeuralLM":
        torch = _torch()

        if len(corpus) == 0:
            raise LmcollapseError("cannot fit a model on an empty corpus")
        self.vocab_size_, self.eos_id_ = corpus.vocab_size, corpus.eos_id
        lengths, counts = np.unique(corpus.lengths, return_counts=True)
        self.length_values_, self.length_counts_ = lengths.astype(np.int64), counts.astype(np.int64)
        device = self._device()
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)  # initialisation and dropout draw from the stage's seed only
            self.net_ = self._build_net().to(device)
            if init is not None:
                self.net_.load_state_dict(init.net_.state_dict())
            windows = [w for w, _ in self._windows(self._sequences(corpus), stride=self.block_size)]
            order_rng = np.random.default_rng(seed)
            opt = torch.optim.AdamW(self.net_.parameters(), lr=self.lr, betas=(0.9, 0.95),
                                    weight_decay=self.weight_decay, fused=True)
            autocast = self._autocast(device)
            self.net_.train()
            steps, step = self.epochs * -(-len(windows) // self.batch_size), 0
            for _ in range(self.epochs if optimise else 0):
                order = order_rng.permutation(len(windows))
                for start in range(0, len(order), self.batch_size):
                    self._progress("fit", step, steps)
                    step += 1
                    rows = self._batch_rows([windows[i] for i in order[start:start + self.batch_size]])
                    opt.zero_grad(set_to_none=True)
                    if self._batch_gradient(rows, device, autocast):
                        opt.step()
        self.net_.eval()
        return self

    def _batch_gradient(self, rows: dict[str, np.ndarray], device, autocast) -> bool:
        """The gradient of one training batch's mean loss, accumulated into the weights' .grad over its
        micro-batches; False when the batch has no loss to step on (tce: every target already confident)."""
        torch = _torch()
        n_targets = int((rows["y"] != IGNORE).sum())
        kept = None if self.loss == "ce" else 0  # tce: targets left in the loss (models/loss.py)
        for part in self._micro_batches(rows):
            with autocast:
                logits, y = self._forward_rows(part, device)  # (R, W, V+1), (R, W)
                # Summed, over the whole batch's target count: the micro-batches' gradients add up to the
                # gradient of the batch's mean loss.
                loss, kept_here = summed_loss(torch, logits.flatten(0, 1).float(), y.flatten(), n_targets,
                                              self.loss, self.tce_gamma)
            loss.backward()
            kept = None if kept is None else kept + kept_here
        return finish_batch(self.net_.parameters(), n_targets, kept)  # tce: the mean over kept tokens

    def _batch_rows(self, windows: list[np.ndarray]) -> dict[str, np.ndarray]:
        """A training batch as (R, W) arrays: packed for networks that take packed rows, else padded."""
        return packed_rows(windows, self.block_size) if self.network.packs_documents else padded_rows(windows)

    def _micro_batches(self, rows: dict[str, np.ndarray]):
        """The batch in one pass when its training pass fits batch_memory_gb; else groups of rows, longest
        first, each cut to its own longest row, so that a split batch of documents of mixed lengths (padded
        rows, as hf takes them) computes little padding."""
        n_rows, width = rows["y"].shape
        per_position = TRAINING_COPIES * (self.vocab_size_ + 1)
        if self._rows_within(per_position * width) >= n_rows:
            yield rows
            return
        has_target = rows["y"] != IGNORE  # (R, W)
        used = np.where(has_target.any(axis=1), width - np.argmax(has_target[:, ::-1], axis=1), 1)  # (R,)
        order = np.argsort(-used, kind="stable")
        lo = 0
        while lo < n_rows:
            longest = int(used[order[lo]])
            group = order[lo:lo + self._rows_within(per_position * longest)]
            yield {key: a[group, :longest] for key, a in rows.items()}
            lo += len(group)

    def _forward_rows(self, rows: dict[str, np.ndarray], device):
        """Logits (R, W, V+1) and targets (R, W) of training rows; packed rows bring positions and segments."""
        torch = _torch()
        t = {key: torch.from_numpy(a).to(device) for key, a in rows.items()}
        if "segments" in t:
            return self.net_(t["x"], positions=t["positions"], mask=attention_mask(t["segments"])), t["y"]
        return self.net_(t["x"]), t["y"]

    # ---- hidden states (the downstream probe) -------------------------------------------------------
    def probe_inputs(self, corpus: Corpus, max_length: int) -> tuple[np.ndarray, np.ndarray]:
        """(idx (n, L) int64, last (n,) int64): each document as [BOS] + its first max_length - 1 tokens,
        padded at the end, and the position of its last token. Causal attention keeps the padding out of
        every real position."""
        width = min(max_length, self.block_size)
        rows = [np.concatenate([[self.vocab_size_], corpus.doc(i)[:width - 1]]) for i in range(len(corpus))]
        return pad_rows(rows, 0), np.array([len(r) - 1 for r in rows], np.int64)

    def features(self, corpus: Corpus, max_length: int) -> np.ndarray:
        """(n, C) frozen features: the final hidden state at each document's last token (the state from which
        the model would predict what follows; the state a sequence-classification head reads)."""
        torch = _torch()
        idx, last = self.probe_inputs(corpus, max_length)
        device = next(self.net_.parameters()).device
        out = np.zeros((len(idx), 0))
        with torch.no_grad():
            for part in by_length(last, self.batch_size * 4):
                width = int(last[part].max()) + 1  # this batch's longest row; the rest of idx is padding
                x = torch.from_numpy(idx[part, :width]).to(device)  # (B, L)
                h = self.net_.hidden(x)  # (B, L, C)
                at = torch.from_numpy(last[part]).to(device)  # (B,)
                picked = h[torch.arange(len(x), device=device), at].float().cpu().numpy()  # (B, C)
                if out.shape[1] == 0:
                    out = np.zeros((len(idx), picked.shape[1]))
                out[part] = picked
        return out

    def probe_network(self):
        """A trainable copy of the network (module.hidden(idx) -> (B, T, C)) for fine-tuning with a head;
        the model itself is left as it is."""
        import copy

        net = copy.deepcopy(self.net_)
        net.train()
        return net

    # ---- probabilities ---------------------------------------------------------------------------
    def _log_softmax(self, logits):
        """Log-probabilities over the real vocabulary (the BOS input symbol is never an output)."""
        return logits[..., : self.vocab_size_].float().log_softmax(dim=-1)

    def _probabilities(self, logits):
        """Next-token laws as float64 (rows sum to 1 within 1e-12): a softmax in double precision, not the
        exponential of a float32 log-softmax, whose rows miss 1 by up to about 1e-7."""
        return logits[..., : self.vocab_size_].double().softmax(dim=-1)

    def _score(self, corpus: Corpus):
        """Per predicted symbol, in document order: (document index, log-prob, entropy of the prediction)."""
        torch = _torch()
        device = next(self.net_.parameters()).device
        jobs = []  # (doc, window, first target)
        for doc, seq in enumerate(self._sequences(corpus)):
            for window, first in self._windows([seq], stride=max(self.block_size // 2, 1)):
                jobs.append((doc, window, first))
        n_jobs = len(jobs)
        targets, entropies = [None] * n_jobs, [None] * n_jobs  # per job, in job (document) order
        with torch.no_grad():
            for part in by_length(np.array([len(w) for _, w, _ in jobs], np.int64), self._scoring_rows()):
                batch = self._pad([jobs[j][1] for j in part], 0)
                x = torch.from_numpy(batch[:, :-1]).to(device)  # (B, T)
                logp = self._log_softmax(self.net_(x))  # (B, T, V)
                y = torch.from_numpy(batch[:, 1:]).to(device).clamp(max=self.vocab_size_ - 1)
                target = logp.gather(-1, y.unsqueeze(-1)).squeeze(-1).cpu().numpy()  # (B, T)
                entropy = (-(logp.exp() * logp).sum(-1)).cpu().numpy()  # (B, T)
                for row, j in enumerate(part.tolist()):
                    _, window, first = jobs[j]
                    end = len(window) - 1
                    targets[j], entropies[j] = target[row, first:end], entropy[row, first:end]
        docs = [np.full(len(t), doc) for (doc, _, _), t in zip(jobs, targets)]
        logps, ents = targets, entropies
        cat = lambda parts, dtype: np.concatenate(parts) if parts else np.zeros(0, dtype)  # noqa: E731
        return cat(docs, np.int64), cat(logps, np.float64), cat(ents, np.float64)

    def _scoring_rows(self) -> int:
        """Windows per scoring pass: 4 batches, fewer when their logits (and the log-probabilities, exp and
        entropy terms computed from them, about 4 copies) would exceed batch_memory_gb."""
        return min(self.batch_size * 4, self._rows_within(4 * self.block_size * (self.vocab_size_ + 1)))

    def token_log_probs(self, corpus: Corpus):
        doc, logp, _ = self._score(corpus)
        return doc, logp.astype(np.float64)

    def context_entropies(self, corpus: Corpus) -> np.ndarray:
        return self._score(corpus)[2]

    def position_probs(self, corpus: Corpus, doc: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """(m, V) next-token laws at positions pos of documents doc, each given its real prefix (and, beyond
        the block, at least half a block of it, as in scoring): one teacher-forced pass instead of one
        forward per position. Used by the token-edit gate."""
        torch = _torch()
        device = next(self.net_.parameters()).device
        wanted: dict[int, list[tuple[int, int]]] = {}
        for row, (d, p) in enumerate(zip(doc.tolist(), pos.tolist())):
            wanted.setdefault(d, []).append((row, p))
        jobs = []  # (window, [(output row, offset in window)])
        stride = max(self.block_size // 2, 1)
        for d, items in wanted.items():
            seq = self._sequences(corpus.take(np.array([d])))[0]
            for start, first in self._spans(len(seq), stride):
                window = seq[start:start + self.block_size + 1]
                # the window's logits at offset j predict target seq[start + j + 1], i.e. position start + j
                picks = [(row, p - start) for row, p in items if first <= p - start < len(window) - 1]
                if picks:
                    jobs.append((window, picks))
        out = np.zeros((len(doc), self.vocab_size_))
        step = self._scoring_rows()
        with torch.no_grad():
            for lo in range(0, len(jobs), step):
                part = jobs[lo:lo + step]
                x = torch.from_numpy(self._pad([w for w, _ in part], 0)[:, :-1]).to(device)  # (B, T)
                probs = self._probabilities(self.net_(x)).cpu().numpy()  # (B, T, V)
                for b, (_, picks) in enumerate(part):
                    for row, j in picks:
                        out[row] = probs[b, j]
        return out

    def next_token_probs(self, context=()) -> np.ndarray:
        torch = _torch()
        single = np.asarray(context).ndim <= 1
        rows = np.atleast_2d(np.asarray(context, dtype=np.int64)) if np.size(context) else np.zeros((1, 0), np.int64)
        device = next(self.net_.parameters()).device
        out = []
        with torch.no_grad():
            for row in rows:
                tokens = row[row >= 0][-(self.block_size - 1):]
                x = torch.from_numpy(np.concatenate([[self.vocab_size_], tokens])[None, :]).to(device)
                out.append(self._probabilities(self.net_(x)[0, -1]).cpu().numpy())
        probs = np.stack(out)
        return probs[0] if single else probs

    # ---- sampling --------------------------------------------------------------------------------
    def sample(self, n: int, *, sampler: Sampler | None = None, seed: int = 0, generation: int = 0,
               first_id: int = 0, producer: str | None = None, progress: ProgressCallback | None = None) -> Corpus:
        self._report = progress
        try:
            return self._sample(n, sampler, seed, generation, first_id, producer)
        finally:
            self._report = None

    def _sample(self, n: int, sampler: Sampler | None, seed: int, generation: int, first_id: int,
                producer: str | None) -> Corpus:
        torch = _torch()
        sampler = sampler or Sampler()
        device = next(self.net_.parameters()).device
        rng = np.random.default_rng(seed)
        limit = self.block_size - 1  # positions available after BOS
        if self.eos_id_ is None:
            target = rng.choice(self.length_values_, size=n, p=self.length_counts_ / self.length_counts_.sum())
            target = np.minimum(target, limit)
        else:
            target = np.full(n, min(sampler.max_tokens, limit))
        docs: list[np.ndarray] = []
        # Up to DECODE_ROWS documents decode together, fewer when their KV cache or per-step probabilities
        # (logits, probabilities, float64 CDF: about 4 float32 copies) would exceed batch_memory_gb.
        per_row = max(self.net_.cache_elements_per_row(), 4 * (self.vocab_size_ + 1))
        at_once = min(DECODE_ROWS, self._rows_within(per_row))
        with torch.no_grad():
            for lo in range(0, n, at_once):
                self._progress("sample", lo, n)
                docs += self._sample_rows(target, range(lo, min(lo + at_once, n)), sampler, seed, device)
        lengths = np.array([len(d) for d in docs], dtype=np.int64)
        tokens = np.concatenate(docs).astype(np.int32) if docs else np.zeros(0, np.int32)
        return Corpus.from_flat(tokens, lengths, vocab_size=self.vocab_size_, eos_id=self.eos_id_, origin=SYNTHETIC,
                                generation=generation, producer=producer or self.name, seed=int(seed), first_id=first_id)

    @staticmethod
    def _group_uniforms(n: int, members: range, seed: int, device):
        """A function that, called once per decoding step, returns that step's uniforms (m, 1) of documents
        `members` out of n. Documents come in groups of SAMPLE_GROUP, each group with its own random stream
        that draws one uniform per member document per step; every document takes its own. So a document's
        draws depend only on (seed, its index), not on which documents decode together or when finished ones
        are dropped."""
        torch = _torch()
        first, last = members.start // SAMPLE_GROUP, (members.stop - 1) // SAMPLE_GROUP
        streams = []
        for g in range(first, last + 1):
            group_seed = np.random.SeedSequence([int(seed), g]).generate_state(1, dtype=np.uint64)[0] >> 1
            streams.append((torch.Generator(device=device).manual_seed(int(group_seed)),
                            min(SAMPLE_GROUP, n - g * SAMPLE_GROUP)))
        own = torch.arange(members.start, members.stop, device=device) - first * SAMPLE_GROUP  # (m,)

        def draw() -> "torch.Tensor":
            everyone = torch.cat([torch.rand((size, 1), generator=gen, device=device, dtype=torch.float64)
                                  for gen, size in streams])  # (documents of the groups, 1)
            return everyone[own]  # (m, 1)

        return draw

    def _sample_rows(self, target: np.ndarray, members: range, sampler: Sampler, seed: int,
                     device) -> list[np.ndarray]:
        """Decode documents `members` out of len(target), whose final lengths are `target` (end tokens cut
        them short)."""
        torch = _torch()
        uniforms = self._group_uniforms(len(target), members, seed, device)
        m, steps = len(members), int(target[members.start:members.stop].max()) if len(members) else 0
        out = torch.zeros((m, steps), dtype=torch.long, device=device)
        length = torch.from_numpy(target[members.start:members.stop].copy()).to(device)  # (m,)
        rows = torch.arange(m, device=device)  # (r,) which documents the batch still decodes
        x = torch.full((m, 1), self.vocab_size_, dtype=torch.long, device=device)  # (r, 1): BOS
        cache = self.net_.new_cache(m, device)
        for step in range(steps):
            logits = self.net_(x, cache, start=step)  # (r, 1, V+1)
            probs = self._transform(self._log_softmax(logits[:, -1]).exp(), sampler)  # (r, V)
            # Inverse-CDF draw: much faster than torch.multinomial for wide vocabularies.
            cdf = probs.double().cumsum(dim=-1)  # (r, V)
            u = uniforms()[rows] * cdf[:, -1:]  # (r, 1)
            tok = torch.searchsorted(cdf, u, right=True).squeeze(1).clamp(max=self.vocab_size_ - 1)  # (r,) first cdf > u
            out[rows, step] = tok
            if self.eos_id_ is not None:
                ended = (tok == self.eos_id_) & (length[rows] > step)  # only documents still open
                length[rows[ended]] = step
            going = length[rows] > step + 1  # (r,)
            if not bool(going.any()):
                break
            x = tok.unsqueeze(1)  # (r, 1)
            if DROP_FINISHED_ROWS and int(going.sum()) <= len(rows) * (1 - DROP_WHEN_FINISHED):
                # Enough of the batch has finished: drop those rows so later steps cost only the live documents.
                keep = going.nonzero().squeeze(1)  # (r',)
                rows, x, cache = rows[keep], x[keep], self.net_.select_cache(cache, keep, filled=step + 1)
        out, length = out.cpu().numpy(), length.cpu().numpy()
        return [out[i, :length[i]] for i in range(m)]

    @staticmethod
    def _transform(probs, sampler: Sampler):
        """Temperature, top-k and top-p on torch probabilities (m, V), rows renormalised."""
        torch = _torch()
        if sampler.is_pure:
            return probs
        return torch.from_numpy(sampler.transform(probs.double().cpu().numpy())).to(probs.device)

    # ---- persistence -----------------------------------------------------------------------------
    def save(self, directory: str | Path) -> None:
        torch = _torch()
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        params = {"name": self.name, "config": self.config.model_dump(), "vocab_size": self.vocab_size_,
                  "eos_id": self.eos_id_, "length_values": self.length_values_.tolist(),
                  "length_counts": self.length_counts_.tolist()}
        (directory / "params.json").write_text(json.dumps(params))
        torch.save(self.net_.state_dict(), directory / "model.pt")

    @classmethod
    def load(cls, directory: str | Path) -> "NeuralLM":
        torch = _torch()
        directory = Path(directory)
        params = json.loads((directory / "params.json").read_text())
        model = cls(cls.saved_section(params))
        model.vocab_size_, model.eos_id_ = params["vocab_size"], params["eos_id"]
        model.length_values_ = np.asarray(params["length_values"], dtype=np.int64)
        model.length_counts_ = np.asarray(params["length_counts"], dtype=np.int64)
        model.net_ = model._build_net().to(model._device())
        model.net_.load_state_dict(torch.load(directory / "model.pt", map_location=model._device()))
        model.net_.eval()
        return model


class GPTConfig(NeuralConfig):
    n_layer: int = Field(2, ge=1, description="transformer blocks")
    n_head: int = Field(2, ge=1, description="attention heads per block (n_embd must be a multiple)")
    n_embd: int = Field(64, ge=1, description="width of the token embeddings and hidden states")

    @model_validator(mode="after")
    def _heads_divide_the_width(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"model.n_embd ({self.n_embd}) must be a multiple of model.n_head ({self.n_head})")
        return self


@MODELS.register("gpt", "nanoGPT-style transformer trained from scratch each generation (PyTorch; CPU or CUDA)")
class GPTModel(NeuralLM):
    config_class = GPTConfig

    @staticmethod
    def network_of(config: GPTConfig) -> NetworkAdapter:
        return GPTNetwork(config.n_layer, config.n_head, config.n_embd)
