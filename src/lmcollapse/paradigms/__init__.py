"""Data policies (see base.py for the contract)."""
from lmcollapse.paradigms import policies  # noqa: F401  (registers the policies)
from lmcollapse.paradigms.base import PARADIGMS, DataState, FreshSupply, Paradigm, initial_state

__all__ = ["PARADIGMS", "DataState", "FreshSupply", "Paradigm", "initial_state"]
