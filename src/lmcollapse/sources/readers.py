"""Reading the user's text: .txt files (by line, paragraph or whole file), folders, .jsonl and parquet.

Every reader fails with one line naming the file and the problem: missing, empty, binary or not UTF-8.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from lmcollapse.errors import LmcollapseError

_PARAGRAPH = re.compile(r"\n\s*\n")
# A document longer than this is refused unless the corpus section raises it (corpus.max_document_chars):
# one "document" of millions of characters is usually a file read whole by mistake (a book on one line, a
# dump), which would become one enormous training document.
MAX_DOCUMENT_CHARS = 1 << 20


def read_text_file(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:  # said here, as a read: the CLI's storage message is about writing
        raise LmcollapseError(f"cannot read {path}: {exc.strerror.lower()}; check the file and its permissions") from None
    if b"\x00" in raw[:8192]:
        raise LmcollapseError(f"{path} looks binary (it contains NUL bytes); give a UTF-8 text file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LmcollapseError(f"{path} is not UTF-8 text (bad byte at offset {exc.start}); "
                              f"convert it with e.g. iconv -t UTF-8") from None


def split_units(text: str, unit: str) -> list[str]:
    if unit == "line":
        parts = text.splitlines()
    elif unit == "paragraph":
        parts = _PARAGRAPH.split(text)
    else:
        parts = [text]
    return [" ".join(p.split()) for p in parts if p.strip()]


def read_jsonl(path: Path, field: str, label_field: str | None = None) -> list[tuple[str, str | None]]:
    """(text, label) of every row; label None unless label_field is given."""
    rows = []
    for number, line in enumerate(read_text_file(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise LmcollapseError(f"{path} line {number} is not valid JSON") from None
        if not isinstance(row, dict) or field not in row:
            raise LmcollapseError(f"{path} line {number} has no {field!r} field; set corpus.text_field")
        if label_field is not None and row.get(label_field) is None:
            raise LmcollapseError(f"{path} line {number} has no {label_field!r} field to label it; set "
                                  f"probe.label_field to a field every line has")
        rows.append((str(row[field]), None if label_field is None else str(row[label_field])))
    return rows


def read_parquet(path: Path, field: str, label_field: str | None = None) -> list[tuple[str, str | None]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception:
        raise LmcollapseError(f"{path} is not a readable parquet file") from None
    for column, key in ((field, "corpus.text_field"), (label_field, "probe.label_field")):
        if column is not None and column not in schema.names:
            raise LmcollapseError(f"{path} has no column {column!r} (columns: {', '.join(schema.names)}); "
                                  f"set {key}")
    kind = schema.field(field).type
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        raise LmcollapseError(f"{path}: column {field!r} holds {kind}, not text; set corpus.text_field to the column "
                              f"with the documents' text")
    table = pq.read_table(path, columns=[field] + ([label_field] if label_field else []))
    texts = table.column(field).to_pylist()
    labels = table.column(label_field).to_pylist() if label_field else [None] * len(texts)
    return [(str(t), None if label is None else str(label)) for t, label in zip(texts, labels) if t is not None]


def read_records(path: str | Path, unit: str = "line", field: str = "text", separator: str | None = None,
                 label_field: str | None = None, label: str | None = None,
                 max_chars: int | None = MAX_DOCUMENT_CHARS) -> list[tuple[str, str | None]]:
    """(document, label) of all documents under path, whitespace-normalised, empty ones dropped. The label
    is the named field of a .jsonl/parquet row, else `label` (for files of a folder: the file's path within
    the folder, without suffix). A document longer than max_chars is refused (None: no limit)."""
    path = Path(path).expanduser()
    if not path.exists():
        raise LmcollapseError(f"corpus path {path} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in {".txt", ".jsonl", ".parquet"} and p.is_file())
        if not files:
            raise LmcollapseError(f"folder {path} has no .txt, .jsonl or .parquet files")
        records = [r for f in files for r in read_records(f, unit, field, separator, label_field,
                                                          str(f.relative_to(path).with_suffix("")), max_chars)]
    elif path.suffix == ".jsonl":
        records = [(t, lab if label_field else label) for t, lab in read_jsonl(path, field, label_field)]
    elif path.suffix == ".parquet":
        records = [(t, lab if label_field else label) for t, lab in read_parquet(path, field, label_field)]
    else:
        text = read_text_file(path)
        parts = text.split(separator) if separator is not None else split_units(text, unit)
        records = [(p, label) for p in parts]
    records = [(" ".join(t.split()), lab) for t, lab in records]
    records = [(t, lab) for t, lab in records if t]
    if not records:
        raise LmcollapseError(f"corpus {path} contains no documents (it is empty or only whitespace)")
    longest = max(range(len(records)), key=lambda i: len(records[i][0]))
    if max_chars is not None and len(records[longest][0]) > max_chars:
        split = (f"corpus.unit={'paragraph or line' if unit == 'file' else 'line'} splits it, " if
                 path.suffix == ".txt" and separator is None and unit != "line" else "")
        raise LmcollapseError(f"{path}: document {longest + 1} has {len(records[longest][0]):,} characters, more than "
                              f"corpus.max_document_chars = {max_chars:,}; {split}raise corpus.max_document_chars if "
                              f"documents this long are meant, or set corpus.doc_length to cut every document to "
                              f"that many tokens")
    return records


def read_documents(path: str | Path, unit: str = "line", field: str = "text", separator: str | None = None) -> list[str]:
    """All documents under path, whitespace-normalised, empty ones dropped."""
    return [text for text, _ in read_records(path, unit, field, separator)]
