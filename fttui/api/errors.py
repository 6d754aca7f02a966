"""One exception family for everything that can go wrong talking to a backend.

The TUI shows `str(err)` in a notification, so it is always the server's own
message plus the HTTP status, never a traceback and never the API key. Callers
that need more read the attributes (`status_code`, `type`, `param`, `code`,
`request_id`, `body`) or catch a subclass chosen by status, as in the `openai` SDK.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from typing import Any

import httpx

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "InternalServerError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "RateLimitError",
    "UnprocessableEntityError",
    "parse_retry_after",
    "status_error",
    "summarise_text",
]


class APIError(Exception):
    """Base of every error the API layer raises; `message` is human-readable."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class APIConnectionError(APIError):
    """The backend could not be reached or the connection dropped.

    `request_sent` is False only when the failure happened before any byte of the
    request left this machine (connection refused, DNS, connect timeout), which is
    what makes retrying a non-idempotent POST safe.
    """

    def __init__(self, message: str, *, request_sent: bool = True) -> None:
        super().__init__(message)
        self.request_sent = request_sent


class APITimeoutError(APIConnectionError):
    """The backend did not answer within the configured timeout."""


class APIStatusError(APIError):
    """The backend answered with an HTTP error status (4xx/5xx)."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        type: str | None = None,
        param: str | None = None,
        code: str | None = None,
        request_id: str | None = None,
        body: Any = None,
        retry_after: float | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.type = type
        self.param = param
        self.code = code
        self.request_id = request_id
        self.body = body
        self.retry_after = retry_after
        # The server's `x-should-retry` header (as OpenAI's SDKs read it); None: absent.
        self.should_retry = should_retry

    def __str__(self) -> str:
        text = self.message
        if self.param and self.param not in text:
            text += f" (param: {self.param})"
        return f"{text} [HTTP {self.status_code}]"


class BadRequestError(APIStatusError):
    """400: the request is malformed or names bad values."""


class AuthenticationError(APIStatusError):
    """401: missing or wrong API key."""


class PermissionDeniedError(APIStatusError):
    """403: the key is valid but not allowed to do this."""


class NotFoundError(APIStatusError):
    """404: unknown file, job, model, or an endpoint the backend lacks."""


class ConflictError(APIStatusError):
    """409: the object is in a state that forbids this (e.g. cancelling a finished job)."""


class PayloadTooLargeError(APIStatusError):
    """413: the file exceeds the per-file limit or the storage quota."""


class UnprocessableEntityError(APIStatusError):
    """422: well-formed but invalid values."""


class RateLimitError(APIStatusError):
    """429: too many requests; retried automatically, honouring Retry-After."""


class InternalServerError(APIStatusError):
    """5xx: the backend failed; idempotent requests are retried automatically."""


_BY_STATUS: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    422: UnprocessableEntityError,
    429: RateLimitError,
}

_RETRY_AFTER_CAP = 3600.0


def parse_retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from `retry-after-ms`, `Retry-After` (seconds or HTTP date).

    Returns None when absent or unparseable; never negative.
    """
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, min(float(ms) / 1000.0, _RETRY_AFTER_CAP))
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, min(float(value), _RETRY_AFTER_CAP))
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, min(email.utils.mktime_tz(parsed) - time.time(), _RETRY_AFTER_CAP))


def _message_from_body(body: Any, response: httpx.Response) -> tuple[str, dict[str, Any]]:
    """The human message and the OpenAI `error` object (or {}) of an error body."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            msg = err.get("message")
            return (str(msg) if msg else response.reason_phrase or "error"), err
        if isinstance(err, str):
            return err, {}
        detail = body.get("detail")  # FastAPI/Starlette default error shape
        if isinstance(detail, str):
            return detail, {}
        if isinstance(detail, list) and detail:
            parts = []
            for item in detail:
                if isinstance(item, dict):
                    loc = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
                    parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg")))
            if parts:
                return "; ".join(parts), {}
        msg = body.get("message")
        if isinstance(msg, str):
            return msg, {}
    if isinstance(body, str) and body.strip():
        return summarise_text(body) or response.reason_phrase or "error", {}
    return f"{response.status_code} {response.reason_phrase}".strip(), {}


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>")
SUMMARY_CHARS = 100


def summarise_text(body: str) -> str:
    """A non-JSON body (a proxy's or another program's HTML page, plain text) as one
    short line: an HTML page's title (else its text without tags), else the first
    non-empty line, at most SUMMARY_CHARS long. Such bodies are pages meant for a
    browser; dumped whole into the app they buried the screen."""
    text = body.strip()
    if text[:1] == "<":
        import html  # its entity table is not needed unless a page comes back

        title = _TITLE.search(text)
        text = title.group(1) if title else _TAG.sub(" ", text)
        text = html.unescape(text)
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    return line[: SUMMARY_CHARS - 1] + "…" if len(line) > SUMMARY_CHARS else line


def status_error(response: httpx.Response) -> APIStatusError:
    """Build the right APIStatusError subclass from a (fully read) error response."""
    body: Any
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        body = response.text
    message, err = _message_from_body(body, response)
    status = response.status_code
    cls = _BY_STATUS.get(status) or (InternalServerError if status >= 500 else APIStatusError)

    def text_or_none(value: Any) -> str | None:
        return None if value is None else str(value)

    return cls(
        message,
        status_code=status,
        type=text_or_none(err.get("type")),
        param=text_or_none(err.get("param")),
        code=text_or_none(err.get("code")),
        request_id=response.headers.get("x-request-id"),
        body=body,
        retry_after=parse_retry_after(response.headers),
        should_retry={"true": True, "false": False}.get(
            response.headers.get("x-should-retry", "").strip().lower()
        ),
    )


def transport_error(exc: httpx.TransportError, what: str) -> APIConnectionError:
    """Wrap an httpx transport failure; `what` names the request ("GET /files")."""
    sent = not isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout))
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"{what} timed out ({detail})", request_sent=sent)
    if not sent:
        return APIConnectionError(f"{what}: cannot reach the server ({detail})", request_sent=False)
    return APIConnectionError(f"{what}: connection to the server lost ({detail})")
