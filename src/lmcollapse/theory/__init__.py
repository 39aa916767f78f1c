"""Closed forms for collapse, to compare with the simulator.

pseudocount: the add-alpha unigram learner under every paradigm (expected model, expected collision
             probability and impurity, real share), exact for single-token documents.
wright_fisher: exact maximum likelihood under replace as a Wright-Fisher chain (loss, fixation, survival).
collapse_time: the generation at which a stated collapse criterion is met, as a function of the rate r.
check:       the battery that runs the real simulator over many seeds against these predictions.
"""
from lmcollapse.theory.pseudocount import Prediction, predict, prediction_for  # noqa: F401
