"""Immutable corpora of token documents, each carrying its provenance.

A Corpus stores its documents as one flat token array plus offsets (a ragged array), so models can
work on all documents at once with numpy. Documents never include the end token: when
``eos_id`` is set, every document is understood to end with it, and models add it themselves.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

REAL, SYNTHETIC = 0, 1
ORIGIN_NAMES = ("real", "synthetic")


@dataclass(frozen=True)
class Provenance:
    """Where one document came from."""

    doc_id: int
    origin: str  # "real" or "synthetic"
    generation: int  # generation in which the document first entered the data (real: 0 or fresh)
    producer: str  # source name for real documents, "<model>@gen-<t>" for generated ones
    seed: int  # the derived seed of the stage that drew it


@dataclass(frozen=True, eq=False)
class Corpus:
    tokens: np.ndarray  # (total_tokens,) int32
    offsets: np.ndarray  # (n_docs + 1,) int64; document i is tokens[offsets[i]:offsets[i+1]]
    doc_id: np.ndarray  # (n_docs,) int64, unique within a run
    origin: np.ndarray  # (n_docs,) int8, REAL or SYNTHETIC
    generation: np.ndarray  # (n_docs,) int32
    producer: np.ndarray  # (n_docs,) object (str)
    seed: np.ndarray  # (n_docs,) int64
    vocab_size: int
    eos_id: int | None = None
    text: np.ndarray | None = field(default=None)  # (n_docs,) object (str) or None
    # (n_docs,) float64 or None: the sum, over each document's predicted positions (its tokens and its end), of
    # the entropy of the next-token law of the model that wrote it, recorded while it sampled (a neural model
    # computes each law anyway), so that model_entropy need not score the samples again. Kept by take() and
    # concat(); anything that builds documents anew (a gate's edits, a file) starts without it.
    entropy_sums: np.ndarray | None = field(default=None)
    entropy_model: int | None = None  # id() of the model whose laws entropy_sums sums: they count for it alone

    def __post_init__(self):
        n = len(self.offsets) - 1
        for name in ("doc_id", "origin", "generation", "producer", "seed"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"corpus column {name} has {len(getattr(self, name))} rows, expected {n}")
        if self.text is not None and len(self.text) != n:
            raise ValueError("corpus text column has the wrong length")
        if self.entropy_sums is not None and len(self.entropy_sums) != n:
            raise ValueError("corpus entropy_sums column has the wrong length")
        for arr in (self.tokens, self.offsets, self.doc_id, self.origin, self.generation, self.seed):
            arr.setflags(write=False)
        if self.entropy_sums is not None:
            self.entropy_sums.setflags(write=False)

    # ---- construction -------------------------------------------------------------------------
    @classmethod
    def from_documents(
        cls,
        docs: Sequence[Sequence[int]] | Sequence[np.ndarray],
        *,
        vocab_size: int,
        eos_id: int | None = None,
        origin: int = REAL,
        generation: int = 0,
        producer: str = "user",
        seed: int = 0,
        first_id: int = 0,
        text: Sequence[str] | None = None,
    ) -> "Corpus":
        lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
        tokens = np.concatenate([np.asarray(d, dtype=np.int32) for d in docs]) if len(docs) else np.zeros(0, np.int32)
        return cls.from_flat(tokens, lengths, vocab_size=vocab_size, eos_id=eos_id, origin=origin,
                             generation=generation, producer=producer, seed=seed, first_id=first_id, text=text)

    @classmethod
    def from_flat(cls, tokens: np.ndarray, lengths: np.ndarray, *, vocab_size: int, eos_id: int | None,
                  origin: int, generation: int, producer: str, seed: int, first_id: int,
                  text: Sequence[str] | None = None, entropy_sums: np.ndarray | None = None,
                  entropy_model: int | None = None) -> "Corpus":
        n = len(lengths)
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return cls(
            tokens=np.ascontiguousarray(tokens, dtype=np.int32),
            offsets=offsets,
            doc_id=np.arange(first_id, first_id + n, dtype=np.int64),
            origin=np.full(n, origin, dtype=np.int8),
            generation=np.full(n, generation, dtype=np.int32),
            producer=np.full(n, producer, dtype=object),
            seed=np.full(n, seed, dtype=np.int64),
            vocab_size=int(vocab_size),
            eos_id=eos_id,
            text=None if text is None else np.asarray(list(text), dtype=object),
            entropy_sums=None if entropy_sums is None else np.asarray(entropy_sums, dtype=np.float64),
            entropy_model=entropy_model,
        )

    @classmethod
    def concat(cls, parts: Iterable["Corpus"]) -> "Corpus":
        parts = [p for p in parts]
        if not parts:
            raise ValueError("cannot concatenate zero corpora")
        first = parts[0]
        for p in parts[1:]:
            if p.vocab_size != first.vocab_size or p.eos_id != first.eos_id:
                raise ValueError("cannot concatenate corpora with different vocabularies")
        lengths = np.concatenate([p.lengths for p in parts])
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        has_text = all(p.text is not None for p in parts)
        return cls(
            tokens=np.concatenate([p.tokens for p in parts]),
            offsets=offsets,
            doc_id=np.concatenate([p.doc_id for p in parts]),
            origin=np.concatenate([p.origin for p in parts]),
            generation=np.concatenate([p.generation for p in parts]),
            producer=np.concatenate([p.producer for p in parts]),
            seed=np.concatenate([p.seed for p in parts]),
            vocab_size=first.vocab_size,
            eos_id=first.eos_id,
            text=np.concatenate([p.text for p in parts]) if has_text else None,
            **_joined_entropies(parts),
        )

    # ---- queries --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])

    def doc(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i]:self.offsets[i + 1]]

    def provenance(self, i: int) -> Provenance:
        return Provenance(int(self.doc_id[i]), ORIGIN_NAMES[self.origin[i]], int(self.generation[i]),
                          str(self.producer[i]), int(self.seed[i]))

    def real_fraction(self, by: str = "docs") -> float:
        """Share of real documents (by="docs") or of real tokens (by="tokens"), from provenance."""
        if len(self) == 0:
            return float("nan")
        real = self.origin == REAL
        if by == "docs":
            return float(real.mean())
        if by == "tokens":
            return float(self.lengths[real].sum() / max(self.n_tokens, 1))
        raise ValueError(f"by must be 'docs' or 'tokens', got {by!r}")

    def composition(self) -> dict[str, int]:
        """Document counts by origin and birth generation, e.g. {"real": 900, "synthetic@3": 100}."""
        out: dict[str, int] = {}
        keys = np.where(self.origin == REAL, -1, self.generation.astype(np.int64))
        values, counts = np.unique(keys, return_counts=True)
        for value, count in zip(values.tolist(), counts.tolist()):
            out["real" if value == -1 else f"synthetic@{value}"] = count
        return out

    # ---- derivation (never in place) ------------------------------------------------------------
    def take(self, index: np.ndarray) -> "Corpus":
        """The documents at positions ``index`` (any order, repeats allowed), as a new corpus."""
        index = np.asarray(index, dtype=np.int64)
        starts, lengths = self.offsets[index], self.lengths[index]
        offsets = np.zeros(len(index) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # Gather every token of the chosen documents in one vectorised step.
        within = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], lengths)
        gather = np.repeat(starts, lengths) + within
        return Corpus(
            tokens=self.tokens[gather], offsets=offsets, doc_id=self.doc_id[index],
            origin=self.origin[index], generation=self.generation[index], producer=self.producer[index],
            seed=self.seed[index], vocab_size=self.vocab_size, eos_id=self.eos_id,
            text=None if self.text is None else self.text[index],
            entropy_sums=None if self.entropy_sums is None else self.entropy_sums[index],
            entropy_model=self.entropy_model,
        )

    def select_ids(self, ids: np.ndarray) -> "Corpus":
        """The documents with the given ids, in the order given; unknown ids raise KeyError."""
        order = np.argsort(self.doc_id, kind="stable")
        sorted_ids = self.doc_id[order]
        pos = np.searchsorted(sorted_ids, ids)
        pos = np.minimum(pos, len(sorted_ids) - 1)
        if len(ids) and (len(sorted_ids) == 0 or not np.array_equal(sorted_ids[pos], ids)):
            missing = np.setdiff1d(ids, sorted_ids)[:5]
            raise KeyError(f"document ids not in corpus: {missing.tolist()}")
        return self.take(order[pos])

    def with_text(self, text: Sequence[str]) -> "Corpus":
        return Corpus(self.tokens, self.offsets, self.doc_id, self.origin, self.generation, self.producer,
                      self.seed, self.vocab_size, self.eos_id, np.asarray(list(text), dtype=object), self.entropy_sums,
                      self.entropy_model)


def _joined_entropies(parts: list[Corpus]) -> dict:
    """The recorded entropies of concatenated corpora: kept when every part has them from one model."""
    models = {p.entropy_model for p in parts}
    if len(models) != 1 or any(p.entropy_sums is None for p in parts):
        return {"entropy_sums": None, "entropy_model": None}
    return {"entropy_sums": np.concatenate([p.entropy_sums for p in parts]), "entropy_model": models.pop()}


# Document ids encode where a document came from, so ids never collide across generations or resumes:
# id >> ID_BIRTH_SHIFT is the generation the document was born at.
ID_BIRTH_SHIFT = 32


def synthetic_first_id(born: int) -> int:
    """First id of the documents generated by model t (born at generation t+1)."""
    return born << ID_BIRTH_SHIFT


def real_first_id(born: int, held_out: bool = False) -> int:
    """First id of real documents entering at generation ``born`` (held-out set: born 0, upper half)."""
    return (born << ID_BIRTH_SHIFT) | ((1 << 31) if held_out or born > 0 else 0)


#: Where new real documents come from (the `fresh` paradigm): (n documents, generation born) -> documents.
FreshSupply = Callable[[int, int], Corpus]
