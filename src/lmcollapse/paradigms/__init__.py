"""Data policies (see base.py for the contract)."""
from .base import PARADIGMS, DataState, FreshSupply, Paradigm, initial_state
from . import policies  # noqa: F401  (registers the policies)

__all__ = ["PARADIGMS", "DataState", "FreshSupply", "Paradigm", "initial_state"]
