"""The downstream probe, the paper's protocol at small scale: how well does a language model's
representation serve a classification task of real text, against the same architecture untrained?

Both modes read one hidden state per document: the final hidden state (after the last layer norm) at
the document's last token, the state from which the model predicts what follows, and the state a
sequence-classification head reads in GPT-style models (documents are cut to probe.max_length tokens).

- finetune (the paper's): a linear head on that state, trained with the whole network (a copy; the
  generation's model is untouched) by AdamW for probe.epochs passes over the probe's training documents,
  probe.batch_size documents a step, learning rate probe.lr, weight decay 0.01;
- linear: the network frozen; multinomial logistic regression (L2 1e-3 on standardised features, L-BFGS,
  200 iterations) on the states.

Scores on the probe's test documents: accuracy and macro-F1, each with a 95% half-sampling interval.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmcollapse.config import ProbeConfig
from lmcollapse.metrics.resampling import Resampled, weighted_mean
from lmcollapse.models.base import LanguageModel
from lmcollapse.probes.split import ProbeSplit

WEIGHT_DECAY = 0.01  # finetune
L2 = 1e-3  # linear: penalty on the weights of standardised features
LBFGS_ITERATIONS = 200


@dataclass
class ProbeScores:
    accuracy: Resampled
    macro_f1: Resampled


def probe(model: LanguageModel, split: ProbeSplit, settings: ProbeConfig, seed: int) -> ProbeScores:
    """Train the probe on split.train with the stage seed and score it on split.test."""
    train = linear_predictions if settings.mode == "linear" else finetune_predictions
    predicted = train(model, split, settings, seed)
    return scores(predicted, split.test_labels, len(split.classes))


def scores(predicted: np.ndarray, truth: np.ndarray, n_classes: int) -> ProbeScores:
    correct = (predicted == truth).astype(np.float64)
    f1 = Resampled(macro_f1(predicted, truth, n_classes), len(truth),
                   lambda mask: macro_f1(predicted[mask], truth[mask], n_classes))
    return ProbeScores(weighted_mean(correct), f1)


def macro_f1(predicted: np.ndarray, truth: np.ndarray, n_classes: int) -> float:
    """The mean over classes (those that occur in truth or in the predictions) of 2TP / (2TP + FP + FN)."""
    tp = np.bincount(truth[predicted == truth], minlength=n_classes)
    fp = np.bincount(predicted[predicted != truth], minlength=n_classes)
    fn = np.bincount(truth[predicted != truth], minlength=n_classes)
    present = (tp + fp + fn) > 0
    return float((2 * tp[present] / (2 * tp[present] + fp[present] + fn[present])).mean()) if present.any() else 0.0


def linear_predictions(model, split: ProbeSplit, settings: ProbeConfig, seed: int) -> np.ndarray:
    import torch

    train = model.features(split.train, settings.max_length)  # (n, C)
    test = model.features(split.test, settings.max_length)  # (m, C)
    mean, std = train.mean(axis=0), train.std(axis=0) + 1e-8
    x = torch.from_numpy((train - mean) / std)  # (n, C) float64
    y = torch.from_numpy(np.array(split.train_labels))
    k = len(split.classes)
    weights = torch.zeros((x.shape[1], k), dtype=torch.float64, requires_grad=True)  # (C, K)
    bias = torch.zeros(k, dtype=torch.float64, requires_grad=True)  # (K,)
    optimiser = torch.optim.LBFGS([weights, bias], max_iter=LBFGS_ITERATIONS, line_search_fn="strong_wolfe")

    def loss():
        optimiser.zero_grad()
        value = torch.nn.functional.cross_entropy(x @ weights + bias, y) + L2 * (weights ** 2).sum()
        value.backward()
        return value

    optimiser.step(loss)  # convex and deterministic: the seed is not needed
    with torch.no_grad():
        logits = torch.from_numpy((test - mean) / std) @ weights + bias  # (m, K)
    return logits.argmax(dim=1).numpy()


def finetune_predictions(model, split: ProbeSplit, settings: ProbeConfig, seed: int) -> np.ndarray:
    import torch

    device = next(model.net_.parameters()).device
    k = len(split.classes)
    train_idx, train_last = model.probe_inputs(split.train, settings.max_length)  # (n, L), (n,)
    test_idx, test_last = model.probe_inputs(split.test, settings.max_length)  # (m, L), (m,)
    labels = torch.from_numpy(np.array(split.train_labels)).to(device)
    order_rng = np.random.default_rng(seed)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)  # the head's initialisation and dropout come from the stage seed
        net = model.probe_network()
        width = net.hidden(torch.from_numpy(train_idx[:1]).to(device)).shape[-1]
        head = torch.nn.Linear(width, k).to(device)
        optimiser = torch.optim.AdamW(list(net.parameters()) + list(head.parameters()), lr=settings.lr,
                                      weight_decay=WEIGHT_DECAY)

        def logits_of(idx: np.ndarray, last: np.ndarray, rows: np.ndarray):
            x = torch.from_numpy(idx[rows]).to(device)  # (B, L)
            h = net.hidden(x)  # (B, L, C)
            at = torch.from_numpy(last[rows]).to(device)  # (B,)
            return head(h[torch.arange(len(rows), device=device), at].float())  # (B, K)

        for _ in range(settings.epochs):
            order = order_rng.permutation(len(train_idx))
            for lo in range(0, len(order), settings.batch_size):
                rows = order[lo:lo + settings.batch_size]
                loss = torch.nn.functional.cross_entropy(logits_of(train_idx, train_last, rows),
                                                         labels[torch.from_numpy(rows).to(device)])
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
        net.eval()
        predicted = []
        with torch.no_grad():
            for lo in range(0, len(test_idx), settings.batch_size * 4):
                rows = np.arange(lo, min(lo + settings.batch_size * 4, len(test_idx)))
                predicted.append(logits_of(test_idx, test_last, rows).argmax(dim=1).cpu().numpy())
    return np.concatenate(predicted)
