"""The server's log lines quote client strings safely: no raw ESC ever reaches server.log.

Log records carry strings a client chose: a request path (uvicorn's error lines and
our own use the percent-DECODED path, so `/v1/files/%1b%5b2J` logs a raw ESC), a
query string, a file name in a warning, an exception message. Someone reading
`server.log` with `cat` or `tail -f` would have their terminal obey them. A filter
on every handler rewrites the record's message, arguments and traceback through
`safe_text` before any formatter sees them (`logfile.setup` puts it on the
server.log handler and the console one).
"""

from __future__ import annotations

import logging
from typing import Any

from fttui.core.safe_text import safe_text

__all__ = ["SafeLogFilter"]


def _safe_arg(value: Any) -> Any:
    # Only strings change: formatters read typed args (uvicorn's status code is an int).
    return safe_text(value) if isinstance(value, str) else value


class SafeLogFilter(logging.Filter):
    """Shows control characters in a record's text as escapes (`\\x1b`); keeps the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = safe_text(record.msg, multiline=True)
        if isinstance(record.args, tuple):
            record.args = tuple(_safe_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _safe_arg(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = safe_text(
                logging.Formatter().formatException(record.exc_info), multiline=True
            )
        elif record.exc_text:
            record.exc_text = safe_text(record.exc_text, multiline=True)
        return True
