"""Reading the user's text: .txt files (by line, paragraph or whole file), folders, .jsonl and parquet.

Every reader fails with one line naming the file and the problem: missing, empty, binary or not UTF-8.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import LmcollapseError

_PARAGRAPH = re.compile(r"\n\s*\n")


def read_text_file(path: Path) -> str:
    raw = path.read_bytes()
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


def read_jsonl(path: Path, field: str) -> list[str]:
    texts = []
    for number, line in enumerate(read_text_file(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise LmcollapseError(f"{path} line {number} is not valid JSON") from None
        if not isinstance(row, dict) or field not in row:
            raise LmcollapseError(f"{path} line {number} has no {field!r} field; set corpus.text_field")
        texts.append(str(row[field]))
    return texts


def read_parquet(path: Path, field: str) -> list[str]:
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except Exception:
        raise LmcollapseError(f"{path} is not a readable parquet file") from None
    if field not in schema.names:
        raise LmcollapseError(f"{path} has no column {field!r} (columns: {', '.join(schema.names)}); "
                              f"set corpus.text_field")
    return [str(t) for t in pq.read_table(path, columns=[field]).column(field).to_pylist() if t is not None]


def read_documents(path: str | Path, unit: str = "line", field: str = "text", separator: str | None = None) -> list[str]:
    """All documents under path, whitespace-normalised, empty ones dropped."""
    path = Path(path).expanduser()
    if not path.exists():
        raise LmcollapseError(f"corpus path {path} does not exist")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix in {".txt", ".jsonl", ".parquet"} and p.is_file())
        if not files:
            raise LmcollapseError(f"folder {path} has no .txt, .jsonl or .parquet files")
        docs = [d for f in files for d in read_documents(f, unit, field, separator)]
    elif path.suffix == ".jsonl":
        docs = [" ".join(t.split()) for t in read_jsonl(path, field)]
    elif path.suffix == ".parquet":
        docs = [" ".join(t.split()) for t in read_parquet(path, field)]
    else:
        text = read_text_file(path)
        if separator is not None:
            docs = [" ".join(p.split()) for p in text.split(separator)]
        else:
            docs = split_units(text, unit)
    docs = [d for d in docs if d]
    if not docs:
        raise LmcollapseError(f"corpus {path} contains no documents (it is empty or only whitespace)")
    return docs
