"""Plain data the widgets display: the app converts API objects into these.

Frozen dataclasses keep widgets free of any HTTP or API types (layering) and make
"did this row change?" a cheap equality check for incremental table updates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class JobRow:
    """One fine-tuning job as the jobs table shows it (times are Unix seconds)."""

    id: str
    status: str
    model: str
    fine_tuned_model: str | None
    created_at: int
    finished_at: int | None
    estimated_finish: int | None
    trained_tokens: int | None
    suffix: str | None = None
    #: OpenAI's `method.type` (`supervised`, `dpo`, ...); the table marks non-supervised.
    method: str = "supervised"


@dataclass(frozen=True)
class FileRow:
    """One uploaded file as the files table shows it."""

    id: str
    filename: str
    bytes: int
    purpose: str
    created_at: int
    status: str | None
    #: OpenAI's (deprecated) `status_details`: why a file failed validation.
    status_details: str | None = None
    #: When OpenAI deletes the file (Unix seconds); None: kept until deleted.
    expires_at: int | None = None


@dataclass(frozen=True)
class EventRow:
    """One job event; `type` is "message" or "metrics" (then `data` holds the numbers)."""

    id: str
    created_at: int
    level: str
    message: str
    type: str = "message"
    data: dict[str, Any] | None = field(default=None, compare=False, hash=False)
