"""Which way the next generation goes, read off generation t alone (P22): the forecast `reproduce direction`
writes down from generation 0 before generation 1 runs.

- decoded_entropy: the mean entropy of the law M_t samples with (its next-token law after the decoding:
  temperature, top-k, top-p) at the positions of its own samples; model_entropy is the same before the
  decoding.
- writes_minus_reads: decoded_entropy minus M_t's held-out cross-entropy, nats. The next model learns from
  text drawn from the decoded law; if it learns as M_t learnt R, its entropy moves by about this much: up
  (towards noise) when M_t writes noisier text than it reads, down (towards repetition) when it writes
  plainer text. Under pure sampling it is the fit metric's dispersion gap. Any model. The cross-entropy is
  over the targets M_t was trained to predict: a model trained without end targets (model.eos_loss: false)
  is read without them (see _reads).
- count models also get the learner's side, drawn: the next generation as a run would make it (|D_t|
  documents of M_t's decoded samples, refitted), NEXT_FIT_DRAWS times. entropy_step: the refits' entropy at
  their own samples minus M_t's at its own (what model_entropy will read at t + 1, minus what it reads at t;
  below 0, towards repetition): exact for the learner, its smoothing and back-off, and the decoding, for one
  step. lambda_eff: the mean over M_t's sampled positions of the share n / (n + alpha V) of the next fit's law
  that its counts decide at the context (the rest is the smoothing's uniform law; 0 where the next fit never
  sees the context and backs off).

- neural models get the learner's side at generation 0 only: entropy_step from one next generation, drawn and
  trained as the run will train generation 1 (GenerationView.next_learner: the same config and starting
  weights), read at the positions of its own samples as model_entropy reads a model. It costs about one
  generation, so later generations (which no forecast needs) skip it. At temperature 1 a well-fit GPT writes
  almost exactly as noisily as it reads, and writes_minus_reads then carries no sign; the entropy still moves,
  through the next learner fitting a finite sample, which only a drawn next generation sees (docs/direction.md).

The positions are those of the first samples covering FORECAST_POSITIONS of them (the samples are i.i.d.).
Opt-in: it scores the samples again, under the decoding.
"""
from __future__ import annotations

import numpy as np

from lmcollapse.corpora.contexts import context_rows, positions
from lmcollapse.metrics.base import GenerationView, metric
from lmcollapse import seeding

FORECAST_POSITIONS = 20_000  # sampled positions read (standard error of the mean entropy ~1e-2 nats or less)
NEXT_FIT_DRAWS = 4  # next generations drawn for a count model's entropy_step (with 4, the first step of 15 KJV
# cells was forecast within 0.002 nats on average: docs/direction.md)
NEURAL_NEXT_FIT_DRAWS = 1  # a neural model's next generation costs a generation's training: one draw
LAW_ROWS = 2_000  # next-token laws held at once: (rows, V) float64

COLUMNS = {
    "decoded_entropy": ("entropy (nats) of the law M_t samples with (after temperature, top-k, top-p) at the "
                        "positions of its own samples", None),
    "writes_minus_reads": ("decoded_entropy minus M_t's held-out cross-entropy over the targets it was trained "
                           "on (nats; end tokens left out under eos_loss false): above 0 the next generation is "
                           "forecast to drift towards noise, below 0 towards repetition", None),
    "lambda_eff": ("count models: the share n / (n + alpha V) of the next fit's law its counts decide, at the "
                   "samples' contexts", None, (0.0, 1.0)),
    "entropy_step": ("the next generation's model_entropy (drawn and refitted as a run would; neural models at "
                     "generation 0 only) minus M_t's (nats; below 0 towards repetition)", None),
}


@metric("direction_forecast", "which way the next generation's entropy goes, from generation t alone (P22)", None,
        default=False, columns=COLUMNS)
def direction_forecast(view: GenerationView) -> dict | None:
    samples = view.samples
    if len(samples) == 0 or view.sampler is None:
        return None
    enough = int(np.searchsorted(samples.offsets, FORECAST_POSITIONS)) + 1
    read = samples.take(np.arange(min(enough, len(samples))))
    doc, pos, _ = positions(read)
    if len(doc) == 0:
        return None
    out = {}
    if _counts_model(view.model):
        out = _count_forecast(view, read, doc, pos)
    else:
        decoded = 0.0
        for lo in range(0, len(doc), LAW_ROWS):
            laws = view.model.position_probs(read, doc[lo:lo + LAW_ROWS], pos[lo:lo + LAW_ROWS])  # (rows, V)
            decoded += float(_entropy(view.sampler.transform(laws)).sum())
        out["decoded_entropy"] = decoded / len(doc)
        if view.generation == 0 and view.next_learner is not None and view.samples_entropy is not None:
            after = [_next_generation_entropy(view, view.next_learner, k) for k in range(NEURAL_NEXT_FIT_DRAWS)]
            out["entropy_step"] = float(np.mean(after)) - view.samples_entropy
    out["writes_minus_reads"] = out["decoded_entropy"] - _reads(view)
    return out


def _reads(view: GenerationView) -> float:
    """M_t's held-out cross-entropy (nats per target) over the targets its training loss counted. A GPT
    trained with eos_loss false never learnt where a document ends, so each held-out end target costs it
    tens of nats, while its own samples (which run to the length cap) hold no end position at all. Counting
    those targets put the paper-masked well-fit GPT at -0.23 nats, "repetition", where its entropy then rose
    (docs/direction.md, "End-token masking"): the gap then measured the unlearnt end, not how noisily the
    model writes the text the next one learns."""
    if getattr(view.model, "eos_loss", True) or view.held_out.eos_id is None:
        return view.heldout_nll().value
    doc, logp = view.heldout_scores  # (P,), (P,): in document order, each document's end target last
    end = np.r_[doc[1:] != doc[:-1], True]  # (P,) True at each document's last target
    return float(-logp[~end].sum() / max(int((~end).sum()), 1))


def _next_generation_entropy(view: GenerationView, train, k: int) -> float:
    """Draw k of the next generation: |D_t| documents of M_t's decoded samples, trained on by `train`, read
    as model_entropy reads a model (at the first of its own samples covering ENTROPY_POSITIONS positions;
    GenerationView.samples_entropy)."""
    data_seed, sample_seed = _draw_seeds(view, k)
    refit = train(view.model.sample(len(view.train), sampler=view.sampler, seed=data_seed), data_seed)
    own = refit.sample(len(view.entropy_documents), sampler=view.sampler, seed=sample_seed)
    return float(refit.context_entropies(own).mean())


def _draw_seeds(view: GenerationView, k: int) -> tuple[int, int]:
    """Draw k's seeds for the next generation's data and for its own samples, from (run seed, generation)."""
    return tuple(seeding.derived_seed(view.seed, view.generation, f"direction_forecast:{part}:{k}")
                 for part in ("data", "samples"))


def _count_forecast(view: GenerationView, read, doc: np.ndarray, pos: np.ndarray) -> dict:
    """decoded_entropy, lambda_eff and entropy_step of a count model. The next generation is drawn
    NEXT_FIT_DRAWS times as a run would draw it (|D_t| documents of M_t's decoded samples, refitted) and each
    refit is read as model_entropy reads a model: at the positions of its own samples (drawn as it would draw
    them). Reading the refits at M_t's positions instead misses that the samples move to other contexts: at
    temperature 1.15 with little smoothing that reading rises while model_entropy falls (docs/direction.md)."""
    model = view.model
    contexts = context_rows(read, doc, pos, max(model.context_width, 0))  # (P, width)
    distinct, at = np.unique(contexts, axis=0, return_counts=True)  # (m, width), (m,) positions at each
    weight = at / at.sum()  # (m,)
    decoded = np.zeros(len(distinct))
    for lo in range(0, len(distinct), LAW_ROWS):
        laws = np.atleast_2d(model.next_token_probs(distinct[lo:lo + LAW_ROWS]))  # (rows, V)
        decoded[lo:lo + LAW_ROWS] = _entropy(view.sampler.transform(laws))
    now = float(model.context_entropies(view.samples).mean())  # M_t at its own samples, as model_entropy reads it
    after, share = [], []
    for k in range(NEXT_FIT_DRAWS):
        data_seed, sample_seed = _draw_seeds(view, k)
        refit = type(model)(model.config).fit(model.sample(len(view.train), sampler=view.sampler, seed=data_seed))
        own = refit.sample(len(view.samples), sampler=view.sampler, seed=sample_seed)
        after.append(float(refit.context_entropies(own).mean()))
        n = refit.context_counts(distinct).astype(np.float64)  # (m,) the next fit's counts at M_t's contexts
        share.append(float(weight @ (n / (n + model.smoothing * refit.vocab_size_)) if model.smoothing > 0 else
                           weight @ (n > 0)))
    return {"decoded_entropy": float(weight @ decoded), "lambda_eff": float(np.mean(share)),
            "entropy_step": float(np.mean(after)) - now}


def _counts_model(model) -> bool:
    from lmcollapse.models.ngram import NGramModel

    return isinstance(model, NGramModel)


def _entropy(laws: np.ndarray) -> np.ndarray:
    from lmcollapse.theory.direction import entropy

    return entropy(laws)
