"""Hugging Face hub ids and what a failed hub download means, in words (no imports).

A model's `source` in models.json is a local directory or a hub id; the trainer, the
server's file validation and the upload check each may have to fetch from the hub,
and each must say the same clear thing when that fails (offline, no such repo, gated)
instead of a library's traceback.
"""

from __future__ import annotations

import re
from pathlib import Path

# "name" or "namespace/name": letters, digits, '-', '_', '.'.
_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*$")


def is_hub_id(source: str) -> bool:
    """A Hugging Face hub id rather than a local path (an existing path wins)."""
    if source.startswith(("/", "~", ".")) or "\\" in source or Path(source).exists():
        return False
    return bool(_HUB_ID.match(source))


def hub_problem(model_id: str, source: str, revision: str | None, exc: BaseException) -> str | None:
    """The message for a hub fetch that failed with `exc` (or anything it wraps);
    None when the failure is not the hub's.

    Matched by class name so this module needs no huggingface_hub import.
    """
    where = source + (f"@{revision}" if revision else "")
    seen: set[int] = set()
    chain: BaseException | None = exc
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        name = type(chain).__name__
        if name == "GatedRepoError":
            return (
                f"model {model_id!r}: cannot download {where}: it is gated; accept its "
                "licence on huggingface.co and set HF_TOKEN"
            )
        if name == "RepositoryNotFoundError":
            return (
                f"model {model_id!r}: {source} does not exist on the Hugging Face hub "
                "(or needs HF_TOKEN); fix 'source' in models.json"
            )
        if name == "RevisionNotFoundError":
            return f"model {model_id!r}: {source} has no revision {revision!r}"
        if name in ("LocalEntryNotFoundError", "OfflineModeIsEnabled"):
            return (
                f"model {model_id!r}: {where} is not downloaded and the Hugging Face hub "
                "cannot be reached from this machine (offline?); connect it, or download "
                "the model elsewhere and set 'source' in models.json to its directory"
            )
        chain = chain.__cause__ or chain.__context__
    return None
