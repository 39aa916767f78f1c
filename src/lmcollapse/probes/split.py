"""The probe's labelled documents: real documents of their own split (disjoint from R, E and the reservoir,
fixed by the run seed), stored in the run directory as docs/probe-{train,test}.parquet with a `label`
column and docs/probe-classes.json."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..corpus import Corpus
from ..corpus_io import read_column, read_corpus, write_corpus


@dataclass(frozen=True)
class ProbeSplit:
    train: Corpus
    train_labels: np.ndarray  # (len(train),) int64 class index
    test: Corpus
    test_labels: np.ndarray  # (len(test),) int64 class index
    classes: list[str]  # class names, by index

    @classmethod
    def from_names(cls, train: Corpus, train_names: list[str], test: Corpus, test_names: list[str]) -> "ProbeSplit":
        classes = sorted(set(train_names) | set(test_names))
        index = {name: i for i, name in enumerate(classes)}
        return cls(train, np.array([index[n] for n in train_names], np.int64), test,
                   np.array([index[n] for n in test_names], np.int64), classes)

    def write(self, docs: Path) -> None:
        write_corpus(self.train, docs / "probe-train.parquet", extra={"label": self.train_labels})
        write_corpus(self.test, docs / "probe-test.parquet", extra={"label": self.test_labels})
        (docs / "probe-classes.json").write_text(json.dumps(self.classes) + "\n")

    @classmethod
    def read(cls, docs: Path) -> "ProbeSplit | None":
        """The split stored under docs, or None for a run without a probe."""
        if not (docs / "probe-classes.json").is_file():
            return None
        return cls(read_corpus(docs / "probe-train.parquet"), read_column(docs / "probe-train.parquet", "label"),
                   read_corpus(docs / "probe-test.parquet"), read_column(docs / "probe-test.parquet", "label"),
                   json.loads((docs / "probe-classes.json").read_text()))
