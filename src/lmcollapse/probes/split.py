"""The probe's labelled documents: real documents of their own split (disjoint from R, E and the reservoir,
fixed by the run seed), stored in the run directory (RunDir.probe_files: the two parts with a `label`
column, and the class names)."""
from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from lmcollapse.corpora.corpus import Corpus
from lmcollapse.corpora.parquet import read_column, read_corpus, write_corpus
from lmcollapse.running.rundir import RunDir


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

    def write(self, rd: RunDir) -> None:
        train, test, classes = rd.probe_files
        write_corpus(self.train, train, extra={"label": self.train_labels})
        write_corpus(self.test, test, extra={"label": self.test_labels})
        classes.write_text(json.dumps(self.classes) + "\n")

    @classmethod
    def read(cls, rd: RunDir) -> "ProbeSplit | None":
        """The split stored in the run directory, or None for a run without a probe."""
        train, test, classes = rd.probe_files
        if not classes.is_file():
            return None
        return cls(read_corpus(train), read_column(train, "label"), read_corpus(test), read_column(test, "label"),
                   json.loads(classes.read_text()))
