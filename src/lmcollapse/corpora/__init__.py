"""Corpora of token documents: the Corpus type, its Parquet storage, n-gram keys and the contexts of
predicted positions."""
