"""`theory check` row families beyond the unigram: the law of every context (per_context.py) and which
way collapse goes under each decoding (direction.py), each against many seeds of the real runner.

Per-context rows: for every case, generation and context, the largest |z| over the V entries of the mean
law across seeds against the predicted law (Z_LIMIT). The start context's law is exact; the others are the
second-order approximation of per_context.py, claimed where a context is expected 10 times or more.

Direction rows: the model_entropy metric (entropy of M_t's next-token law over the contexts of its own
samples), mean across seeds, against the Dirichlet-closure path of direction.py at the first, middle and
last generation, within Z_LIMIT standard errors plus DIRECTION_TOLERANCE of the predicted change since
generation 0 (the closure is an approximation: this is its stated accuracy); and the sign of the change
over the run, predicted against measured.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lmcollapse.running.readback import model_of_generation, stored_config
from lmcollapse.running.rundir import RunDir
from lmcollapse.models.decoding import Sampler
from lmcollapse.config import SamplerConfig, applicable
from lmcollapse.theory.direction import direction_for
from lmcollapse.studies.theory_labels import paradigm_label, slug_of
from lmcollapse.theory.per_context import ChainSpace, Setting, predict_contexts

DIRECTION_TOLERANCE = 0.15  # share of the predicted entropy change the closure may miss
TRUTH_SEED = 7  # one Markov truth shared by every seed of a case
COLLAPSE_EPS = 0.25  # a context has collapsed when its law keeps less than this share of the truth's signal
COLLAPSE_JUDGED = 0.75  # judged where the predicted n* lies within this share of the run's generations


@dataclass(frozen=True)
class ChainCase:
    """A bigram on a known Markov chain, many seeds sharing one truth."""

    paradigm: str
    alpha: float
    n: int
    vocab_size: int = 4
    length: int = 10
    rate: float = 0.5
    real_fraction: float = 0.5
    generations: int = 5
    sampler: tuple = ()  # (key, value) pairs of the sampler section
    concentration: float = 0.5

    @property
    def label(self) -> str:
        decoding = " ".join(f"{k}={v}" for k, v in self.sampler) or "pure"
        return (f"markov V={self.vocab_size} {paradigm_label(self.paradigm, self.rate, self.real_fraction)} "
                f"alpha={self.alpha} N={self.n} {decoding}")

    @property
    def slug(self) -> str:
        return slug_of(self.label)

    @property
    def collect(self):
        return chain_history

    def config(self, seed: int) -> dict:
        return {"seed": seed, "generations": self.generations, "metrics": ["real_fraction", "model_entropy"],
                "corpus": {"name": "markov", "vocab_size": self.vocab_size, "order": 1,
                           "concentration": self.concentration, "doc_length": self.length, "n_train": self.n,
                           "n_eval": 10, "truth_seed": TRUTH_SEED},
                "model": {"name": "ngram", "order": 2, "smoothing": self.alpha},
                "sampler": dict(self.sampler),
                "paradigm": applicable("paradigm", {"name": self.paradigm, "rate": self.rate,
                                                    "real_fraction": self.real_fraction})}

    def sampler_object(self) -> Sampler:
        return Sampler(SamplerConfig(**dict(self.sampler)))

    def truth(self):
        from lmcollapse.running.parts import load_config
        from lmcollapse.sources import SOURCES

        config = load_config(self.config(0))
        return SOURCES.build(config.corpus, seed=0).truth

    def setting(self) -> Setting:
        return Setting(self.paradigm, self.n, self.length, self.alpha, self.generations, rate=self.rate,
                       real_fraction=self.real_fraction, sampler=self.sampler_object())


def chain_history(run_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """Read in the worker that ran it: every generation's law at every context (T, S, V) and the
    model_entropy metric (T,)."""
    rd = RunDir(run_dir)
    config = stored_config(run_dir)
    space = ChainSpace.build(config.corpus.order, config.corpus.vocab_size, config.corpus.doc_length)
    contexts = np.array(space.states, dtype=np.int64)
    laws = np.array([model_of_generation(config, rd, t, None).next_token_probs(contexts)
                     for t in range(config.generations)])
    entropies = np.array([row["model_entropy"] for row in rd.metrics_rows(config.generations)])
    return laws, entropies


def _row(label: str, quantity: str, t: int, predicted: float, measured: float, se: float, z: float,
         ok: bool, **extra) -> dict:
    return {"case": label, "quantity": quantity, "generation": t, "predicted": float(predicted),
            "measured": float(measured), "se": float(se), "z": float(z), "ok": bool(ok), **extra}


def context_rows(case: ChainCase, laws: np.ndarray, z_limit: float) -> list[dict]:
    """Per generation and context: the largest |z| of the V entries of the mean law against the prediction."""
    pred = predict_contexts(case.truth(), case.setting())
    covered = pred.covered()
    seeds = laws.shape[0]
    mean = laws.mean(axis=0)  # (T, S, V)
    se = laws.std(axis=0, ddof=1) / np.sqrt(seeds)
    rows = []
    for t in range(case.generations):
        for s, ctx in enumerate(pred.contexts):
            if not covered[t, s]:
                continue
            with np.errstate(divide="ignore", invalid="ignore"):
                z = np.where(se[t, s] > 1e-12, (mean[t, s] - pred.probs[t, s]) / se[t, s],
                             np.where(np.abs(mean[t, s] - pred.probs[t, s]) <= 3.0 / seeds, 0.0, np.inf))
            worst = int(np.argmax(np.abs(z)))
            kind = "exact" if pred.exact[s] else f"2nd order, E[n]={pred.expected_count[t, s]:.0f}"
            name = "start" if ctx[-1] < 0 else ",".join(map(str, ctx))
            rows.append(_row(case.label, f"law at context {name} ({kind}), token {worst}", t,
                             pred.probs[t, s, worst], mean[t, s, worst], se[t, s, worst], z[worst],
                             abs(z[worst]) <= z_limit))
    return rows


def direction_rows(case: ChainCase, entropies: np.ndarray, z_limit: float) -> list[dict]:
    """model_entropy against the closure's path at the first, middle and last generation, and the sign."""
    from lmcollapse.running.parts import load_config

    path = direction_for(load_config(case.config(0)))  # the truth is shared by every seed (truth_seed)
    predicted = path.expected_entropy
    seeds, last = entropies.shape[0], case.generations - 1
    mean = entropies.mean(axis=0)
    se = entropies.std(axis=0, ddof=1) / np.sqrt(seeds)
    rows = []
    for t in sorted({0, last // 2, last}):
        tolerance = z_limit * se[t] + DIRECTION_TOLERANCE * abs(predicted[t] - predicted[0])
        claimed = t <= path.valid_until
        rows.append(_row(case.label, "model entropy (nats)" + ("" if claimed else
                         f", beyond the closure (holds to generation {path.valid_until}): shown, not judged"),
                         t, predicted[t], mean[t], se[t], (mean[t] - predicted[t]) / se[t] if se[t] > 0 else 0.0,
                         abs(mean[t] - predicted[t]) <= tolerance or not claimed, tolerance=tolerance))
    change = entropies[:, last] - entropies[:, 0]
    predicted_change = predicted[last] - predicted[0]
    change_se = change.std(ddof=1) / np.sqrt(seeds)
    way = lambda d: "repetition" if d < 0 else "noise"  # noqa: E731
    rows.append(_row(case.label, f"entropy change 0->{last}: predicted {way(predicted_change)}, measured "
                                 f"{way(change.mean())}", -1, predicted_change,
                     change.mean(), change_se, (change.mean() - predicted_change) / change_se if change_se else 0.0,
                     np.sign(change.mean()) == np.sign(predicted_change) and abs(change.mean()) > 2 * change_se))
    return rows


def signal_left(laws: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """c of each law (..., S, V) projected on q + c (p(. | x) - q) per context: the truth's signal left."""
    signal = truth - 1.0 / truth.shape[-1]  # (S, V)
    return ((laws - 1.0 / truth.shape[-1]) * signal).sum(axis=-1) / (signal * signal).sum(axis=-1)


def first_below(values: np.ndarray, eps: float) -> int | None:
    below = np.flatnonzero(values < eps)
    return int(below[0]) if len(below) else None


def collapse_time_rows(case: ChainCase, laws: np.ndarray) -> list[dict]:
    """n*(r) per context: the first generation at which the seed-averaged law keeps less than COLLAPSE_EPS
    of its context's signal, against the per-context prediction (the same projection of the predicted mean
    law), judged for contexts whose predicted n* is within COLLAPSE_JUDGED of the run. The closed-form law
    beside it, ((lambda_x / eps)^(1 / (1 - lambda_x)) - 1) / r with lambda_x = E[n_x] / (E[n_x] + alpha V)
    at generation 0, is the unigram's asymptotic n*(r) (collapse_time.py) per context: shown, not judged.
    Tolerance as for the unigram's rows: the largest of 2 generations, 10% of n* and 4 standard errors of
    the measured signal at n* over the predicted slope there."""
    pred = predict_contexts(case.truth(), case.setting())
    predicted_c = signal_left(pred.probs, pred.truth)  # (T, S)
    measured_c = signal_left(laws, pred.truth)  # (seeds, T, S)
    seeds = laws.shape[0]
    rows = []
    for s, ctx in enumerate(pred.contexts):
        predicted = first_below(predicted_c[:, s], COLLAPSE_EPS)
        if predicted is None or predicted > COLLAPSE_JUDGED * case.generations or predicted == 0:
            continue
        measured = first_below(measured_c[:, :, s].mean(axis=0), COLLAPSE_EPS)
        slope = abs(predicted_c[predicted - 1, s] - predicted_c[predicted, s])
        if slope < 1e-9:  # a crossing on a flat stretch has no position to check
            continue
        se = measured_c[:, predicted, s].std(ddof=1) / np.sqrt(seeds) / slope  # in generations
        tolerance = max(2.0, 0.1 * predicted, 4 * se)
        lam = pred.expected_count[0, s] / (pred.expected_count[0, s] + case.alpha * case.vocab_size)
        law = ((lam / COLLAPSE_EPS) ** (1 / (1 - lam)) - 1) / case.rate
        name = "start" if ctx[-1] < 0 else ",".join(map(str, ctx))
        rows.append(_row(case.label, f"collapse generation at context {name} (signal < {COLLAPSE_EPS}; lambda "
                                     f"{lam:.2f}, asymptotic law {law:.1f})", -1, predicted,
                         np.nan if measured is None else measured, se, np.nan,
                         measured is not None and abs(measured - predicted) <= tolerance, tolerance=tolerance))
    return rows


@dataclass
class Families:
    """The cases of each family for a battery size, each with its number of seeds."""

    contexts: list[tuple[ChainCase, int]] = field(default_factory=list)
    directions: list[tuple[ChainCase, int]] = field(default_factory=list)
    collapse_times: list[tuple[ChainCase, int]] = field(default_factory=list)


def seed_split(seeds: int) -> tuple[int, int]:
    """Seeds per case of the longer runs (Kazdan's, the chains') and of the collapse-time cases (the
    longest), from the battery's seeds per unigram case."""
    return max(seeds * 2 // 3, 20), max(seeds // 4, 20)


def families(quick: bool, seeds: int) -> Families:
    """The cases; seeds: the battery's seeds per unigram case (these runs are longer: fewer, seed_split)."""
    context_cases = [ChainCase("replace", 0.5, 50)]
    if not quick:
        context_cases += [ChainCase("accumulate-subsample", 0.5, 50), ChainCase("mix", 0.5, 50),
                          ChainCase("accumulate", 0.5, 50), ChainCase("replace", 0.0, 200),
                          ChainCase("accumulate-subsample", 0.0, 200, rate=0.1)]
    decodings = [(), (("temperature", 0.7),)]
    if not quick:
        decodings += [(("top_p", 0.9),), (("top_k", 3),)]
    direction_cases = [ChainCase("replace", 0.05, 100, vocab_size=6, generations=10, sampler=d) for d in decodings]
    if not quick:
        direction_cases += [ChainCase("replace", 1.0, 100, vocab_size=6, generations=10)]
    # n*(r) per context: the rate halves n* about doubles (alpha 20: lambda_x from 0.38 to 0.70).
    rates = [(0.5, 18)] if quick else [(0.5, 18), (0.2, 36)]
    collapse_cases = [ChainCase("accumulate-subsample", 20.0, 50, rate=r, generations=g) for r, g in rates]
    long_seeds, collapse_seeds = seed_split(seeds)
    return Families([(c, long_seeds) for c in context_cases], [(c, long_seeds) for c in direction_cases],
                    [(c, collapse_seeds) for c in collapse_cases])
