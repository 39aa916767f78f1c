"""Conformance suites, one per component kind (scikit-learn's estimator_checks idea): each `check_KIND`
yields one named check per property of that kind's written contract, and every check raises an
AssertionError naming what is wrong. The project's own tests run every suite over every registered
component (tests/test_conformance.py); a new component passes its kind's suite before it is merged.

    from lmcollapse.testing import check_paradigm
    for check in check_paradigm(lambda: MyParadigm(section)):
        check()
"""
from lmcollapse.testing.executors import check_executor
from lmcollapse.testing.gates import check_gate
from lmcollapse.testing.models import check_language_model, toy_corpus
from lmcollapse.testing.paradigms import check_paradigm
from lmcollapse.testing.sources import check_source
from lmcollapse.testing.tokenizers import check_tokenizer
from lmcollapse.testing.trackers import check_tracker

__all__ = ["check_executor", "check_gate", "check_language_model", "check_paradigm", "check_source",
           "check_tokenizer", "check_tracker", "toy_corpus"]
