"""Parquet storage for corpora: one row per document, tokens as a list column, provenance columns."""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lmcollapse.corpora.corpus import Corpus


ORIGINS = pa.array(["real", "synthetic"])  # the origin column's dictionary, in the order of corpus.REAL, SYNTHETIC


def _table(corpus: Corpus) -> pa.Table:
    tokens = pa.LargeListArray.from_arrays(pa.array(corpus.offsets), pa.array(corpus.tokens))
    columns = {
        "doc_id": pa.array(corpus.doc_id),
        "tokens": tokens,
        # Built from codes, not from one Python string per document (that took most of a small run's write).
        "origin": pa.DictionaryArray.from_arrays(pa.array(corpus.origin.astype(np.int32)), ORIGINS),
        "generation": pa.array(corpus.generation),
        "producer": pa.array(corpus.producer, type=pa.string()).dictionary_encode(),
        "seed": pa.array(corpus.seed),
    }
    if corpus.text is not None:
        # From the Python strings directly: numpy's astype(str) would make a fixed-width array of documents x
        # the longest document (one 1 MB line among 3,000 verses took 9.5 GB).
        columns["text"] = pa.array(list(corpus.text), type=pa.large_string())
    meta = {"lmcollapse.vocab_size": str(corpus.vocab_size), "lmcollapse.eos_id": json.dumps(corpus.eos_id)}
    return pa.table(columns).replace_schema_metadata(meta)


def write_corpus(corpus: Corpus, path: str | os.PathLike, extra: dict[str, np.ndarray] | None = None) -> None:
    """Write atomically: a reader never sees a half-written file, whatever moment the writer dies."""
    path = Path(path)
    table = _table(corpus)
    for name, values in (extra or {}).items():
        table = table.append_column(name, pa.array(values))
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def read_corpus(path: str | os.PathLike) -> Corpus:
    table = pq.read_table(path)
    meta = table.schema.metadata or {}
    tokens = table.column("tokens").combine_chunks()
    if isinstance(tokens, pa.ListArray):
        tokens = tokens.cast(pa.large_list(pa.int32()))
    offsets = tokens.offsets.to_numpy().astype(np.int64)
    values = tokens.values.to_numpy(zero_copy_only=False).astype(np.int32)
    values = values[offsets[0]:offsets[-1]]
    offsets = offsets - offsets[0]
    origin = np.asarray(table.column("origin").to_pylist(), dtype=object)
    return Corpus(
        tokens=values,
        offsets=offsets,
        doc_id=table.column("doc_id").to_numpy().astype(np.int64),
        origin=(origin == "synthetic").astype(np.int8),
        generation=table.column("generation").to_numpy().astype(np.int32),
        producer=np.asarray(table.column("producer").to_pylist(), dtype=object),
        seed=table.column("seed").to_numpy().astype(np.int64),
        vocab_size=int(meta[b"lmcollapse.vocab_size"]),
        eos_id=json.loads(meta[b"lmcollapse.eos_id"]),
        text=np.asarray(table.column("text").to_pylist(), dtype=object) if "text" in table.column_names else None,
    )


def read_column(path: str | os.PathLike, name: str) -> np.ndarray:
    return pq.read_table(path, columns=[name]).column(name).to_numpy()
