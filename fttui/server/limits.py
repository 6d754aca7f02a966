"""Request limits of the local server: a per-client rate limit, JSON body size and depth.

One pure-ASGI middleware, outside the routes, so every endpoint gets the same guard
without each route remembering it:

- a token bucket per client address answers 429 with `Retry-After` when a client
  sends faster than the configured rate (generous by default: the TUI polls a few
  requests a second, the load test raises it);
- a non-upload body larger than `max_body_bytes` is refused with 413 before it is
  read into memory (uploads stream to disk and have their own per-file limit);
- a JSON body nested deeper than `max_json_depth` is refused with 400 before
  `json.loads` can hit Python's recursion limit (which would be a 500).

Settings come from the environment (`FTTUI_RATE_LIMIT`, `FTTUI_RATE_BURST`,
`FTTUI_MAX_BODY_BYTES`, `FTTUI_MAX_JSON_DEPTH`) so `fttui serve` and tests set them
without new command-line flags; `FTTUI_RATE_LIMIT=0` turns the rate limit off.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fttui.server.errors import APIError

DEFAULT_RATE = 1000.0  # requests per second per client, sustained
DEFAULT_BURST = 2000  # requests a client may send at once
DEFAULT_MAX_BODY_BYTES = 1_000_000  # job requests are a few hundred bytes
DEFAULT_MAX_JSON_DEPTH = 32  # hyperparameters and metadata nest two levels
UPLOAD_PATHS = ("/v1/files",)  # streamed to disk, limited per file by the upload code
# Trainers' artifact uploads (PUT, checked by sha256) stream to disk too.
STREAMED_PUT_PREFIX = "/internal/v1/jobs/"
_MAX_BUCKETS = 10_000  # bounds memory if many addresses call


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"fttui serve: ${name} must be a number, got {raw!r}") from None
    if value < 0 or math.isnan(value):
        raise SystemExit(f"fttui serve: ${name} must be 0 or more, got {raw!r}")
    return value


@dataclass(frozen=True)
class Limits:
    rate: float = DEFAULT_RATE  # 0 disables the rate limit
    burst: int = DEFAULT_BURST
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH

    @classmethod
    def from_env(cls) -> Limits:
        rate = _env_number("FTTUI_RATE_LIMIT", DEFAULT_RATE)
        return cls(
            rate=rate,
            burst=max(1, int(_env_number("FTTUI_RATE_BURST", max(DEFAULT_BURST, rate)))),
            max_body_bytes=int(_env_number("FTTUI_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES)),
            max_json_depth=int(_env_number("FTTUI_MAX_JSON_DEPTH", DEFAULT_MAX_JSON_DEPTH)),
        )


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass
class RateLimiter:
    """Token buckets keyed by client address; `take` says how long to wait, 0 if allowed."""

    rate: float
    burst: int
    buckets: dict[str, _Bucket] = field(default_factory=dict)

    def take(self, client: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        bucket = self.buckets.get(client)
        if bucket is None:
            if len(self.buckets) >= _MAX_BUCKETS:
                self.buckets.clear()  # crude but bounded; only full buckets are lost
            bucket = self.buckets[client] = _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate


def json_depth_exceeds(raw: bytes, limit: int) -> bool:
    """True if `raw` nests arrays/objects deeper than `limit` (strings are skipped).

    A linear scan, so a hostile body of a million `[` costs one pass, not a recursion.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # the common case, at C speed
    depth = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False


class RequestLimits:
    """ASGI middleware applying `Limits` to every HTTP request."""

    def __init__(self, app: ASGIApp, limits: Limits | None = None) -> None:
        self.app = app
        self.limits = limits or Limits.from_env()
        self.limiter = (
            RateLimiter(self.limits.rate, self.limits.burst) if self.limits.rate > 0 else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.limiter is not None:
            client = scope.get("client")
            wait = self.limiter.take(client[0] if client else "unknown")
            if wait > 0:
                retry = max(1, math.ceil(wait))
                response = APIError(
                    429,
                    f"Too many requests: slow down and retry after {retry} s",
                    code="rate_limit_exceeded",
                ).response()
                response.headers["Retry-After"] = str(retry)
                await response(scope, receive, send)
                return
        if (
            scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS")
            or (scope["path"].rstrip("/") in UPLOAD_PATHS)
            or (scope["method"] == "PUT" and scope["path"].startswith(STREAMED_PUT_PREFIX))
        ):
            await self.app(scope, receive, send)
            return
        await self._guard_body(scope, receive, send)

    async def _guard_body(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Read the body within the size limit, check its depth, then replay it."""
        limit = self.limits.max_body_bytes
        declared = dict(scope.get("headers", [])).get(b"content-length")
        too_big = APIError(
            413,
            f"Request body is larger than the {limit}-byte limit",
            param="body",
            code="request_too_large",
        )
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_big.response()(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await too_big.response()(scope, receive, send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        if json_depth_exceeds(body, self.limits.max_json_depth):
            error = APIError(
                400,
                f"The request body nests deeper than {self.limits.max_json_depth} levels",
                param="body",
                code="json_too_deep",
            )
            await error.response()(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
