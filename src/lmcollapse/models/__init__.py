"""Language-model backends. Count models need only numpy; neural backends import torch lazily."""
from lmcollapse.models import (
    gpt, hf, neural, ngram)  # noqa: F401  (each registers its backend; torch and transformers load lazily)
from lmcollapse.models.base import MODELS, Capability, LanguageModel

__all__ = ["MODELS", "Capability", "LanguageModel"]
