"""Language-model backends. Count models need only numpy; neural backends import torch lazily."""
from ..registry import Registry

MODELS = Registry("model")

from . import neural, ngram  # noqa: E402,F401  (register "gpt" and "ngram"; torch is imported lazily)
