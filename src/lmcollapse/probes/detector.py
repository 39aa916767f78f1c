"""A detector of generated text: how well a linear classifier tells a model's documents from real ones.

Used by the `detector-resample` gate (gates/detector_resample.py; Drayson et al., EMNLP 2025, "Machine-
generated text detection prevents language model collapse") and by the `detector_auc` metric. Features are
hashed token n-grams (unigrams and bigrams of token ids, with a start symbol, so a document's first token
counts too), each document's vector L2-normalised: they work for every model and corpus, count models and
Markov chains included. Models with hidden states can give their final hidden state instead (the gate's
`features: hidden`). The classifier is scikit-learn's L2-regularised logistic regression (liblinear,
deterministic), fitted on as many real as generated documents.

The AUC is measured on documents the classifier never saw, so 0.5 means the two kinds cannot be told apart
and 1.0 that they always can."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmcollapse.corpora.corpus import Corpus
from lmcollapse.extras import require

HASH_BITS = 18  # 262,144 feature buckets: collisions are rare for vocabularies and corpora of this size
HASH_DIM = 1 << HASH_BITS
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing of the packed n-gram key


def _logistic_regression():
    require(["sklearn"], "the detector (detector-resample and detector-importance gates, detector_auc metric)")
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression


def auc(p_real: np.ndarray, p_generated: np.ndarray) -> float:
    """Area under the ROC curve of scores that should be higher for generated documents: the Mann-Whitney U of
    the generated scores over the real ones (from average ranks, so a tie counts a half) divided by the pairs.
    The same number as scikit-learn's roc_auc_score, in a twentieth of the time (its input checks cost a few
    ms a call, a visible share of a count model's generation of a few ms)."""
    from scipy.stats import rankdata

    n_real, n_generated = len(p_real), len(p_generated)
    ranks = rankdata(np.concatenate([p_real, p_generated]))  # (n_real + n_generated,) 1-based, ties averaged
    u = ranks[n_real:].sum() - n_generated * (n_generated + 1) / 2  # pairs a generated score wins
    return float(u / (n_real * n_generated))


def ngram_features(corpus: Corpus):
    """(documents, HASH_DIM) sparse matrix of hashed unigram and bigram counts, each row of unit length."""
    from scipy import sparse

    n = len(corpus)
    tokens = corpus.tokens.astype(np.uint64) + np.uint64(1)  # 0 is the start symbol
    doc = np.repeat(np.arange(n), corpus.lengths)
    first = np.zeros(len(tokens), dtype=bool)
    first[corpus.offsets[:-1][corpus.lengths > 0]] = True
    previous = np.concatenate([[np.uint64(0)], tokens[:-1]])
    previous[first] = 0  # a document's first token follows the start symbol, not the last document
    unigram = tokens
    bigram = (previous << np.uint64(32)) | tokens | np.uint64(1 << 63)  # the top bit tells bigrams apart
    keys = np.concatenate([unigram, bigram])
    rows = np.concatenate([doc, doc])
    columns = ((keys * _MULTIPLIER) >> np.uint64(64 - HASH_BITS)).astype(np.int64)  # the top bits
    matrix = sparse.csr_matrix((np.ones(len(keys)), (rows, columns)), shape=(n, HASH_DIM))
    matrix.sum_duplicates()
    row_of = np.repeat(np.arange(n), np.diff(matrix.indptr))  # (stored entries,)
    norms = np.sqrt(np.bincount(row_of, weights=matrix.data * matrix.data, minlength=n))  # exact: integer sums
    matrix.data *= (1.0 / np.maximum(norms, 1e-12))[row_of]  # each row scaled in place, not by a diagonal matmul
    return matrix


class FixedCorpusFeatures:
    """ngram_features of a corpus that does not change between calls (a run's R, seen by a gate every
    generation), computed once: a call with the same documents (ids and tokens, compared in microseconds)
    returns the matrix it made before."""

    def __init__(self):
        self._key: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._matrix = None

    def __call__(self, corpus: Corpus):
        key = (corpus.doc_id, corpus.lengths, corpus.tokens)
        if self._key is None or not all(np.array_equal(a, b) for a, b in zip(self._key, key)):
            self._key, self._matrix = tuple(a.copy() for a in key), ngram_features(corpus)
        return self._matrix


@dataclass
class Detector:
    """A fitted classifier: p(generated) for documents, from their features."""

    classifier: object
    featurize: object  # Corpus -> feature matrix

    @classmethod
    def fit(cls, real: Corpus, generated: Corpus, featurize=ngram_features, C: float = 1.0) -> "Detector":
        """Fitted on equally many real and generated documents (the first ones of the larger set)."""
        n = min(len(real), len(generated))
        if n < 2:
            raise ValueError("a detector needs at least two real and two generated documents")
        return cls(fit_classifier(featurize(real.take(np.arange(n))), featurize(generated.take(np.arange(n))), C),
                   featurize)

    def p_generated(self, corpus: Corpus) -> np.ndarray:
        """(documents,) the probability that each was generated."""
        if len(corpus) == 0:
            return np.zeros(0)
        return p_generated_of(self.classifier, self.featurize(corpus))

    def auc(self, real: Corpus, generated: Corpus) -> float:
        """Area under the ROC curve on these documents (ones it was not fitted on)."""
        return auc(self.p_generated(real), self.p_generated(generated))


def fit_classifier(x_real, x_generated, C: float = 1.0):
    """The logistic regression on feature rows (sparse or dense) of real and generated documents: the first
    n of the larger set, n the smaller set's size. p_generated_of(classifier, rows) scores rows."""
    LogisticRegression = _logistic_regression()
    from scipy import sparse

    n = min(x_real.shape[0], x_generated.shape[0])
    if n < 2:
        raise ValueError("a detector needs at least two real and two generated documents")
    stack = sparse.vstack if sparse.issparse(x_real) else np.vstack
    x = stack([x_real[:n], x_generated[:n]])
    y = np.concatenate([np.zeros(n), np.ones(n)])
    # The same objective either way; liblinear's dual coordinate descent works per document and its primal
    # Newton method per column, so the dual is the faster where columns outnumber documents (hashed n-grams:
    # about 3x at 1,500 documents and 36,000 used columns, benchmarks/detector_cost.py). The two optima agree
    # to the solver's tolerance (p_generated within 1e-4, tests/test_detector.py).
    dual = x.shape[1] > x.shape[0]
    return LogisticRegression(C=C, solver="liblinear", dual=dual, random_state=0).fit(x, y)


def p_generated_of(classifier, x) -> np.ndarray:
    """(rows,) a fitted detector's probability that each feature row (sparse or dense) is generated:
    expit(x w + b), which is what its predict_proba(x)[:, 1] computes, without scikit-learn's input checks (a
    few ms a call, four calls a generation)."""
    from scipy.special import expit

    return expit(np.asarray(x @ classifier.coef_.ravel()).ravel() + classifier.intercept_[0])


def used_columns(*matrices):
    """The matrices (sparse, with the same columns) restricted to the columns any of them uses. A logistic
    regression's solution is 0 on a column no document uses, so dropping them changes no probability, and
    liblinear's iterations, which sweep the whole weight vector, get cheaper: hashed n-grams fill a few
    thousand of HASH_DIM's 262,144 columns."""
    from scipy import sparse

    matrices = [sparse.csr_matrix(m) for m in matrices]
    width = matrices[0].shape[1]
    used = np.zeros(width, dtype=bool)
    for m in matrices:
        used[m.indices] = True
    columns = np.flatnonzero(used)  # (used,) increasing: each row's columns keep their sorted order
    new_column = np.empty(width, dtype=np.int64)  # (width,) only the used entries are ever read: not filled,
    new_column[columns] = np.arange(len(columns))  # where a cumulative sum over all 262,144 took 2 ms a call
    return [sparse.csr_matrix((m.data, new_column[m.indices], m.indptr), shape=(m.shape[0], len(columns)))
            for m in matrices]


def held_out_auc(real_fit: Corpus, generated_fit: Corpus, real_test: Corpus, generated_test: Corpus) -> float:
    """A detector fitted on one pair of sets and scored on another."""
    return Detector.fit(real_fit, generated_fit).auc(real_test, generated_test)
