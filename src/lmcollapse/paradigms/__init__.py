"""Data policies (see base.py for the contract)."""
from . import policies  # noqa: F401  (registers the policies)
from .base import PARADIGMS, DataState, FreshSupply, Paradigm, initial_state

__all__ = ["PARADIGMS", "DataState", "FreshSupply", "Paradigm", "initial_state"]
