"""Quality gates for generated documents (DESIGN.md's filters), applied in the order the config lists them.

`filters` entries are a gate name or a mapping {name: GATE, parameter: value, ...}. A gate sees the
candidate documents and a GateContext and returns a keep-mask and, optionally, one score per document
(written beside the documents in samples.parquet). Gates of three kinds:

- filters (nonempty, exact-dedup, dedup, perplexity, verifier) keep or reject candidates;
- a generator (token-edit) replaces the model's free samples as the source of candidates;
- a pool weighting (reweight) changes nothing here but how a subsampling paradigm draws D_t.

The runner keeps the contribution fixed by sampling more and filtering down (gated_sampling.draw_gated).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..corpus import Corpus
from ..errors import LmcollapseError
from ..registry import Registry

GATES = Registry("filter")
FILTERS = GATES  # the config key is `filters`


@dataclass
class GateContext:
    """What a gate may look at for generation t."""

    generation: int
    model: Any  # M_t, the model that generated the candidates
    train: Corpus  # D_t
    real: Corpus  # R
    held_out: Corpus  # E
    truth: Any | None  # the known truth, if any
    reference: Callable[[], Any]  # the generation-0 model (trained on real data), loaded on demand
    earlier: list[Corpus] = field(default_factory=list)  # candidates kept in earlier rounds of this generation
    cache: dict = field(default_factory=dict)  # per-run values (thresholds fixed from real data)


def entry_name(entry) -> str:
    return entry if isinstance(entry, str) else entry.get("name", "")


def entry_params(entry) -> dict:
    return {} if isinstance(entry, str) else {k: v for k, v in entry.items() if k != "name"}


def check_entry(index: int, entry, corpus_name: str | None = None) -> str | None:
    """A one-line problem with filters[index] (for a run on corpus_name), or None."""
    if not isinstance(entry, (str, dict)):
        return f"filters[{index}]: write a gate name or a mapping with a `name` key, not {entry!r}"
    name = entry_name(entry)
    if name not in GATES:
        return f"filters[{index}]: unknown filter {name!r}; choose from: {', '.join(GATES.names())}"
    accepted = [p for p in inspect.signature(GATES.get(name)).parameters]
    for key in entry_params(entry):
        if key not in accepted:
            return (f"filters[{index}] ({name}): unknown parameter {key!r}; "
                    f"allowed: {', '.join(accepted) if accepted else 'none'}")
    if getattr(GATES.get(name), "needs_truth", False) and corpus_name is not None:
        from ..sources import SOURCES
        from ..sources.truth import TruthSource

        if corpus_name in SOURCES and not issubclass(SOURCES.get(corpus_name), TruthSource):
            return (f"filters[{index}] ({name}) needs a known-truth corpus (categorical or markov); "
                    f"corpus.name={corpus_name} has no true source to verify against")
    return None


def build_gates(entries) -> list:
    gates = []
    for entry in entries:
        try:
            gates.append(GATES.get(entry_name(entry))(**entry_params(entry)))
        except (TypeError, ValueError) as exc:
            raise LmcollapseError(f"filters: {entry_name(entry)}: {exc}") from None
    if sum(getattr(g, "generates", False) for g in gates) > 1:
        raise LmcollapseError("filters: at most one generating gate (token-edit) per run")
    return gates


@dataclass
class GateOutcome:
    keep: np.ndarray  # (candidates,) bool
    scores: dict[str, np.ndarray]  # gate name -> (candidates,) float, NaN where not scored
    rejected_by: np.ndarray  # (candidates,) object: "" if kept, else the gate that rejected it
    counts: dict[str, list[int]]  # gate name -> [documents seen, documents kept]


def apply_gates(gates: list, candidates: Corpus, ctx: GateContext, rng: np.random.Generator) -> GateOutcome:
    """Run the filtering gates in order; each sees only what the previous ones kept."""
    n = len(candidates)
    keep = np.ones(n, dtype=bool)
    rejected_by = np.full(n, "", dtype=object)
    scores, counts = {}, {}
    for gate in gates:
        if not hasattr(gate, "keep"):
            continue  # generators and pool weightings do not filter
        idx = np.flatnonzero(keep)
        mask, score = gate.keep(candidates.take(idx), ctx, rng)
        if score is not None:
            column = np.full(n, np.nan)
            column[idx] = score
            scores[gate.name] = column
        rejected_by[idx[~mask]] = gate.name
        counts[gate.name] = [len(idx), int(mask.sum())]
        keep[idx[~mask]] = False
    return GateOutcome(keep, scores, rejected_by, counts)


# The simplest gates live here; the others in their own modules.
@GATES.register("nonempty", "drop generated documents with no tokens")
class NonEmpty:
    name = "nonempty"

    def keep(self, corpus: Corpus, ctx: GateContext, rng) -> tuple[np.ndarray, None]:
        return corpus.lengths > 0, None


@GATES.register("exact-dedup", "drop a generated document identical to an earlier one of this generation")
class ExactDedup:
    name = "exact-dedup"

    def keep(self, corpus: Corpus, ctx: GateContext, rng) -> tuple[np.ndarray, None]:
        seen = {d.tobytes() for earlier in ctx.earlier for d in (earlier.doc(i) for i in range(len(earlier)))}
        keep = np.zeros(len(corpus), dtype=bool)
        for i in range(len(corpus)):
            key = corpus.doc(i).tobytes()
            if key not in seen:
                seen.add(key)
                keep[i] = True
        return keep, None


from . import dedup, perplexity, reweight, token_edit, verifier  # noqa: E402,F401  (register the others)
