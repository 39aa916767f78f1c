"""N-grams as int64 keys: the one place that knows how tokens are packed into numbers.

A sequence of symbols is packed by Horner's rule, oldest symbol first, as digits of a base: `base` is V
for n-grams of ordinary tokens and V + 1 where a pad symbol (V) marks "before the document starts".
Sets of keys are kept sorted and distinct, so membership is a searchsorted and union a sort.

Also here: the documents-end-to-end stream the count model and the metrics read n-grams from, and the
chunking that keeps their memory bounded. A leaf module: it imports nothing else of lmcollapse's but
the corpus type and the error class.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Sequence

import numpy as np

from lmcollapse.errors import LmcollapseError

if TYPE_CHECKING:
    from lmcollapse.corpora.corpus import Corpus

COUNT_CHUNK = 1 << 20  # tokens counted together; counts are merged chunk by chunk


def horner(digits: Sequence[np.ndarray] | np.ndarray, base: int) -> np.ndarray:
    """Pack digit columns, oldest (most significant) first, into int64 keys: digits (k, m) or a list of k
    arrays (m,) -> (m,). With no columns, every key is 0."""
    if isinstance(digits, np.ndarray):  # (k, m): k may be 0 and the keys still number m
        columns, m = [digits[i] for i in range(digits.shape[0])], digits.shape[1]
    else:
        columns = list(digits)
        m = len(columns[0]) if columns else 0
    keys = np.zeros(m, dtype=np.int64)
    for column in columns:
        keys *= base
        keys += column
    return keys


def unpack(keys: np.ndarray, base: int, width: int) -> np.ndarray:
    """The inverse of horner: keys (m,) -> digits (m, width), oldest first."""
    if width == 0:
        return np.zeros((len(keys), 0), np.int64)
    return np.stack([(keys // base**i) % base for i in range(width - 1, -1, -1)], axis=1)


def sorted_distinct(keys: np.ndarray) -> np.ndarray:
    """np.unique(keys) by sorting: several times faster than numpy 2's default for large int64 arrays."""
    if len(keys) == 0:
        return keys
    ordered = np.sort(keys)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


def sorted_union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted distinct keys of a and b together."""
    return sorted_distinct(np.concatenate([a, b]))


def merge_counts(keys_a: np.ndarray, counts_a: np.ndarray, keys_b: np.ndarray, counts_b: np.ndarray):
    """Union of two (key, count) tables as sorted distinct keys, adding the counts of keys found in both."""
    keys = np.concatenate([keys_a, keys_b])
    counts = np.concatenate([counts_a, counts_b])
    if len(keys) == 0:
        return keys, counts
    order = np.argsort(keys, kind="stable")
    keys, counts = keys[order], counts[order]
    first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    return keys[first], np.add.reduceat(counts, first)


def document_chunks(offsets: np.ndarray, chunk_tokens: int) -> list[tuple[int, int]]:
    """Split documents into consecutive ranges [lo, hi) of about chunk_tokens tokens each."""
    n_docs = len(offsets) - 1
    cuts = np.searchsorted(offsets, np.arange(chunk_tokens, offsets[-1], chunk_tokens))
    bounds = np.unique(np.r_[0, np.minimum(cuts, n_docs), n_docs])
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist())) or [(0, n_docs)]


def padded_stream(tokens: np.ndarray, lengths: np.ndarray, order: int, vocab_size: int,
                  eos_id: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Lay documents end to end, each after order-1 pad symbols and before its end token.

    Returns (stream, targets): stream is int32 with pad = vocab_size; targets are the stream positions of
    every predicted symbol (document tokens, plus the end token when eos_id is set).
    """
    pad = order - 1
    seg_len = lengths + pad + (1 if eos_id is not None else 0)  # (n_docs,)
    seg_start = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(seg_len[:-1], out=seg_start[1:])
    stream = np.full(int(seg_len.sum()), vocab_size, dtype=np.int32)
    is_token = np.ones(len(stream), dtype=bool)  # a boolean mask keeps the extra memory at 1 byte/token
    for k in range(pad):
        is_token[seg_start + k] = False
    if eos_id is not None:
        end = seg_start + pad + lengths
        is_token[end] = False
        stream[is_token] = tokens
        stream[end] = eos_id
        is_token[end] = True  # end tokens are predicted too
    else:
        stream[is_token] = tokens
    return stream, np.flatnonzero(is_token)


def context_keys_of_targets(stream: np.ndarray, targets: np.ndarray, width: int, base: int) -> np.ndarray:
    """(P,) key of the `width` symbols before each target of a padded stream (pad included)."""
    return horner([stream[targets - i] for i in range(width, 0, -1)], base) if width else \
        np.zeros(len(targets), np.int64)


def document_of_token(corpus: "Corpus", dtype=np.int64) -> np.ndarray:
    """(n_tokens,) index of the document each token belongs to."""
    return np.repeat(np.arange(len(corpus), dtype=dtype), corpus.lengths)


def packs(vocab_size: int, n: int) -> bool:
    """Whether n-grams over vocab_size symbols pack into 63-bit keys."""
    return vocab_size ** n < 2**63


def check_fits(vocab_size: int, n: int) -> None:
    if not packs(vocab_size, n):
        raise LmcollapseError(f"{n}-grams over a vocabulary of {vocab_size} do not fit 63-bit keys; use a smaller n")


def doc_ngrams(corpus: "Corpus", n: int) -> tuple[np.ndarray, np.ndarray]:
    """(keys (P,), docs (P,)): every n-gram occurrence inside a document (never across a boundary, never
    with the end token), packed in base V."""
    V = corpus.vocab_size
    check_fits(V, n)
    tokens = corpus.tokens.astype(np.int64)
    doc = document_of_token(corpus)
    if len(tokens) < n:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.arange(len(tokens) - n + 1)
    starts = starts[doc[starts] == doc[starts + n - 1]]  # the n-gram ends in the document it starts in
    return horner([tokens[starts + i] for i in range(n)], V), doc[starts]


def ngram_counts(corpus: "Corpus", n: int) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys (sorted), occurrences) of the n-grams inside documents, counted in chunks of
    documents so that memory follows the number of distinct n-grams, not the corpus."""
    keys, counts = np.zeros(0, np.int64), np.zeros(0, np.int64)
    for lo, hi in document_chunks(corpus.offsets, COUNT_CHUNK):
        part_keys, part_counts = np.unique(doc_ngrams(corpus.take(np.arange(lo, hi)), n)[0], return_counts=True)
        keys, counts = merge_counts(keys, counts, part_keys, part_counts)
    return keys, counts


def sort_digits(symbols: np.ndarray, bound: int) -> np.ndarray:
    """symbols (all below bound) in the narrowest type numpy sorts stably by counting: uint16 up to 2^16
    symbols; int64 beyond, sorted by comparison."""
    return symbols.astype(np.uint16) if bound <= 1 << 16 else symbols.astype(np.int64)


def prepend_older(digits: np.ndarray, position: np.ndarray, key: np.ndarray, back: int,
                  weight: int) -> tuple[np.ndarray, np.ndarray]:
    """One level up an n-gram climb: (position (P,), key (P,)) sorted by key, then position -> the same
    positions with the symbol `back` places before each prepended to its key (key + symbol * weight, weight
    above every key so far), sorted again. A stable sort on that symbol alone does it: ties keep the order
    of the shorter keys. key is updated in place before the reorder."""
    older = digits[position - back]  # (P,)
    order = np.argsort(older, kind="stable")
    older = older.astype(np.int64)
    older *= weight
    key += older
    del older
    return position[order], key[order]


def sorted_ngram_levels(corpus: "Corpus", up_to: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(n, keys (P_n,), positions (P_n,)) for n = 1 .. up_to: every n-gram inside a document, as its key and
    the position of its last token, sorted by key and, among equal keys, by position (so by document).

    Each level is made from the one before by a single stable sort on one token: key_n = first * V^(n-1) +
    key_(n-1), so sorting a sequence already in (key_(n-1), position) order stably by the n-gram's first
    token leaves it in (key_n, position) order, and numpy sorts 16-bit tokens stably by counting. That is
    one counting sort per level instead of a comparison sort of every level's int64 keys."""
    V, tokens = corpus.vocab_size, corpus.tokens
    check_fits(V, up_to)
    digits = sort_digits(tokens, V)  # (N,)
    # (N,) the longest n-gram of its document that ends at each position (its index in the document + 1),
    # capped at 255: no key holds more than 62 tokens
    reach = np.arange(1, len(tokens) + 1) - np.repeat(corpus.offsets[:-1], corpus.lengths)
    reach = np.minimum(reach, 255).astype(np.uint8)
    position = np.argsort(digits, kind="stable").astype(np.int32 if len(tokens) < 2**31 else np.int64)  # (P_1,)
    key = tokens[position].astype(np.int64)  # (P_1,)
    for n in range(1, up_to + 1):
        if n > 1:
            inside = reach[position] >= n  # the n-gram ending here starts in the same document
            position, key = position[inside], key[inside]
            del inside
            position, key = prepend_older(digits, position, key, n - 1, V ** (n - 1))  # (P_n,) each
        yield n, key, position
