"""The metric contract: a function of one GenerationView, registered as one MetricSpec (its columns, their
directions and meanings, what it needs, whether it is opt-in, its reference columns).

It returns a float, a Resampled value (which also gets a 95% confidence interval, kept apart from the
values in the MetricsRow; see resampling.py and row.py), or None when it does not apply (for example
kl_to_truth on real text). A Resampled value's on_subset / on_subsets may run in a thread beside other
columns' (measure draws the intervals side by side), so they only read the arrays they close over.
A metric that measures several things at once (the downstream probe) declares its columns when it is
registered and returns a dict column -> value.
Non-finite values are written to metrics.jsonl as null. What stays fixed for a whole run (statistics of
the real data) lives in RealStatistics, computed once; what several metrics of one generation share is
memoised by the view.
"""
from __future__ import annotations

import inspect
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from lmcollapse import seeding
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.errors import LmcollapseError
from lmcollapse.corpora.ngrams import (
    COUNT_CHUNK,
    context_keys_of_targets,
    document_chunks,
    ngram_counts,
    packs,
    padded_stream,
    sorted_union,
    unpack,
)
from lmcollapse.registry import Registry
from lmcollapse.metrics.occurrences import Occurrences, occurrence_levels
from lmcollapse.metrics.resampling import Resampled, weighted_mean
from lmcollapse.metrics.row import MetricsRow

if TYPE_CHECKING:
    from lmcollapse.models.base import LanguageModel


#: What a metric may need beyond the generation's documents and model; a metric whose need is not met
#: returns None (skipped, not an error).
NEEDS = {"truth": "a known-truth corpus (categorical, markov)",
         "support": "a model that records which continuations it saw in training (the count model)",
         "probe": "probe.task set, and a model with hidden states (gpt, hf)",
         "gates": "quality gates in the config",
         "neural": "a neural model (gpt, hf): what its training recorded",
         "text": "a text corpus (documents with text)",
         "extra:embed": "pip install 'lmcollapse[embed]'",
         "extra:detect": "pip install 'lmcollapse[detect]'"}


# What each metric is about, in the order reports show them, with the sentence that opens its section.
CONCERNS = {
    "distance": ("Distance to the real data", "How far the model has moved from the real text: held-out "
                 "perplexity and, on a known truth, the exact divergence; higher means further from the data."),
    "diversity": ("Diversity of what the model writes", "Whether the samples narrow towards repetition (distinct "
                  "n-grams falling, self-BLEU rising) or spread towards noise (entropy rising)."),
    "tails": ("Tails and support", "Whether the rare events of the real data survive: the first thing a collapsing "
              "model loses."),
    "composition": ("The data's composition", "What the models train on: how much of it is real, and what the "
                    "gates let through. These are set by the paradigm, not learnt."),
    "fit": ("How well the model fits its data", "Whether generation t's model learnt its training set: its "
            "training loss, and how much probability it gives the tokens it was trained on. An under-fit model "
            "writes noisier text than it reads, whatever the data."),
    "downstream": ("Downstream probe", "What the model's features are still good for, against the same "
                   "architecture randomly initialised."),
}
SHARE = (0.0, 1.0)  # the range of a share, a fraction, an accuracy
ENTROPY_POSITIONS = 200_000  # sampled positions averaged for the samples' entropy (standard error ~1e-3 nats)
NON_NEGATIVE = (0.0, None)  # divergences, entropies, NLL, lengths


@dataclass(frozen=True)
class Column:
    """One column of a metrics row."""

    name: str
    description: str
    higher_is_better: bool | None  # None: neither direction is better
    bounds: tuple[float | None, float | None] = (None, None)  # the values it can take; intervals stay inside

    def clip(self, low: float | None, high: float | None) -> tuple[float | None, float | None]:
        """An interval cut to the column's range (a share's interval never leaves [0, 1])."""
        lo_bound, hi_bound = self.bounds
        if low is not None and lo_bound is not None:
            low = max(low, lo_bound)
        if high is not None and hi_bound is not None:
            high = min(high, hi_bound)
        return low, high


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric: everything known about it, in one place."""

    name: str
    compute: Callable[["GenerationView"], Any]  # -> float, Resampled, a dict column -> value, or None
    description: str
    higher_is_better: bool | None
    columns: tuple[Column, ...]  # what it writes: itself, unless it declares several
    needs: tuple[str, ...] = ()  # keys of NEEDS
    opt_in: bool = False  # computed only when the config lists it (slow, or needs an extra)
    references: tuple[tuple[str, str], ...] = ()  # (column, the column holding its reference value) for plots
    by_design: bool = False  # its change over generations is set by the paradigm, not learnt: no early warning
    concern: str = "diversity"  # a key of CONCERNS: the section of the reports it is drawn in

    def __call__(self, view: "GenerationView"):
        return self.compute(view)


def _keeps_the_metric_contract(spec) -> str | None:
    if not isinstance(spec, MetricSpec):
        return "register metrics with the @metric decorator (a MetricSpec)"
    if spec.concern not in CONCERNS:
        return f"concern {spec.concern!r} is none of: {', '.join(CONCERNS)}"
    if not callable(spec.compute):
        return "a metric must be a function of one GenerationView"
    required = [p for p in inspect.signature(spec.compute).parameters.values() if p.default is inspect.Parameter.empty]
    if len(required) != 1:
        return f"a metric takes exactly one required argument (the GenerationView), not {len(required)}"
    unknown = [n for n in spec.needs if n not in NEEDS]
    if unknown:
        return f"needs {unknown[0]!r}, which is none of: {', '.join(NEEDS)}"
    names = [c.name for c in spec.columns]
    if not names or len(set(names)) != len(names):
        return "a metric writes at least one column, each once"
    return None


METRICS = Registry("metric", check=_keeps_the_metric_contract)
INTERVAL_THREADS = 2  # columns whose intervals are drawn at once (benchmarks/ngram_throughput.py: against one at a time)
SORTED_TOGETHER = 3  # n-gram levels the view sorts in one climb: distinct_1 to distinct_3 count up to trigrams
MEASURED_DOCS = 50_000  # generated documents the sample-based metrics look at (bounded time and memory)
TAIL_SHARE = 0.10  # the tail: the rarest real types that together make up 10% of real occurrences
MAX_PACKED = 2**63 - 1  # n-gram keys (context key * V + token) must stay below this


def metric(name: str, description: str, higher_is_better: bool | None, default: bool = True,
           columns: dict[str, tuple] | None = None, needs: tuple[str, ...] = (),
           references: dict[str, str] | None = None, by_design: bool = False,
           bounds: tuple[float | None, float | None] = (None, None), concern: str = "diversity"):
    """Register a function of one GenerationView as the metric `name` (one MetricSpec). columns: for a metric
    that returns a dict, each column's (description, direction[, bounds]); default=False: opt-in; bounds: the
    range of its values (SHARE for shares and accuracies)."""
    def decorate(fn: Callable[["GenerationView"], "float | Resampled | dict | None"]):
        declared = tuple(Column(c, *spec) for c, spec in columns.items()) if columns else (
            Column(name, description, higher_is_better, bounds),)
        spec = MetricSpec(name, fn, description, higher_is_better, declared, tuple(needs), not default,
                          tuple((references or {}).items()), by_design, concern)
        METRICS.register(name, description)(spec)
        return fn

    return decorate


def specs() -> list[MetricSpec]:
    return [METRICS.get(name) for name in METRICS.names()]


def measured_columns() -> list[str]:
    """Every column a metrics row can hold (intervals aside), metric by metric in name order."""
    return [column.name for spec in specs() for column in spec.columns]


def _column(name: str) -> Column | None:
    return next((c for spec in specs() for c in spec.columns if c.name == name), None)


def describe_column(column: str) -> str:
    found = _column(column)
    return found.description if found else ""


def column_bounds(column: str) -> Column:
    """The column's spec (an unknown column: one without bounds)."""
    return _column(column) or Column(column, "", None)


def column_concern(column: str) -> str:
    """The CONCERNS key of the metric that writes a column (an unknown column: diversity)."""
    return next((spec.concern for spec in specs() if any(c.name == column for c in spec.columns)), "diversity")


def column_direction(column: str) -> bool | None:
    """True: higher is better, False: lower is better, None: neither (or an unknown column)."""
    found = _column(column)
    return found.higher_is_better if found else None


def watched_for_departures(column: str) -> bool:
    """Whether early warning looks at a column: not those whose change the paradigm sets (real_fraction...)."""
    return not any(spec.by_design for spec in specs() if any(c.name == column for c in spec.columns))


def reference_of(column: str) -> str | None:
    """The column whose value is drawn as a reference line beside `column` (e.g. the random-init baseline)."""
    return next((ref for spec in specs() for c, ref in spec.references if c == column), None)


class RealStatistics:
    """Statistics of the real training set R, computed once per run on first use (R never changes)."""

    def __init__(self, real: Corpus):
        self.real = real
        self._distinct: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._rare: dict[int, np.ndarray] = {}
        self._bigrams: np.ndarray | None = None

    def distinct_ngrams(self, order: int) -> tuple[np.ndarray, np.ndarray]:
        """Each distinct n-gram of R once (n = order, padded at document starts): (contexts (m, order-1)
        with -1 before the start, tokens (m,))."""
        if order not in self._distinct:
            self._distinct[order] = distinct_ngrams(self.real, order)
        return self._distinct[order]

    def rare_ngrams(self, n: int) -> np.ndarray:
        """Sorted keys of R's tail n-grams: the rarest types that together make up TAIL_SHARE of occurrences."""
        if n not in self._rare:
            self._rare[n] = rare_keys(*ngram_counts(self.real, n))[0]
        return self._rare[n]

    def bigrams(self) -> np.ndarray:
        """Sorted keys of R's distinct bigrams (inside documents)."""
        if self._bigrams is None:
            self._bigrams = ngram_counts(self.real, 2)[0]
        return self._bigrams


def distinct_ngrams(real: Corpus, order: int) -> tuple[np.ndarray, np.ndarray]:
    """Each distinct n-gram of `real` once: (contexts (m, order-1) with -1 before the start, tokens (m,)).

    N-grams are packed into one int64 key (context key * V + token, as in the count tables) and
    collected chunk by chunk, so memory follows the number of distinct n-grams."""
    V, base, width = real.vocab_size, real.vocab_size + 1, order - 1
    if base**width * V >= MAX_PACKED:
        raise LmcollapseError(f"support_fraction: order {order} n-grams over {V} tokens do not fit 63 bits; "
                              f"drop the metric or lower model.order")
    keys = np.zeros(0, np.int64)
    for lo, hi in document_chunks(real.offsets, COUNT_CHUNK):
        part = real.offsets[lo:hi + 1]
        stream, targets = padded_stream(real.tokens[part[0]:part[-1]], np.diff(part), order, V, real.eos_id)
        key = context_keys_of_targets(stream, targets, width, base) * V + stream[targets]
        keys = sorted_union(keys, key)
    contexts = unpack(keys // V, base, width)
    contexts[contexts == V] = -1
    return contexts, keys % V


def rare_keys(distinct: np.ndarray, counts: np.ndarray, share: float = TAIL_SHARE) -> tuple[np.ndarray, float]:
    """The rarest distinct keys whose occurrences add up to at most `share` of all, and their exact share."""
    total = counts.sum()
    order = np.argsort(counts, kind="stable")
    cumulative = np.cumsum(counts[order])
    take = int(np.searchsorted(cumulative, share * total, side="right"))
    return np.sort(distinct[order[:take]]), float(cumulative[take - 1] / total) if take else 0.0


@dataclass
class GenerationView:
    """Everything a metric may look at for generation t."""

    generation: int
    model: "LanguageModel"  # M_t, fitted on train
    train: Corpus  # D_t
    pool: Corpus  # what D_t was drawn from
    samples: Corpus  # S_t, all generated documents
    kept: Corpus  # K_t, those that passed the gates
    real: Corpus  # R
    held_out: Corpus  # E
    truth: Any | None = None
    doc_length: int | None = None
    real_stats: RealStatistics | None = None  # the run's, shared across generations; else made from `real`
    probe: Any | None = None  # the run's downstream probe (a probes.run.ProbeRun), when probe.task is set
    max_tokens: int | None = None  # sampler.max_tokens: where end-token-terminated samples are cut
    acceptance: float | None = None  # share of drawn documents that passed the gates (runner with gates)
    sampler: Any | None = None  # the run's decoding (models.decoding.Sampler), which drew the samples
    seed: int = 0  # the run seed: a metric that draws takes its stream from (seed, generation, its name)
    # trains a model as generation t+1 would (its config, starting weights, calibration): (corpus, seed) -> the
    # fitted model; None where the run cannot say yet (running/loop.py: _next_learner)
    next_learner: Any | None = None
    _occurrences: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.real_stats is None:
            self.real_stats = RealStatistics(self.real)

    @cached_property
    def measured_samples(self) -> Corpus:
        """The first MEASURED_DOCS generated documents: i.i.d. draws, so a uniform subsample of S_t."""
        if len(self.samples) <= MEASURED_DOCS:
            return self.samples
        return self.samples.take(np.arange(MEASURED_DOCS))

    def occurrences(self, n: int) -> Occurrences:
        """The n-gram occurrences of the measured samples, sorted once and shared by every metric that
        counts them (distinct-n, repetition, tail mass, support loss)."""
        if n not in self._occurrences:
            # One climb from unigrams sorts every level up to n, and at least up to SORTED_TOGETHER (the
            # levels the default metrics count), so that each is made from the one below and nothing of the
            # climb outlives it.
            V = self.measured_samples.vocab_size
            up_to = max(n, *(k for k in range(1, SORTED_TOGETHER + 1) if packs(V, k)))
            for level, found in occurrence_levels(self.measured_samples, up_to):
                self._occurrences.setdefault(level, found)
        return self._occurrences[n]

    @cached_property
    def heldout_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """(document index, log-prob) of every predicted symbol of the held-out documents."""
        return self.model.token_log_probs(self.held_out)

    def heldout_nll(self) -> Resampled:
        doc, logp = self.heldout_scores
        n = len(self.held_out)
        return weighted_mean_ratio(-np.bincount(doc, weights=logp, minlength=n), np.bincount(doc, minlength=n))

    @cached_property
    def entropy_documents(self) -> Corpus:
        """The samples model_entropy reads: generated documents are i.i.d., so the first ones covering
        ENTROPY_POSITIONS positions are an unbiased sample of the model's contexts; using every position costs
        time and adds nothing visible."""
        enough = int(np.searchsorted(self.samples.offsets, ENTROPY_POSITIONS)) + 1
        return self.samples.take(np.arange(min(enough, len(self.samples))))

    @cached_property
    def samples_entropy(self) -> float | None:
        """The mean entropy (nats) of M_t's next-token law over contexts of its own samples (model_entropy,
        and the dispersion gap beside the held-out cross-entropy); None without a position to read."""
        s = self.samples
        if s.n_tokens == 0 and s.eos_id is None:
            return None
        first = self.entropy_documents
        if first.entropy_sums is not None and first.entropy_model == id(self.model):  # recorded while M_t sampled
            positions = first.n_tokens + (len(first) if first.eos_id is not None else 0)
            return float(first.entropy_sums.sum() / positions) if positions else None
        return float(self.model.context_entropies(first).mean())


def weighted_mean_ratio(sums: np.ndarray, counts: np.ndarray) -> Resampled:
    """sum(sums) / sum(counts) over documents: a per-token mean with documents as resampling units."""
    counts = counts.astype(np.float64)
    return weighted_mean(np.where(counts > 0, sums / np.maximum(counts, 1), 0.0), counts)


def default_metrics() -> list[str]:
    return [spec.name for spec in specs() if not spec.opt_in]


def interval_stream(seed: int, generation: int, column: str) -> np.random.Generator:
    """The half-samples of one column's interval: a stream of its own, named by (run seed, generation, column),
    so adding or removing a metric never moves another metric's interval."""
    return seeding.rng(seed, generation, f"interval:{column}")


def measure(view: GenerationView, names: list[str], seed: int | None = None, rounds: int = 0) -> MetricsRow:
    """One metrics row; with a run seed, Resampled values get a 95% interval from `rounds` half-samples
    (each column drawing from interval_stream)."""
    row = MetricsRow(view.generation)
    pending = []  # (column, Resampled) whose interval is still to draw
    for name in names:
        value = METRICS.get(name)(view)
        for column, part in (value.items() if isinstance(value, dict) else [(name, value)]):
            if part is None:
                continue
            estimate = part if isinstance(part, Resampled) else None
            number = estimate.value if estimate else part
            row.values[column] = float(number) if np.isfinite(number) else None
            if estimate is not None and seed is not None and rounds >= 2 and row.values[column] is not None:
                pending.append((column, estimate))

    def interval(job):
        column, estimate = job
        return estimate.interval(interval_stream(seed, view.generation, column), rounds)

    # Each column draws its half-samples from a stream of its own and only reads its arrays, so the columns
    # are drawn side by side: numpy's draws and array work release the GIL. The same numbers in any order.
    pool = ThreadPoolExecutor(max_workers=INTERVAL_THREADS)
    try:
        intervals = list(pool.map(interval, pending))
    finally:
        pool.shutdown(cancel_futures=True)  # Ctrl-C: columns not yet started never start
    for (column, _), found in zip(pending, intervals):
        if found is not None:
            low, high = (float(v) if np.isfinite(v) else None for v in found)
            row.intervals[column] = column_bounds(column).clip(low, high)
    return row
