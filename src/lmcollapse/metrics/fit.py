"""How well a neural model fits its training data D_t (P19's fit diagnostics): the training objective of the
epoch whose weights it kept, its loss on the validation split held back from D_t (model.validation), the
epochs it ran, the probability it gives the tokens it was trained on, read on a fixed slice
of D_t (the first TARGET_DOCUMENTS documents: scoring all of it would cost as much as another epoch), and
the dispersion gap: the entropy of its own samples minus its held-out cross-entropy (a model that writes
noisier text than it reads has a positive gap)."""
from __future__ import annotations

import numpy as np

from lmcollapse.metrics.base import NON_NEGATIVE, SHARE, GenerationView, metric

TARGET_DOCUMENTS = 500  # documents of D_t whose targets are scored

COLUMNS = {
    "train_loss": ("the training objective per target in the last epoch (nats; cross-entropy, or the truncated "
                   "one under model.loss: tce)", False, NON_NEGATIVE),
    "validation_loss": ("M_t's mean negative log-likelihood per token on the validation split held back from "
                        "D_t (model.validation; nats)", False, NON_NEGATIVE),
    "epochs_run": ("epochs of training run for M_t", None, NON_NEGATIVE),
    "target_prob_p50": ("median probability M_t gives the tokens of its training documents (first "
                        f"{TARGET_DOCUMENTS} of D_t)", True, SHARE),
    "target_prob_p90": ("90th percentile of that probability", True, SHARE),
    "dispersion_gap": ("entropy of M_t's own samples (model_entropy) minus its held-out cross-entropy "
                       "(heldout_nll), nats: above 0 it writes noisier text than it reads", None),
}


@metric("fit", "how well M_t fits D_t: training loss, epochs, probability of its training targets (neural "
               "models)", None, columns=COLUMNS, needs=("neural",), concern="fit")
def fit(view: GenerationView) -> dict | None:
    record = getattr(view.model, "fit_record_", None)
    if record is None:  # a count model (it fits its counts exactly), or a model loaded rather than trained
        return None
    first = view.train.take(np.arange(min(TARGET_DOCUMENTS, len(view.train))))
    _, logp = view.model.token_log_probs(first)  # (P,)
    probs = np.exp(logp)
    out = {"train_loss": record.train_loss, "epochs_run": float(record.epochs_run),
           **({} if record.validation_loss is None else {"validation_loss": record.validation_loss}),
           "target_prob_p50": float(np.median(probs)), "target_prob_p90": float(np.quantile(probs, 0.9))}
    entropy = view.samples_entropy
    if entropy is not None:
        out["dispersion_gap"] = entropy - view.heldout_nll().value
    return out
