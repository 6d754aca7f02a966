"""Where fttui keeps its state.

The data directory holds the local server's SQLite database and file bytes; it is
resolved once from `--data-dir`, then `FTTUI_DATA_DIR`, then platformdirs, so the
server, the trainer subprocesses and the TUI agree on it without passing it around.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "fttui"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data directory, created if missing."""
    if override is not None:
        path = Path(override)
    elif os.environ.get("FTTUI_DATA_DIR"):
        path = Path(os.environ["FTTUI_DATA_DIR"])
    else:
        path = Path(platformdirs.user_data_dir(APP_NAME))
    path = path.expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """The directory of `config.toml` (profiles); `FTTUI_CONFIG_DIR` overrides."""
    if os.environ.get("FTTUI_CONFIG_DIR"):
        return Path(os.environ["FTTUI_CONFIG_DIR"]).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME))
