"""Labelled tasks for the downstream probe, made offline from real text.

- kjv-testament: Old (Genesis..Malachi) vs New Testament (Matthew..Revelation), from the verse's book.
- kjv-genre: six groups of books: law (Genesis..Deuteronomy), history (Joshua..Esther), wisdom (Job,
  Psalms, Proverbs, Ecclesiastes, Song of Solomon), prophecy (Isaiah..Malachi, and Revelation), gospels
  and acts (Matthew..Acts), epistles (Romans..Jude).
- files-label: the user's text; the class is the file a document came from (corpus.path a folder) or
  the field probe.label_field of a .jsonl/parquet row.
"""
from __future__ import annotations

from lmcollapse.errors import LmcollapseError

#: task -> the corpus whose documents it labels
TASK_CORPUS = {"kjv-testament": "kjv", "kjv-genre": "kjv", "files-label": "files"}

KJV_BOOKS = (
    "Genesis", "Exodus", "Leviticus", "Numbers", "Deuteronomy", "Joshua", "Judges", "Ruth", "1 Samuel", "2 Samuel",
    "1 Kings", "2 Kings", "1 Chronicles", "2 Chronicles", "Ezra", "Nehemiah", "Esther", "Job", "Psalms", "Proverbs",
    "Ecclesiastes", "Song of Solomon", "Isaiah", "Jeremiah", "Lamentations", "Ezekiel", "Daniel", "Hosea", "Joel",
    "Amos", "Obadiah", "Jonah", "Micah", "Nahum", "Habakkuk", "Zephaniah", "Haggai", "Zechariah", "Malachi",
    "Matthew", "Mark", "Luke", "John", "Acts", "Romans", "1 Corinthians", "2 Corinthians", "Galatians", "Ephesians",
    "Philippians", "Colossians", "1 Thessalonians", "2 Thessalonians", "1 Timothy", "2 Timothy", "Titus",
    "Philemon", "Hebrews", "James", "1 Peter", "2 Peter", "1 John", "2 John", "3 John", "Jude", "Revelation")
_OLD_TESTAMENT = 39  # Genesis..Malachi
# (first book, last book, genre), by position in KJV_BOOKS
_GENRES = ((0, 4, "law"), (5, 16, "history"), (17, 21, "wisdom"), (22, 38, "prophecy"), (39, 43, "gospels-acts"),
           (44, 64, "epistles"), (65, 65, "prophecy"))


def kjv_label(task: str, book: str) -> str:
    """The class of a verse of `book` under a kjv-* task."""
    try:
        index = KJV_BOOKS.index(book)
    except ValueError:
        raise LmcollapseError(f"the KJV file names a book {book!r} this version does not know") from None
    if task == "kjv-testament":
        return "old" if index < _OLD_TESTAMENT else "new"
    if task == "kjv-genre":
        return next(genre for first, last, genre in _GENRES if first <= index <= last)
    raise LmcollapseError(f"probe.task {task!r} does not label KJV verses")
