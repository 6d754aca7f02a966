"""Training metrics as pandas frames, whatever naming scheme the backend uses.

Two sources feed the plots: a finished job's results CSV and a running job's
`metrics` events. Both come in two dialects: the legacy guide's columns
(`training_loss`, `validation_token_accuracy`, ...) that the local server writes,
and OpenAI's current ones (`train_loss`, `valid_mean_token_accuracy`, ...). Every
frame this module returns uses the legacy names, so the widgets only know one set.

The CSV is parsed with the `csv` module rather than `pandas.read_csv` because a
bad file must be reported with the line and column that is wrong, not a parser
traceback; results files are small (one row per step), so this costs nothing.
"""

from __future__ import annotations

import csv
import io
import math
from array import array
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fttui.core.results_columns import KNOWN_COLUMNS

if TYPE_CHECKING:  # pandas is imported lazily: the app must start fast.
    import pandas as pd

# OpenAI's current names (CSV columns and metrics event keys) -> the legacy guide's names.
ALIASES: dict[str, str] = {
    "train_loss": "training_loss",
    "train_accuracy": "training_token_accuracy",
    "train_token_accuracy": "training_token_accuracy",
    "train_sequence_accuracy": "training_sequence_accuracy",
    "valid_token_accuracy": "validation_token_accuracy",
    "valid_sequence_accuracy": "validation_sequence_accuracy",
    "full_valid_token_accuracy": "full_validation_token_accuracy",
    "train_mean_token_accuracy": "training_token_accuracy",
    "valid_loss": "validation_loss",
    "valid_accuracy": "validation_token_accuracy",
    "valid_mean_token_accuracy": "validation_token_accuracy",
    "full_valid_loss": "full_validation_loss",
    "full_valid_mean_token_accuracy": "full_validation_token_accuracy",
}


class ResultsError(ValueError):
    """A results file that cannot be read; the message names the line and column."""


def normalise_name(name: str) -> str:
    """The legacy guide's name for a column or metrics key (`train_loss` -> `training_loss`)."""
    clean = name.strip()
    return ALIASES.get(clean, clean)


def _to_float(text: str) -> float:
    text = text.strip()
    if text == "" or text.lower() in {"nan", "none", "null"}:
        return math.nan
    return float(text)


def parse_results_csv(text: str, source: str = "results.csv") -> pd.DataFrame:
    """Parse a results CSV (either dialect) into a frame with normalised columns.

    Raises ResultsError naming `source`, the line and the column for anything
    malformed: no header, no `step` column, a row with the wrong number of
    fields, or a value that is not a number.
    """
    import pandas as pd

    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise ResultsError(f"{source}: the file is empty (expected a header line)") from None
    except csv.Error as exc:
        raise ResultsError(f"{source}, line 1: {exc}") from None
    columns = [normalise_name(h) for h in header]
    if "step" not in columns:
        raise ResultsError(
            f"{source}, line 1: no 'step' column in the header (found {', '.join(header) or 'nothing'})"
        )
    # The local server writes OpenAI's columns and the legacy guide's side by side
    # (`train_loss` beside `training_loss`): the legacy guide's own column wins, as in
    # `normalise_metrics`. Any other name twice is an error.
    raw_names = [h.strip() for h in header]
    legacy_named = {raw for raw, col in zip(raw_names, columns, strict=True) if raw == col}
    keep = [
        raw == col or col not in legacy_named for raw, col in zip(raw_names, columns, strict=True)
    ]
    seen: set[str] = set()
    for raw, col, kept in zip(header, columns, keep, strict=True):
        if not kept:
            continue
        if col in seen:
            raise ResultsError(f"{source}, line 1: column {raw!r} appears twice")
        seen.add(col)
    values: dict[str, list[float]] = {c: [] for c, k in zip(columns, keep, strict=True) if k}
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(columns):
                raise ResultsError(
                    f"{source}, line {line}: expected {len(columns)} fields, found {len(row)}"
                )
            for raw, col, cell, kept in zip(header, columns, row, keep, strict=True):
                if not kept:
                    continue
                try:
                    values[col].append(_to_float(cell))
                except ValueError:
                    raise ResultsError(
                        f"{source}, line {line}, column {raw.strip()!r}: {cell!r} is not a number"
                    ) from None
    except csv.Error as exc:
        raise ResultsError(f"{source}, line {reader.line_num}: {exc}") from None
    frame = pd.DataFrame(values, columns=list(values))
    return _finish(frame)


def read_results_csv(path: str | Path) -> pd.DataFrame:
    """Read a results CSV from disk; see `parse_results_csv`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ResultsError(f"{p}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ResultsError(f"{p}: {exc.strerror or exc}") from None
    return parse_results_csv(text, source=str(p))


def normalise_metrics(data: Mapping[str, Any]) -> dict[str, float]:
    """One metrics event's `data` with seed names; numeric values only.

    The local server sends both schemes at once; when both name the same metric
    the legacy guide's own key wins (it is the one the trainer computed directly).
    """
    out: dict[str, float] = {}
    for key, value in data.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        name = normalise_name(key)
        if name in out and name != key:
            continue
        out[name] = float(value)
    return out


class LiveMetrics:
    """A running job's metrics events, folded into columns as they arrive.

    The live plot redraws every second; rebuilding its frame from every event seen
    so far (normalising 25,000 dicts, then a frame from 25,000 rows) held the GIL
    for tens of milliseconds each time and stalled the UI thread. Here each event
    is normalised once, on arrival, into flat float arrays, and `snapshot()` is a
    memory copy that a worker thread turns into a frame in about a millisecond.
    A step reported twice keeps its last values merged over the earlier ones
    (validation metrics may arrive separately); events without a step are skipped.
    """

    def __init__(self) -> None:
        self._columns: dict[str, array[float]] = {"step": array("d")}
        self._row_of_step: dict[float, int] = {}

    def __len__(self) -> int:
        return len(self._columns["step"])

    def add(self, data: Mapping[str, Any] | None) -> bool:
        """Fold in one event's `data`; False when it carries no step (nothing changed)."""
        if not data:
            return False
        metrics = normalise_metrics(data)
        step = metrics.get("step")
        if step is None or math.isnan(step):
            return False
        row = self._row_of_step.get(step)
        if row is None:
            row = self._row_of_step[step] = len(self)
            for values in self._columns.values():
                values.append(math.nan)
        for name, value in metrics.items():
            column = self._columns.get(name)
            if column is None:
                column = self._columns[name] = array("d", [math.nan]) * len(self)
            column[row] = value
        return True

    def snapshot(self) -> dict[str, array[float]]:
        """A copy of the columns, safe to hand to another thread."""
        return {name: array("d", values) for name, values in self._columns.items()}


def frame_from_columns(
    columns: Mapping[str, array[float]], max_points: int | None = None
) -> pd.DataFrame:
    """The plot frame of a `LiveMetrics.snapshot()`: sorted, known columns first.

    `max_points` keeps at most that many evenly spaced points of each metric (its
    first and last included): a terminal chart shows about two points per column,
    and a frame of 25,000 steps cost the UI thread tens of milliseconds a second
    to hand to the charts, for nothing more on screen.
    """
    import numpy as np
    import pandas as pd

    if not columns or not len(columns["step"]):
        return pd.DataFrame({"step": pd.Series([], dtype=float)})
    arrays = {name: np.frombuffer(values, dtype=float) for name, values in columns.items()}
    rows = len(arrays["step"])
    if max_points is not None and rows > max_points:
        keep = np.zeros(rows, dtype=bool)
        for name, values in arrays.items():
            if name == "step":
                continue
            present = np.flatnonzero(~np.isnan(values))
            if len(present) > max_points:
                present = present[np.linspace(0, len(present) - 1, max_points).round().astype(int)]
            keep[present] = True
        arrays = {name: values[keep] for name, values in arrays.items()}
    return _finish(pd.DataFrame(arrays))


def frame_from_metrics(events: Iterable[Mapping[str, Any] | None]) -> pd.DataFrame:
    """A frame from metrics events' `data` dicts (either scheme), one row per step.

    Events without a `step` are skipped; a step reported twice keeps its last values
    merged over the earlier ones (validation metrics may arrive separately).
    """
    live = LiveMetrics()
    for data in events:
        live.add(data)
    return frame_from_columns(live.snapshot())


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    """Sort by step, known columns first, then classification and the rest."""
    frame = frame.sort_values("step", kind="stable").reset_index(drop=True)
    known = [c for c in KNOWN_COLUMNS if c in frame.columns]
    rest = sorted(c for c in frame.columns if c not in known)
    return frame[known + rest]


def classification_columns(frame: pd.DataFrame) -> list[str]:
    """The `classification/*` columns present, in order."""
    return [c for c in frame.columns if str(c).startswith("classification/")]
