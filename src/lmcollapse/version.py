"""The version of lmcollapse (a leaf module, so that run-directory code can record it without importing
the package root)."""
__version__ = "0.4.0"
