"""What the app's screen looked like when it closed, kept per profile.

Marks, the jobs filter, the lists' sort, the selected job, the active pane and the
plots' views come back on the next start: a user who marked three runs to compare
and filtered the list to a sweep finds them so after a restart (or a dropped SSH
link). One small JSON file per profile in the config directory
(`<config dir>/state/<profile>.json`), written atomically; a file that cannot be
read is ignored with a warning (it is a convenience, never worth a failed start).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from fttui.paths import config_dir

#: Bumped when the file's layout changes incompatibly (an older file is then ignored).
VERSION = 1


def state_path(profile: str) -> Path:
    """The state file of `profile` (its name made safe as a file name)."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", profile) or "default"
    return config_dir() / "state" / f"{safe}.json"


def load_state(path: Path) -> tuple[dict[str, Any], str | None]:
    """(state, warning): the saved state, or {} and why it was not read (None: no
    file yet, which is no problem)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"{path}: cannot be read ({exc.strerror}); starting with the default layout"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return (
            {},
            f"{path}, line {exc.lineno}: not JSON ({exc.msg}); starting with the default layout",
        )
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return {}, f"{path}: not a state file of this version; starting with the default layout"
    return data, None


def save_state(path: Path, state: dict[str, Any]) -> None:
    """Write `state` to `path` at once (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps({"version": VERSION, **state}, indent=1, sort_keys=True)
    handle, tmp = tempfile.mkstemp(prefix=".state-", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(body + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
