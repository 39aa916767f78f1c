"""The training loss of the neural backends (`model.loss`): cross-entropy, or truncated cross-entropy.

Truncated cross-entropy (`tce`; Shabgahi et al. 2025, "ForTIFAI") is a learner-side mitigation of model
collapse: a token the model already predicts with probability above `model.tce_gamma` is dropped from the
loss, so training stops sharpening what is already confident (the modes a generated corpus over-represents)
and spends its gradient on the rest. The loss is the mean over the tokens kept (`tce_mean: kept`, 0.4's), or,
as the authors' code computes it, over all targets, dropped ones counting 0 (`tce_mean: all`). The probability tested is
that of the target token, exp(-cross-entropy), under the current weights; it carries no gradient.

A training batch may be split into micro-batches whose gradients are summed (models/neural/training.py). Each
micro-batch contributes sum(kept losses) / (the batch's target count); once the whole batch is seen, the
summed gradient is rescaled by targets / kept, which makes it exactly the gradient of the mean over the
batch's kept tokens, however the batch was split."""
from __future__ import annotations

import math

from lmcollapse.models.packing import IGNORE


def summed_loss(torch, logits, y, n_targets: int, loss: str, gamma: float):
    """(this micro-batch's share of the batch loss, number of its targets kept). logits: (N, V) float32;
    y: (N,) targets, IGNORE where there is none."""
    if loss == "ce":
        ce = torch.nn.functional.cross_entropy(logits, y, ignore_index=IGNORE, reduction="sum")
        return ce / n_targets, None
    per_token = torch.nn.functional.cross_entropy(logits, y, ignore_index=IGNORE, reduction="none")  # (N,)
    # p(target) > gamma  <=>  cross-entropy < -log(gamma); ignored positions have a loss of 0 and no target
    keep = (y != IGNORE) & (per_token.detach() >= -math.log(gamma))  # (N,)
    return (per_token * keep).sum() / n_targets, int(keep.sum())


def finish_batch(parameters, n_targets: int, kept: int | None, mean: str = "kept") -> bool:
    """Rescale the summed gradient to the mean over kept tokens; False when the step is to be skipped (every
    token of the batch was confident: no loss, so no update, weight decay included). With mean "all"
    (ForTIFAI's own code: dropped tokens still count in the denominator) the gradient stays the mean over
    every target and every step is taken."""
    if kept is None or mean == "all":
        return True
    if kept == 0:
        return False
    scale = n_targets / kept
    for p in parameters:
        if p.grad is not None:
            p.grad.mul_(scale)
    return True
