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


def _env_float(name: str) -> float | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"fttui serve: ${name} must be a number, got {raw!r}") from None


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
    # The command that trains one job; `--server-url U --job-id J` are appended (the
    # token travels in the environment). `FTTUI_TRAINER_COMMAND` replaces it.
    trainer_command: tuple[str, ...] = DEFAULT_TRAINER
    log_level: str = "info"
    poll_interval: float = 0.5
    # Where jobs train: "local" (a process here) or "ray" (a Ray job per fttui job).
    runner: str = "local"
    # The URL trainers reach this server at; default: this server on loopback, or on
    # its bind address when that is a routable one.
    trainer_url: str | None = None
    ray_address: str | None = None
    ray_workers: int = 1
    ray_gpus_per_worker: float = 0.0
    ray_cpus_per_worker: float = 1.0
    # How long the Ray head may stay silent before its jobs are failed (seconds).
    ray_grace_s: float = 60.0
    # Ray Train restarts of a job's workers after a worker or node is lost (N > 1).
    ray_max_failures: int = 3
    # The Python the Ray entrypoint runs (None: fttui/server/ray_runner.py decides).
    ray_python: str | None = None
    # Epoch checkpoints kept per job (0: all); see fttui/server/checkpoints.py.
    keep_checkpoints: int = 3

    @property
    def server_url_for_trainers(self) -> str:
        if self.trainer_url:
            return self.trainer_url.rstrip("/")
        host = self.host
        if host in ("0.0.0.0", "::", "", "localhost"):
            host = "127.0.0.1"
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

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
            runner=getattr(args, "runner", None) or os.environ.get("FTTUI_RUNNER") or "local",
            trainer_url=getattr(args, "trainer_url", None)
            or os.environ.get("FTTUI_TRAINER_URL")
            or None,
            ray_address=getattr(args, "ray_address", None)
            or os.environ.get("FTTUI_RAY_ADDRESS")
            or None,
            ray_workers=_first(getattr(args, "ray_workers", None), default=1),
            ray_gpus_per_worker=float(getattr(args, "ray_gpus_per_worker", None) or 0.0),
            ray_cpus_per_worker=float(getattr(args, "ray_cpus_per_worker", None) or 1.0),
            ray_grace_s=next(
                (
                    float(v)
                    for v in (getattr(args, "ray_grace_s", None), _env_float("FTTUI_RAY_GRACE_S"))
                    if v is not None
                ),
                60.0,
            ),
            ray_max_failures=_first(
                getattr(args, "ray_max_failures", None),
                _env_int("FTTUI_RAY_MAX_FAILURES"),
                default=3,
            ),
            ray_python=getattr(args, "ray_python", None)
            or os.environ.get("FTTUI_RAY_PYTHON")
            or None,
            keep_checkpoints=_first(
                getattr(args, "keep_checkpoints", None),
                _env_int("FTTUI_KEEP_CHECKPOINTS"),
                default=3,
            ),
        )

    def problems(self) -> list[str]:
        """Settings that cannot work, as messages for the person starting the server."""
        out = []
        for name in ("max_file_bytes", "quota_bytes", "max_line_bytes"):
            if getattr(self, name) <= 0:
                out.append(f"--{name.replace('_', '-')} must be positive")
        if self.keep_checkpoints < 0:
            out.append("--keep-checkpoints must be 0 (keep every checkpoint) or more")
        if self.concurrency < 0:
            out.append("--concurrency must be 0 (never start jobs) or more")
        if not 0 < self.port < 65536:
            out.append(f"--port {self.port} is not a valid port")
        if not self.trainer_command:
            out.append("$FTTUI_TRAINER_COMMAND is empty")
        if self.runner not in ("local", "ray"):
            out.append(f"--runner must be 'local' or 'ray', got {self.runner!r}")
        if self.runner == "ray" and not self.ray_address:
            out.append(
                "--runner ray needs --ray-address http://HEAD:8265 (the Ray dashboard's "
                "job submission address) or $FTTUI_RAY_ADDRESS"
            )
        if self.ray_workers < 1:
            out.append("--ray-workers must be 1 or more")
        if self.ray_gpus_per_worker < 0 or self.ray_cpus_per_worker <= 0:
            out.append("--ray-gpus-per-worker must be 0 or more and --ray-cpus-per-worker positive")
        if self.ray_grace_s < 0:
            out.append("--ray-grace-s must be 0 or more")
        if self.ray_max_failures < 0:
            out.append("--ray-max-failures must be 0 (never restart) or more")
        if self.trainer_url and not self.trainer_url.startswith(("http://", "https://")):
            out.append(f"--trainer-url must be an http(s) URL, got {self.trainer_url!r}")
        return out
