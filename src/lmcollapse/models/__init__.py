"""Language-model backends. Count models need only numpy; neural backends import torch lazily."""
from ..registry import Registry

MODELS = Registry("model")

from . import hf, neural, ngram  # noqa: E402,F401  (register the backends; torch and transformers load lazily)
