"""The server's settings, from command-line arguments first, then environment variables.

Kept as one frozen object so the app, the upload checker and the scheduler all read
the same limits, and tests can build an app with tiny limits.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fttui.paths import data_dir as resolve_data_dir

MB = 1_000_000
DEFAULT_MAX_FILE_BYTES = 150 * MB  # OpenAI's legacy fine-tuning guide: one file is at most 150 MB
DEFAULT_QUOTA_BYTES = (
    1_000 * MB
)  # OpenAI's legacy fine-tuning guide: an organisation stores at most 1 GB
DEFAULT_MAX_LINE_BYTES = 1 << 20  # far above 2048 tokens; bounds memory per line
DEFAULT_TRAINER = (sys.executable, "-m", "fttui.train.run")
ORG_ID = "org-local"


def _env_int(name: str) -> int | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"fttui serve: ${name} must be an integer, got {raw!r}") from None


def _first(*values: int | None, default: int) -> int:
    for value in values:
        if value is not None:
            return value
    return default


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8765
    api_key: str | None = field(default=None, repr=False)  # never printed
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    quota_bytes: int = DEFAULT_QUOTA_BYTES
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    concurrency: int = 1
    # The command that trains one job; `--data-dir D --job-id J` are appended.
    # `FTTUI_TRAINER_COMMAND` replaces it, e.g. with `accelerate launch -m fttui.train.run`.
    trainer_command: tuple[str, ...] = DEFAULT_TRAINER
    log_level: str = "info"
    poll_interval: float = 0.5

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Settings:
        """Arguments win over `FTTUI_*` environment variables, which win over defaults."""
        trainer = os.environ.get("FTTUI_TRAINER_COMMAND")
        return cls(
            data_dir=resolve_data_dir(getattr(args, "data_dir", None)),
            host=getattr(args, "host", None) or "127.0.0.1",
            port=int(getattr(args, "port", None) or 8765),
            api_key=getattr(args, "api_key", None) or os.environ.get("FTTUI_API_KEY") or None,
            max_file_bytes=_first(
                getattr(args, "max_file_bytes", None),
                _env_int("FTTUI_MAX_FILE_BYTES"),
                default=DEFAULT_MAX_FILE_BYTES,
            ),
            quota_bytes=_first(
                getattr(args, "quota_bytes", None),
                _env_int("FTTUI_QUOTA_BYTES"),
                default=DEFAULT_QUOTA_BYTES,
            ),
            max_line_bytes=_first(_env_int("FTTUI_MAX_LINE_BYTES"), default=DEFAULT_MAX_LINE_BYTES),
            concurrency=_first(
                getattr(args, "concurrency", None), _env_int("FTTUI_CONCURRENCY"), default=1
            ),
            trainer_command=tuple(shlex.split(trainer)) if trainer else DEFAULT_TRAINER,
            log_level=getattr(args, "log_level", None) or "info",
        )

    def problems(self) -> list[str]:
        """Settings that cannot work, as messages for the person starting the server."""
        out = []
        for name in ("max_file_bytes", "quota_bytes", "max_line_bytes"):
            if getattr(self, name) <= 0:
                out.append(f"--{name.replace('_', '-')} must be positive")
        if self.concurrency < 0:
            out.append("--concurrency must be 0 (never start jobs) or more")
        if not 0 < self.port < 65536:
            out.append(f"--port {self.port} is not a valid port")
        if not self.trainer_command:
            out.append("$FTTUI_TRAINER_COMMAND is empty")
        return out
