"""Training a neural model: AdamW over block-sized windows of the corpus, each batch's gradient accumulated
over micro-batches that fit `batch_memory_gb`; the loss is cross-entropy or truncated cross-entropy."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from lmcollapse.corpora.corpus import Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.models.base import ProgressCallback
from lmcollapse.models.loss import finish_batch, summed_loss
from lmcollapse.models.packing import IGNORE, attention_mask
from lmcollapse.models.neural.device import _torch
from lmcollapse.models.neural.rows import packed_rows, padded_rows

# A training pass holds about this many logit-sized float32 tensors at its peak (logits, log-probabilities,
# their gradients, allocator slack): 5.8 measured by benchmarks/paper_scale_memory.py.
TRAINING_COPIES = 6

if TYPE_CHECKING:
    from lmcollapse.models.neural.base import NeuralLM


VALIDATION_STREAM = 1  # the validation split's draw: its own stream of the fit seed, beside the batch order's


@dataclass(frozen=True)
class FitRecord:
    """What training recorded, epoch by epoch: the objective's mean per target, and the mean negative
    log-likelihood per token of the validation split held back from D_t (when there is one); the epoch whose
    weights the model kept (the last, or under epochs auto the one with the lowest validation loss); under
    truncated cross-entropy the share of training targets its loss dropped (over every epoch; None under
    plain cross-entropy): the mitigation's activity."""

    epoch_losses: list[float]
    masked_share: float | None = None
    validation_losses: list[float] = field(default_factory=list)
    kept_epoch: int | None = None  # index into the lists; None: the last

    @property
    def epochs_run(self) -> int:
        return len(self.epoch_losses)

    @property
    def _kept(self) -> int:
        return len(self.epoch_losses) - 1 if self.kept_epoch is None else self.kept_epoch

    @property
    def train_loss(self) -> float:
        """The training objective in the epoch whose weights were kept."""
        return self.epoch_losses[self._kept] if self.epoch_losses else float("nan")

    @property
    def validation_loss(self) -> float | None:
        """The kept weights' loss on the validation split (None without one)."""
        return self.validation_losses[self._kept] if self.validation_losses else None


class Training:
    """NeuralLM's training (a part of the class, in its own module; self is a NeuralLM)."""

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
        if not self.eos_loss and corpus.eos_id is None:
            raise LmcollapseError("model.eos_loss: false needs a corpus with end tokens (this one has none); use a "
                                  "text corpus or drop eos_loss")
        self.vocab_size_, self.eos_id_ = corpus.vocab_size, corpus.eos_id
        lengths, counts = np.unique(corpus.lengths, return_counts=True)
        self.length_values_, self.length_counts_ = lengths.astype(np.int64), counts.astype(np.int64)
        device = self._device()
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)  # initialisation and dropout draw from the stage's seed only
            self.net_ = self._build_net().to(device)
            if init is not None:
                self.net_.load_state_dict(init.net_.state_dict())
            train, validation = self._split(corpus, seed)
            windows = [w for w, _ in self._windows(self._sequences(train), stride=self.block_size)]
            order_rng = np.random.default_rng(seed)
            opt = torch.optim.AdamW(self.net_.parameters(), lr=self.lr, betas=(0.9, 0.95),
                                    weight_decay=self.weight_decay, fused=True)
            autocast = self._autocast(device)
            self.net_.train()
            epochs = self.max_epochs if self.epochs == "auto" else self.epochs
            steps, step = epochs * -(-len(windows) // self.batch_size), 0
            epoch_losses, validation_losses = [], []  # per epoch: the training objective's mean per target, and
            # the validation split's mean negative log-likelihood per token
            seen, kept_all = 0, 0  # targets trained on, and (tce) those left in the loss, over every epoch
            best = None  # epochs auto: (validation loss, epoch, a copy of the weights) of the best epoch so far
            for epoch in range(epochs if optimise else 0):
                order = order_rng.permutation(len(windows))
                total, targets = 0.0, 0  # total: a tensor on the device, read once per epoch (no sync per batch)
                for start in range(0, len(order), self.batch_size):
                    self._progress("fit", step, steps)
                    step += 1
                    rows = self._batch_rows([windows[i] for i in order[start:start + self.batch_size]])
                    opt.zero_grad(set_to_none=True)
                    stepped, batch_loss, n_targets, kept = self._batch_gradient(rows, device, autocast)
                    if stepped:
                        opt.step()
                    total, targets = total + batch_loss * n_targets, targets + n_targets
                    seen, kept_all = seen + n_targets, kept_all + (kept or 0)
                epoch_losses.append(float(total) / max(targets, 1))
                if validation is None:
                    continue
                validation_losses.append(self._mean_nll(validation))
                if self.epochs != "auto":
                    continue
                if best is None or validation_losses[-1] < best[0]:
                    best = (validation_losses[-1], epoch, {k: v.detach().clone() for k, v in self.net_.state_dict().items()})
                elif epoch - best[1] >= self.patience:
                    break  # no lower validation loss for `patience` epochs
            if best is not None:
                self.net_.load_state_dict(best[2])  # the weights of the best epoch, not of the last
        self.net_.eval()
        masked = 1.0 - kept_all / seen if self.loss != "ce" and optimise and seen else None
        self.fit_record_ = FitRecord(epoch_losses, masked, validation_losses,
                                     None if best is None else best[1]) if optimise else None
        return self

    def _split(self, corpus: Corpus, seed: int) -> tuple[Corpus, Corpus | None]:
        """(the documents trained on, the validation split held back from them, or None): a share of D_t's
        distinct documents drawn from the fit seed's own stream, at least one document each way. A document
        held back is held back with every copy of it: a resampling gate (detector-importance, reweight) can
        put up to a few copies of one document in the training set, and a copy on each side would make the
        validation loss measure memorisation, so that early stopping would run to max_epochs and keep the
        most over-fitted weights. Without copies this is the same draw as over the rows."""
        _, first_rows = np.unique(corpus.doc_id, return_index=True)
        documents = corpus.doc_id[np.sort(first_rows)]  # (distinct,) each document once, in order of first row
        if self.validation_share == 0 or len(documents) < 2:
            return corpus, None
        n = min(max(1, int(round(self.validation_share * len(documents)))), len(documents) - 1)
        chosen = np.random.default_rng([seed, VALIDATION_STREAM]).choice(len(documents), size=n, replace=False)
        held = np.isin(corpus.doc_id, documents[chosen])  # (rows,) every copy of a held-back document
        return corpus.take(np.flatnonzero(~held)), corpus.take(np.flatnonzero(held))

    def _mean_nll(self, corpus: Corpus) -> float:
        """The network's mean negative log-likelihood per token of corpus (end tokens included), in eval mode."""
        self.net_.eval()
        try:
            _, logp = self.token_log_probs(corpus)
        finally:
            self.net_.train()
        return float(-logp.mean())

    def _batch_gradient(self, rows: dict[str, np.ndarray], device, autocast) -> tuple[bool, float, int, int | None]:
        """The gradient of one training batch's mean loss, accumulated into the weights' .grad over its
        micro-batches; (whether there is a loss to step on (tce: not when every target is already
        confident), the batch's mean loss per target as a tensor on the device, its targets, the targets
        left in the loss (tce; None under cross-entropy))."""
        torch = _torch()
        n_targets = int((rows["y"] != IGNORE).sum())
        kept = None if self.loss == "ce" else 0  # tce: targets left in the loss (models/loss.py)
        if n_targets == 0:  # eos_loss false and only empty documents: no loss, so no step (weight decay included)
            return False, 0.0, 0, kept
        batch_loss = 0.0  # becomes a 0-d tensor: summed on the device, not read here
        for part in self._micro_batches(rows):
            with autocast:
                logits, y = self._forward_rows(part, device)  # (R, W, V+1), (R, W)
                # Summed, over the whole batch's target count: the micro-batches' gradients add up to the
                # gradient of the batch's mean loss.
                loss, kept_here = summed_loss(torch, logits.flatten(0, 1).float(), y.flatten(), n_targets,
                                              self.loss, self.tce_gamma)
            loss.backward()
            batch_loss = batch_loss + loss.detach()
            kept = None if kept is None else kept + kept_here
        # tce: the mean over kept tokens
        return finish_batch(self.net_.parameters(), n_targets, kept, self.tce_mean), batch_loss, n_targets, kept

    def _batch_rows(self, windows: list[np.ndarray]) -> dict[str, np.ndarray]:
        """A training batch as (R, W) arrays: packed for networks that take packed rows, else padded; under
        eos_loss false every end-token target is IGNORE (scoring and validation never come here, so they
        still count end tokens)."""
        rows = packed_rows(windows, self.block_size) if self.network.packs_documents else padded_rows(windows)
        if not self.eos_loss:
            # The paper's training code: its pad token is the end token and the causal-LM collator labels every
            # pad -100, so no gradient ever pushes towards ending a document.
            rows["y"][rows["y"] == self.eos_id_] = IGNORE
        return rows

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
