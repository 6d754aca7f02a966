"""Files that are not JSONL yet: CSV, TSV, a JSON array, plain text (`--fix to-jsonl`).

The legacy `openai tools fine_tunes.prepare_data` read these and wrote JSONL; fttui
reports such a file as `not_jsonl` (by its name) and converts it only when asked,
into a new file, streaming where the format allows (CSV, TSV, text; a JSON array is
read whole). The conversions follow the legacy tool's:

- CSV / TSV: each row under the header row becomes an object of its columns (empty
  cells empty strings); `--fix keys` then renames `Prompt` to `prompt` and drops the
  other columns, as the legacy tool's necessary remediations did;
- JSON: an array of objects, one line each (a file that is JSONL already is read as such);
- text: each line becomes a completion with an empty prompt (open-ended generation).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

KINDS = {".csv": "CSV", ".tsv": "TSV", ".json": "JSON", ".txt": "text", ".xlsx": "Excel"}


class ConvertError(ValueError):
    """The file cannot be converted; the message says why and what to do."""


def source_kind(path: Path) -> str | None:
    """'CSV', 'TSV', 'JSON', 'text' or 'Excel' by the file's extension; None for JSONL."""
    return KINDS.get(path.suffix.lower())


def header_notes(source: Path) -> list[str]:
    """What converting a CSV/TSV file does to its columns, from its header row (the
    legacy tool's necessary remediations): misnamed columns renamed, others dropped."""
    kind = source_kind(source)
    if kind not in ("CSV", "TSV"):
        return []
    try:
        with source.open(newline="", encoding="utf-8-sig") as handle:
            header = next(csv.reader(handle, delimiter="\t" if kind == "TSV" else ","), [])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    notes = []
    for name in header:
        key = name.strip().lower()
        if key in ("prompt", "completion"):
            if name != key:
                notes.append(f"column {name!r} is read as {key!r} with --fix keys")
        else:
            notes.append(f"column {name!r} is dropped by --fix keys")
    missing = [k for k in ("prompt", "completion") if k not in {n.strip().lower() for n in header}]
    if missing:
        notes.append(f"no {' or '.join(map(repr, missing))} column")
    return notes


def to_jsonl(source: Path, target: Path) -> int:
    """Write `source` as JSONL to `target`; returns the number of examples written."""
    kind = source_kind(source)
    if kind == "Excel":
        raise ConvertError(
            f"{source.name} is an Excel workbook: save its sheet as CSV (prompt and "
            "completion columns), then convert that"
        )
    if kind is None:
        raise ConvertError(f"{source.name} is JSONL already (by its name); nothing to convert")
    n = 0
    with target.open("w", encoding="utf-8") as out:
        for row in _rows(source, kind):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def _rows(source: Path, kind: str) -> Iterator[Any]:
    if kind in ("CSV", "TSV"):
        return _table_rows(source, "\t" if kind == "TSV" else ",")
    if kind == "text":
        return _text_rows(source)
    return _json_rows(source)


def _table_rows(source: Path, delimiter: str) -> Iterator[dict[str, str]]:
    csv.field_size_limit(min(sys.maxsize, 1 << 30))
    with source.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise ConvertError(f"{source.name} is empty")
        for cells in reader:
            if not any(cells):
                continue
            # Every column, under its own name: only the container format changes here
            # (`--fix keys` then renames 'Prompt' and drops the other columns).
            yield {name: cells[i] if i < len(cells) else "" for i, name in enumerate(header)}


def _text_rows(source: Path) -> Iterator[dict[str, str]]:
    with source.open(encoding="utf-8-sig") as handle:
        for line in handle:
            text = line.rstrip("\r\n")
            if text.strip():
                yield {"prompt": "", "completion": text}


def _json_rows(source: Path) -> Iterator[Any]:
    try:
        value = json.loads(source.read_text(encoding="utf-8-sig"))
    except ValueError:
        # Not one JSON value: perhaps JSONL under a .json name; then it reads as is.
        with source.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except ValueError as exc:
                    raise ConvertError(
                        f"{source.name} is neither one JSON array nor JSONL (line {number}: {exc})"
                    ) from None
        return
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise ConvertError(f"{source.name} holds a JSON {type(value).__name__}, not an array")
    yield from value
