"""Diversity of the generated documents S_t: distinct-n, self-BLEU, repetition (both also on each document's
first tokens only), lengths, Zipf slope and embedding diversity. Each returns a Resampled value (confidence
interval by half-sampling documents)."""
from __future__ import annotations

import dataclasses

import numpy as np

from lmcollapse.corpora.corpus import Corpus
from lmcollapse.metrics.base import NON_NEGATIVE, SHARE, GenerationView, metric
from lmcollapse.metrics.bleu import self_bleu_means, self_bleu_scores
from lmcollapse.metrics.occurrences import Occurrences, occurrence_levels
from lmcollapse.metrics.resampling import Resampled, weighted_mean

SUBSET_DOCS = 200  # documents for the quadratic metrics (self-BLEU, embedding diversity); i.i.d. samples
# repetition_32 and self_bleu_32 read each document's first PREFIX_TOKENS tokens only. Repetition and self-BLEU
# grow with a document's length (a longer document has more earlier bigrams to repeat, more n-grams to match),
# so a generation whose documents lengthen (towards the length cap) or shorten would move them with no change
# in how the text reads. Cut to a fixed prefix, every document at least this long is measured on the same
# number of tokens; 32 is about a KJV verse (median 27 words, about 43 BPE tokens) and a quarter of the
# paper's 128-token block, so most documents reach it and it still holds 31 bigrams to repeat. Shorter
# documents are read whole, so below 32 tokens the length confound remains.
PREFIX_TOKENS = 32
ZIPF_MAX_RANK = 1000


def _distinct(view: GenerationView, n: int) -> Resampled | None:
    grams = view.occurrences(n)
    if len(grams) == 0:
        return None

    def on_subset(mask):
        total = grams.per_doc[mask].sum()
        return grams.presence.count(mask) / total if total else np.nan

    def on_subsets(masks):
        total = masks.astype(np.int64) @ grams.per_doc  # (R,)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(total > 0, grams.presence.count_many(masks) / total, np.nan)

    return Resampled(grams.n_distinct / len(grams), grams.n_docs, on_subset, on_subsets)


for _n in (1, 2, 3):
    metric(f"distinct_{_n}", f"distinct {_n}-grams / all {_n}-grams within M_t's generated documents", True,
           bounds=SHARE)(
        lambda view, n=_n: _distinct(view, n))


@metric("repetition", "share of a generated document's bigrams that repeat an earlier one of the same "
                      "document, averaged over documents", False, bounds=SHARE)
def repetition(view: GenerationView) -> Resampled | None:
    return _repetition(view.occurrences(2))


@metric(f"repetition_{PREFIX_TOKENS}", f"repetition on each generated document's first {PREFIX_TOKENS} tokens only: "
                                       f"documents growing or shrinking above {PREFIX_TOKENS} tokens do not move it",
        False, bounds=SHARE)
def repetition_prefix(view: GenerationView) -> Resampled | None:
    prefixes = _prefixes(view.measured_samples, PREFIX_TOKENS)
    *_, (_, bigrams) = occurrence_levels(prefixes, 2)  # the last level the climb sorts: the bigrams
    return _repetition(bigrams)


def _prefixes(corpus: Corpus, k: int) -> Corpus:
    """corpus with each document cut to its first k tokens (one vectorised gather; text and recorded
    entropies no longer describe the cut documents, so they are dropped)."""
    within = np.arange(corpus.n_tokens) - np.repeat(corpus.offsets[:-1], corpus.lengths)  # (N,) index in its document
    offsets = np.zeros(len(corpus) + 1, np.int64)
    np.cumsum(np.minimum(corpus.lengths, k), out=offsets[1:])
    return dataclasses.replace(corpus, tokens=corpus.tokens[within < k], offsets=offsets, text=None,
                               entropy_sums=None, entropy_model=None)


def _repetition(grams: Occurrences) -> Resampled | None:
    """The mean over documents with at least one bigram (documents of 0 or 1 tokens have none and are left
    out) of the share of their bigrams that repeat an earlier one of the same document."""
    if len(grams) == 0:
        return None
    _, pair_doc, _ = grams.pairs  # one pair per distinct (bigram, document)
    per_doc_distinct = np.bincount(pair_doc, minlength=grams.n_docs)
    has = grams.per_doc > 0
    rates = np.where(has, 1 - per_doc_distinct / np.maximum(grams.per_doc, 1), 0.0)
    return weighted_mean(rates, has.astype(float))


@metric("length_mean", "mean tokens per generated document", None, bounds=NON_NEGATIVE)
def length_mean(view: GenerationView) -> Resampled | None:
    s = view.measured_samples
    return weighted_mean(s.lengths) if len(s) else None


@metric("capped_fraction", "share of generated documents cut at the length cap (sampler.max_tokens, or a neural "
                            "model's block) before they wrote an end token", False, bounds=SHARE)
def capped_fraction(view: GenerationView) -> Resampled | None:
    s = view.measured_samples
    if s.eos_id is None or view.max_tokens is None or not len(s):
        return None  # fixed-length documents are never cut
    cap = min(view.max_tokens, view.model.longest_sample or view.max_tokens)
    return weighted_mean((s.lengths >= cap).astype(np.float64))


@metric("length_std", "standard deviation of tokens per generated document", None, bounds=NON_NEGATIVE)
def length_std(view: GenerationView) -> Resampled | None:
    lengths = view.measured_samples.lengths.astype(np.float64)
    if len(lengths) < 2:
        return None
    def on_subsets(masks):  # the standard deviation from each subset's first two moments
        chosen = masks.astype(np.float64)
        k = chosen.sum(axis=1)
        mean = chosen @ lengths / k
        return np.sqrt(np.maximum(chosen @ (lengths - lengths.mean()) ** 2 / k - (mean - lengths.mean()) ** 2, 0.0))

    return Resampled(float(lengths.std()), len(lengths), lambda mask: float(lengths[mask].std()), on_subsets)


def zipf_slope_of(counts: np.ndarray) -> float:
    """Least-squares slope of log frequency on log rank over the types seen at least twice (singletons
    form a flat floor that says more about the sample size than about the law), ranks 1..1000."""
    ranked = np.sort(counts[counts >= 2])[::-1][:ZIPF_MAX_RANK]
    if len(ranked) < 3:
        return np.nan
    return float(np.polyfit(np.log(np.arange(1, len(ranked) + 1)), np.log(ranked), 1)[0])


def zipf_slopes_of(counts: np.ndarray) -> np.ndarray:
    """zipf_slope_of for each row of counts (R, V) at once, the least-squares slope in closed form."""
    kept = np.where(counts >= 2, counts, 0)  # (R, V)
    if kept.shape[1] > ZIPF_MAX_RANK:  # the largest K of each row first: a selection, not a sort of V
        kept = np.partition(kept, kept.shape[1] - ZIPF_MAX_RANK, axis=1)[:, -ZIPF_MAX_RANK:]
    ranked = -np.sort(-kept, axis=1)  # (R, K) descending
    used = ranked >= 2  # (R, K): a prefix of each row
    n = used.sum(axis=1)
    x = np.log(np.arange(1, ranked.shape[1] + 1))[None, :] * used
    with np.errstate(divide="ignore"):
        y = np.where(used, np.log(np.maximum(ranked, 1)), 0.0)
    sx, sy, sxy, sxx = x.sum(axis=1), y.sum(axis=1), (x * y).sum(axis=1), (x * x).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    return np.where(n >= 3, slope, np.nan)


@metric("zipf_slope", "slope of log frequency vs log rank of generated tokens (about -1 for natural text)", None)
def zipf_slope(view: GenerationView) -> Resampled | None:
    s = view.measured_samples
    if s.n_tokens == 0:
        return None
    tokens = view.occurrences(1)
    pair_type, pair_doc, pair_count = tokens.pairs  # a half-sample's counts come from (token, document) counts
    pair_token = tokens.distinct[pair_type]

    def on_subset(mask):
        return zipf_slope_of(np.bincount(pair_token, weights=pair_count * mask[pair_doc], minlength=s.vocab_size))

    def on_subsets(masks):  # each half-sample's token counts: counts (V, docs) @ masks (docs, R), sparse
        from scipy.sparse import csr_matrix

        # The pairs come sorted by token, then document: already the rows of a CSR matrix. Every sum is an
        # integer of at most n_tokens, which float32 (half the memory traffic) holds exactly below 2^24.
        exact = np.float32 if s.n_tokens < 2**24 else np.float64
        row_start = np.searchsorted(pair_token, np.arange(s.vocab_size + 1))
        counts = csr_matrix((pair_count.astype(exact), pair_doc, row_start), shape=(s.vocab_size, len(s)))
        return zipf_slopes_of((counts @ masks.T.astype(exact)).T.astype(np.float64))  # (R, V)

    return Resampled(zipf_slope_of(np.bincount(s.tokens, minlength=s.vocab_size)), len(s), on_subset, on_subsets)


@metric("self_bleu", f"mean BLEU-4 of each of {SUBSET_DOCS} generated documents against the others "
                     "(high = documents alike)", False, bounds=SHARE)
def self_bleu(view: GenerationView) -> Resampled | None:
    s = view.samples
    return _self_bleu([s.doc(i) for i in range(min(SUBSET_DOCS, len(s)))])


@metric(f"self_bleu_{PREFIX_TOKENS}", f"self_bleu on the same {SUBSET_DOCS} documents, each cut to its first "
                                     f"{PREFIX_TOKENS} tokens: documents growing or shrinking above {PREFIX_TOKENS} "
                                     "tokens do not move it", False, bounds=SHARE)
def self_bleu_prefix(view: GenerationView) -> Resampled | None:
    s = view.samples
    return _self_bleu([s.doc(i)[:PREFIX_TOKENS] for i in range(min(SUBSET_DOCS, len(s)))])


def _self_bleu(docs: list[np.ndarray]) -> Resampled | None:
    """The mean BLEU-4 of each document against the others, resampled by documents (at least 4)."""
    if len(docs) < 4:
        return None
    value = float(self_bleu_scores(docs).mean())
    return Resampled(value, len(docs), lambda mask: float(self_bleu_scores([d for d, m in zip(docs, mask) if m]).mean()),
                     lambda masks: self_bleu_means(docs, masks))


@metric("embedding_diversity", f"mean pairwise cosine distance of sentence embeddings of {SUBSET_DOCS} "
                               "generated texts (all-MiniLM-L6-v2; extra [embed]; only when listed)", True,
        default=False, needs=("text", "extra:embed"))
def embedding_diversity(view: GenerationView) -> Resampled | None:
    from lmcollapse.metrics.embeddings import embed

    s = view.samples
    if s.text is None or len(s) < 4:
        return None
    vectors = embed(list(s.text[:SUBSET_DOCS]))  # (K, d), unit length
    similarity = vectors @ vectors.T  # (K, K)

    def on_subset(mask):
        sub = similarity[np.ix_(mask, mask)]
        k = len(sub)
        return float(1 - (sub.sum() - np.trace(sub)) / (k * (k - 1)))

    return Resampled(on_subset(np.ones(len(vectors), bool)), len(vectors), on_subset)
