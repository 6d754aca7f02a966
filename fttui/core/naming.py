"""Fine-tuned model names, as OpenAI's legacy fine-tuning guide forms them.

`<base>:ft-<org>:<suffix>-YYYY-MM-DD-HH-MM-SS`, e.g.
`ada:ft-your-org:custom-model-name-2022-02-15-04-21-04`. Kept free of heavy imports
because the server, the trainer and the TUI's live preview all use it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

SUFFIX_MAX = 40
# fullmatch, not match with ^...$: `$` also matches before a final newline.
_SUFFIX_ALLOWED = re.compile(r"[A-Za-z0-9 _.\-]*")
_UNSAFE = re.compile(r"[^a-z0-9_.\-]+")
_ORG_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def suffix_problem(suffix: str | None) -> str | None:
    """Why `suffix` is refused, or None when it is acceptable."""
    if not suffix:
        return None
    if len(suffix) > SUFFIX_MAX:
        return f"suffix is {len(suffix)} characters; at most {SUFFIX_MAX} are allowed"
    if not _SUFFIX_ALLOWED.fullmatch(suffix):
        bad = sorted({c for c in suffix if not _SUFFIX_ALLOWED.fullmatch(c)})
        return f"suffix may contain only letters, digits, spaces, '-', '_' and '.' (found {''.join(bad)!r})"
    return None


def sanitize_suffix(suffix: str) -> str:
    """Lower-case, runs of other characters become '-': 'custom model name' -> 'custom-model-name'."""
    return _UNSAFE.sub("-", suffix.strip().lower()).strip("-")


def base_of(model: str) -> str:
    """The base model of a possibly fine-tuned model name (`ada:ft-org:x-...` -> `ada`)."""
    return model.split(":ft-", 1)[0] if ":ft-" in model else model


def fine_tuned_model_name(
    base_model: str, org: str, suffix: str | None, when: datetime | None = None
) -> str:
    """The name a job's result model gets; `org` without any `org-` prefix, each run of
    characters a model name cannot hold (spaces, ':') made one '-' (the TUI's preview
    for a backend whose organisation is not known says 'default org')."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    org_part = _ORG_UNSAFE.sub("-", org.removeprefix("org-")).strip("-") or "local"
    stamp = when.strftime("%Y-%m-%d-%H-%M-%S")
    clean = sanitize_suffix(suffix) if suffix else ""
    tail = f"{clean}-{stamp}" if clean else stamp
    return f"{base_of(base_model)}:ft-{org_part}:{tail}"


def openai_model_name(base_model: str, org: str | None, suffix: str | None) -> str:
    """The name OpenAI gives a fine-tune, as far as it is known before the job runs:
    `ft:gpt-4o-mini-2024-07-18:my-org:custom-suffix:<id>` (OpenAI picks the org's
    name and the closing id; an unknown org shows as `<org>`, no suffix as nothing)."""
    org_part = _ORG_UNSAFE.sub("-", (org or "").removeprefix("org-")).strip("-") or "<org>"
    clean = sanitize_suffix(suffix) if suffix else ""
    # Continuing from a fine-tune: OpenAI names the result after the base model.
    base = base_model.split(":")[1] if base_model.startswith("ft:") else base_of(base_model)
    return f"ft:{base}:{org_part}:{clean}:<id>"


def safe_dir_name(name: str) -> str:
    """A model name made safe as one path component (':' and '/' become '_')."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
