"""Reading and writing text data files, with line numbers in every error.

- Tables: CSV (`.csv`), TSV (`.tsv`, `.tab`) with a header row, or JSON Lines (`.jsonl`, `.ndjson`,
  one object per line). `read_table` returns `Record`s (the line a record starts on and its fields).
- CoNLL (`.conll`, `.txt`, `.bio`...): one token per line, the token in the first column and its tag in
  the last, blank lines between sentences, `-DOCSTART-` lines skipped. `read_conll` / `write_conll`.
- Plain text (`.txt`): one text per line, for `zoo predict`.

Nothing here imports TensorFlow.

Example:

```python
records = read_table("reviews.csv")                  # [Record(line=2, fields={"text": ..., "label": ...}), ...]
sentences = read_conll("train.conll")                # [Sentence(line=1, words=[...], tags=[...]), ...]
write_conll("copy.conll", sentences)
```
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from zoo.errors import DataError

TABLE_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
CONLL_SUFFIXES = (".conll", ".conllu", ".bio", ".iob", ".iob2", ".txt", ".tsv")


@dataclass
class Record:
    """One row of a table: the 1-based line it starts on and its fields."""

    line: int
    fields: dict[str, Any]


@dataclass
class Sentence:
    """One CoNLL sentence: the line of its first token, its words and their tags."""

    line: int
    words: list[str]
    tags: list[str]
    tag_lines: list[int] = field(default_factory=list)


def read_text(path: str | Path) -> str:
    """The file decoded as UTF-8 (a BOM is dropped); `DataError` names the line of a bad byte."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path} is a folder; pass a CSV, TSV, JSONL or CoNLL file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataError(f"{path} line {line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x}); "
                        "save the file as UTF-8") from None


def table_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise DataError(f"{path}: unknown file type {suffix or '(none)'}; use .csv, .tsv or .jsonl")
    return TABLE_SUFFIXES[suffix]


def read_table(path: str | Path, fmt: str | None = None) -> list[Record]:
    """Records of a CSV/TSV (header row) or JSONL file, each with its starting line number."""
    fmt = fmt or table_format(path)
    text = read_text(path)
    if fmt == "jsonl":
        return _read_jsonl(path, text)
    return _read_delimited(path, text, "," if fmt == "csv" else "\t")


def _read_delimited(path, text: str, delimiter: str) -> list[Record]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: the file is empty; it needs a header row and data rows") from None
    except csv.Error as exc:
        raise DataError(f"{path} line 1: {exc}") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise DataError(f"{path} line 1: the header row is empty")
    records = []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataError(f"{path} line {start}: {exc}") from None
        if not row or all(not cell.strip() for cell in row):
            start = reader.line_num + 1
            continue
        if len(row) != len(header):
            raise DataError(f"{path} line {start}: {len(row)} fields, the header has {len(header)} "
                            f"({', '.join(header)}); quote fields that contain the delimiter")
        records.append(Record(start, dict(zip(header, row))))
        start = reader.line_num + 1
    return records


def _read_jsonl(path, text: str) -> list[Record]:
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(value, dict):
            raise DataError(f"{path} line {number}: each line must be a JSON object, not {type(value).__name__}")
        records.append(Record(number, value))
    return records


def read_lines(path: str | Path) -> list[tuple[int, str]]:
    """Non-empty lines of a plain text file with their line numbers."""
    return [(i, line.strip()) for i, line in enumerate(read_text(path).splitlines(), start=1) if line.strip()]


# --------------------------------------------------------------------------- CoNLL

def read_conll(path: str | Path) -> list[Sentence]:
    """Sentences of a CoNLL file: `token [other columns] tag` per line, blank line between sentences."""
    text = read_text(path)
    sentences: list[Sentence] = []
    current: Sentence | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("-DOCSTART-"):
            if current is not None:
                sentences.append(current)
                current = None
            continue
        parts = stripped.split()
        if len(parts) < 2:
            raise DataError(f"{path} line {number}: {stripped!r} has no tag; each line needs a token and its tag "
                            "separated by whitespace (e.g. 'Paris B-LOC')")
        if current is None:
            current = Sentence(number, [], [], [])
        current.words.append(parts[0])
        current.tags.append(parts[-1])
        current.tag_lines.append(number)
    if current is not None:
        sentences.append(current)
    if not sentences:
        raise DataError(f"{path}: no sentences found; a CoNLL file has one 'token tag' pair per line")
    return sentences


def write_conll(path: str | Path, sentences: Iterable[Sentence | tuple[Sequence[str], Sequence[str]]]) -> None:
    """Write sentences (objects or `(words, tags)` pairs) as CoNLL: `token tag` lines, blank line between."""
    chunks = []
    for sentence in sentences:
        words, tags = (sentence.words, sentence.tags) if isinstance(sentence, Sentence) else sentence
        if len(words) != len(tags):
            raise DataError(f"a sentence has {len(words)} words and {len(tags)} tags")
        for word in words:
            if not word or any(ch.isspace() for ch in word):
                raise DataError(f"word {word!r} is empty or contains whitespace, which CoNLL cannot hold")
        chunks.append("".join(f"{w} {t}\n" for w, t in zip(words, tags)))
    Path(path).write_text("\n".join(chunks), encoding="utf-8")
