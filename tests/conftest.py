import pytest

from lmcollapse.config import apply_overrides
from lmcollapse.corpora.corpus import Corpus


def small_truth_config(**overrides) -> dict:
    """A known-truth experiment that runs in well under a second."""
    config = {
        "seed": 0,
        "generations": 3,
        "corpus": {"name": "categorical", "probs": [0.4, 0.3, 0.2, 0.1], "n_train": 50, "n_eval": 50,
                   "doc_length": 1},
        "model": {"order": 1, "smoothing": 0.0},
        "paradigm": {"name": "replace"},
    }
    return apply_overrides(config, overrides)  # the project's own `--set key.sub=value` code


@pytest.fixture
def toy_corpus() -> Corpus:
    docs = [[0, 1, 2, 1], [2, 2, 1], [3], [0, 1, 3, 3, 2]]
    return Corpus.from_documents(docs, vocab_size=5, eos_id=4)
