"""`<data_dir>/server.log`: the server's log, rotated by size.

A TUI left open polls the server a few times a second, so the access lines alone
are ~8 KB a minute, hundreds of MB a month on a server that is never restarted.
The log is therefore a `RotatingFileHandler` (`server.log`, `server.log.1`, ...):
`FTTUI_LOG_MAX_BYTES` per file (10 MB by default), `FTTUI_LOG_BACKUPS` old files
kept (3), so it never holds more than about 40 MB.

The TUI's launcher and the tests start the server with its stdout and stderr
redirected into that same `server.log` (what Python itself prints, a traceback at
start-up, lands there too). When that is so, the handler points those descriptors
at the new file after each rollover, so nothing keeps growing the renamed old one,
and it does not log a second copy to stderr. Run by hand in a terminal, the server
logs to both the file and the terminal.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import Any

from fttui.server.log_safety import SafeLogFilter

DEFAULT_MAX_BYTES = 10_000_000
DEFAULT_BACKUPS = 3
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_NAME = "server.log"


def _env_int(name: str, default: int, low: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"fttui serve: ${name} must be an integer, got {raw!r}") from None
    if value < low:
        raise SystemExit(f"fttui serve: ${name} must be at least {low}, got {value}")
    return value


def _same_file(fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class ServerLogHandler(logging.handlers.RotatingFileHandler):
    """A size-rotated log file that also carries the process's redirected stdout/stderr."""

    def __init__(self, filename: Path, max_bytes: int, backups: int) -> None:
        super().__init__(filename, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
        # Which of stdout/stderr were redirected into this very file by whoever started us.
        self.follow_fds = [fd for fd in (1, 2) if _same_file(fd, Path(self.baseFilename))]

    def doRollover(self) -> None:  # noqa: N802 - logging's name
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()
        super().doRollover()
        if self.stream is None:
            return
        for fd in self.follow_fds:
            with contextlib.suppress(OSError):
                os.dup2(self.stream.fileno(), fd)


def setup(data_dir: Path, level: str = "info") -> ServerLogHandler:
    """Send the server's logging (uvicorn's access and error logs included) to server.log."""
    handler = ServerLogHandler(
        data_dir / LOG_NAME,
        max_bytes=_env_int("FTTUI_LOG_MAX_BYTES", DEFAULT_MAX_BYTES, 1000),
        backups=_env_int("FTTUI_LOG_BACKUPS", DEFAULT_BACKUPS, 1),
    )
    handler.setFormatter(logging.Formatter(FORMAT))
    handlers: list[logging.Handler] = [handler]
    if 2 not in handler.follow_fds:
        console = logging.StreamHandler(sys.stderr)
        console.setFormatter(logging.Formatter(FORMAT))
        handlers.append(console)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for h in handlers:
        # Client strings in a record (paths, names, messages) shown, not obeyed.
        h.addFilter(SafeLogFilter())
        root.addHandler(h)
    root.setLevel(level.upper())
    return handler


def uvicorn_log_config(level: str = "info") -> dict[str, Any]:
    """uvicorn's loggers without handlers of their own: they propagate to the root's."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "loggers": {
            name: {"handlers": [], "level": level.upper(), "propagate": True}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def read_tail(path: Path, max_bytes: int = 8192) -> str:
    """The last `max_bytes` of a log (never the whole file: it may be tens of MB)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - max_bytes))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""
