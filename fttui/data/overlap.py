"""Examples two files share: the train/validation overlap, found before a job exists.

OpenAI's legacy fine-tuning guide wants the training and validation files mutually
exclusive, and the local server fails a job whose files share an example (in
`validating_files`, `train_valid_overlap`). That is late: the TUI asks here when the
second file is uploaded and when the two are chosen in the job form, with the same
identity of an example the check and the trainer use (`contract.example_key`).

Standard library and the contract only (no tokenizer): it runs in the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fttui.data.contract import FileContract, example_key

__all__ = ["MAX_LISTED", "OVERLAP_MAX_BYTES", "Overlap", "find_overlap"]

#: Line pairs kept for showing (the count is always whole).
MAX_LISTED = 50
#: The app downloads files up to this size to compare them (larger ones are left to
#: the server's check of the job's files).
OVERLAP_MAX_BYTES = 50_000_000


@dataclass
class Overlap:
    """Examples of `other` that are also in `first`, as (line in first, line in other)."""

    count: int = 0
    pairs: list[tuple[int, int]] = field(default_factory=list)

    def lines_text(self, first: str, other: str, limit: int = 8) -> str:
        """`lines 2, 5, 9 of valid.jsonl (lines 1, 4, 8 of train.jsonl)` for the first
        `limit` shared examples; `...` when there are more."""
        shown = self.pairs[:limit]
        more = " ..." if self.count > len(shown) else ""
        theirs = ", ".join(str(b) for _, b in shown)
        ours = ", ".join(str(a) for a, _ in shown)
        return f"lines {theirs}{more} of {other} (lines {ours}{more} of {first})"


def _keys(path: Path) -> dict[int, int]:
    """Each valid example's key -> its first line number (invalid lines are skipped)."""
    contract = FileContract()
    keys: dict[int, int] = {}
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            example = contract.line(number, raw).example
            if example is not None:
                keys.setdefault(example_key(example), number)
    return keys


def find_overlap(first: Path, other: Path) -> Overlap:
    """The examples of `other` also in `first` (the training file first)."""
    known = _keys(first)
    found = Overlap()
    contract = FileContract()
    with other.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            example = contract.line(number, raw).example
            if example is None:
                continue
            line = known.get(example_key(example))
            if line is not None:
                found.count += 1
                if len(found.pairs) < MAX_LISTED:
                    found.pairs.append((line, number))
    return found
