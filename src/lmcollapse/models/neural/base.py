"""NeuralLM, the base of the neural backends: its config section, the adapter that builds its network, the
windows it cuts documents into, and saving; training, scoring and sampling are in their own modules."""
from __future__ import annotations

import abc
import contextlib
import json
from pathlib import Path
from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from lmcollapse.config import Section
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.models.base import Capability, LanguageModel, ProgressCallback
from lmcollapse.models.neural.device import _torch, bf16_pays
from lmcollapse.models.neural.rows import pad_rows
from lmcollapse.models.neural.sampling import Sampling
from lmcollapse.models.neural.scoring import Scoring
from lmcollapse.models.neural.training import Training


AUTO_VALIDATION = 0.1  # the validation share early stopping uses unless model.validation says otherwise


class NeuralConfig(Section):
    """Training shared by the neural backends (the paper's optimiser: AdamW, betas (0.9, 0.95), constant
    learning rate)."""

    block_size: int = Field(128, ge=2, description="positions the model sees at once, the start token included")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout probability in training")
    epochs: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        1, description="passes over the generation's training set, or auto: early stopping on the validation split "
                       "(at most max_epochs; the weights of the epoch with the lowest validation loss are kept)")
    validation: float | None = Field(None, ge=0, lt=0.5, description="share of D_t's distinct documents held "
                                     "back from training, every copy with it, to measure the fit (never E); "
                                     "default: 0.1 under epochs auto, else 0")
    patience: int = Field(3, ge=1, description="epochs auto: stop after this many epochs without a lower "
                                               "validation loss")
    max_epochs: int = Field(60, ge=1, description="epochs auto: the most epochs trained")
    batch_size: int = Field(32, ge=1, description="sequences per optimiser step (AdamW, betas 0.9/0.95)")
    lr: float = Field(5e-4, gt=0, description="learning rate (constant)")
    weight_decay: float = Field(0.1, ge=0, description="AdamW weight decay")
    device: str = Field("auto", description="auto (CUDA when available), cpu, cuda")
    precision: Literal["auto", "fp32", "bf16"] = Field("auto", description="training: bf16 = bfloat16 autocast; "
                                                       "auto = bf16 on CUDA and, for models at least 128 wide, on a CPU with "
                                                       "bfloat16 matrix units (AMX, AVX-512 BF16); fp32 elsewhere")
    batch_memory_gb: float = Field(2.0, gt=0, description="about the most memory one forward pass may take; "
                                                          "larger batches are split")
    init: Literal["scratch", "previous", "base"] = Field(
        "scratch", description="where each generation's training starts: scratch (a new initialisation), previous "
                               "(the previous generation's weights), base (the base model of model.base, every "
                               "generation: the fine-tuning regime); the optimiser starts afresh each time")
    base: str | None = Field(None, description="init base: the base model's folder, or a folder of bases where a "
                                               "run finds (or first pretrains) its own (`lmcollapse pretrain` writes both)")
    base_documents: int | None = Field(None, ge=1, description="init base with a folder of bases: a missing base is "
                                                               "pretrained on at most this many left-over documents "
                                                               "(default all)")
    warm_start: bool = Field(False, description="before 0.5: true is init: previous")
    loss: Literal["ce", "tce"] = Field("ce", description="ce: cross-entropy; tce: truncated cross-entropy "
                                                         "(ForTIFAI), tokens predicted above tce_gamma left out")
    tce_gamma: float = Field(0.99, gt=0, lt=1, description="tce: a target token whose probability exceeds this "
                                                           "is dropped from the loss")
    tce_masked_share: float | None = Field(None, gt=0, lt=1, description="tce: calibrate tce_gamma instead, to the "
                                           "probability the generation-0 model gives this share of its own samples' "
                                           "tokens above")
    tce_mean: Literal["kept", "all"] = Field("kept", description="tce: the loss is the mean over the tokens kept, or "
                                             "over all targets, dropped ones counting 0 (ForTIFAI's code)")
    eos_loss: bool = Field(True, description="false: every end-token target is left out of the training loss, so "
                           "the model gets no gradient towards ending a document (the paper's code: its pad token "
                           "is the end token, whose labels the collator masks); held-out perplexity, validation "
                           "loss and scoring still count end tokens, so runs stay comparable; needs a corpus with "
                           "end tokens")

    def plain_loss(self) -> dict:
        """The keys that train this model with plain cross-entropy, each truncated-loss key at its default (a
        base's pretraining and a calibrated tce's generation 0 train so)."""
        fields = type(self).model_fields
        return {"loss": "ce", **{key: fields[key].default for key in ("tce_gamma", "tce_masked_share", "tce_mean")}}

    @model_validator(mode="after")
    def _keys_need_their_mode(self):
        # (at its default a key may stand anywhere: a stored config.yaml spells out every key)
        fields = type(self).model_fields
        for key in self.plain_loss():
            if key != "loss" and self.loss != "tce" and getattr(self, key) != fields[key].default:
                raise ValueError(f"model.{key} applies with model.loss: tce (truncated cross-entropy); set "
                                 f"model.loss=tce or drop {key}")
        if self.tce_masked_share is not None and self.tce_gamma != fields["tce_gamma"].default:
            raise ValueError("model: set tce_gamma or tce_masked_share (which calibrates it), not both")
        for key in ("patience", "max_epochs"):
            if self.epochs != "auto" and getattr(self, key) != fields[key].default:
                raise ValueError(f"model.{key} applies with model.epochs: auto (early stopping); set "
                                 f"model.epochs=auto or drop {key}")
        if self.base is not None and self.init != "base":
            raise ValueError("model.base applies with model.init: base (fine-tuning a base model every generation); "
                             "set model.init=base or drop base")
        if self.base_documents is not None and self.init != "base":
            raise ValueError("model.base_documents applies with model.init: base; set model.init=base or drop it")
        if self.init == "base" and self.base is None:
            raise ValueError("model.init: base needs model.base: the folder of a base model (write one with "
                             "`lmcollapse pretrain CONFIG --out DIR`)")
        if self.warm_start and self.init != "scratch":
            raise ValueError("model.warm_start is the old name of model.init: previous; give only model.init")
        if self.epochs == "auto" and self.validation == 0:
            raise ValueError("model.epochs: auto stops on a validation split: set model.validation above 0 "
                             "(e.g. 0.1) or give a number of epochs")
        return self

    @property
    def start(self) -> str:
        """Where training starts each generation: init, with 0.4's warm_start: true read as previous."""
        return "previous" if self.warm_start else self.init

    @property
    def validation_share(self) -> float:
        """The share of D_t held back for validation: as set, else 0.1 under epochs auto and 0 otherwise."""
        if self.validation is not None:
            return self.validation
        return AUTO_VALIDATION if self.epochs == "auto" else 0.0


# work_estimate's scale: a KJV verse is about 43 tokens of the 1,000-symbol BPE, and the paper grid's GPT
# (168k parameters, 8 epochs on 64.5k tokens: 5.2e11 training flops) fits in about 10 s on one core.
TOKENS_PER_DOCUMENT = 43
FLOPS_PER_CORE_SECOND = 5e10


class NetworkAdapter(abc.ABC):
    """Builds the network a NeuralLM trains. The network (a torch Module) takes net(idx (B, T)) -> logits
    (B, T, V+1), and for decoding net(idx, cache, start=step) with new_cache(batch, device),
    select_cache(cache, rows, filled) (the rows' first `filled` positions) and cache_elements_per_row()."""

    #: whether the network takes packed rows (positions and a block-diagonal mask); otherwise rows are padded
    packs_documents: ClassVar[bool]

    @abc.abstractmethod
    def build(self, n_symbols: int, block_size: int, dropout: float):
        """A freshly initialised network over n_symbols input symbols (the vocabulary plus BOS)."""


class NeuralLM(Training, Scoring, Sampling, LanguageModel):
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
        self.loss, self.tce_gamma, self.tce_mean, self.eos_loss = c.loss, c.tce_gamma, c.tce_mean, c.eos_loss
        self.validation_share, self.patience, self.max_epochs = c.validation_share, c.patience, c.max_epochs
        self._report: ProgressCallback | None = None

    @staticmethod
    @abc.abstractmethod
    def network_of(config) -> NetworkAdapter:
        """The adapter that builds this backend's network from its config section."""

    @classmethod
    def work_estimate(cls, section, documents: int, samples: int) -> float:
        """Training's 6 flops per parameter and token, epochs times, plus sampling's 2 per parameter and token
        (samples run to about half their cap), at the rate the paper grid's GPT reaches on one core."""
        parameters = cls.parameters_estimate(section)
        epochs = section.epochs if section.epochs != "auto" else section.max_epochs / 4  # early stopping ends sooner
        train = 6 * parameters * documents * TOKENS_PER_DOCUMENT * epochs
        sample = 2 * parameters * samples * section.block_size / 2
        return (train + sample) / FLOPS_PER_CORE_SECOND

    @classmethod
    def parameters_estimate(cls, section) -> float:
        """About how many parameters the network has (a backend that knows better overrides it)."""
        return 1e6

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
