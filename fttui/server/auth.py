"""Bearer-key auth: loopback needs no key; any other bind address requires one.

The key is compared in constant time and never logged.
"""

from __future__ import annotations

import hmac
import ipaddress

from starlette.types import ASGIApp, Receive, Scope, Send

from fttui.server.errors import APIError


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; anything else is reachable from outside."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def key_matches(header: str | None, api_key: str) -> bool:
    if not header:
        return False
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), api_key.encode())


class BearerAuth:
    """ASGI middleware: every HTTP request must carry `Authorization: Bearer <api_key>`."""

    def __init__(self, app: ASGIApp, api_key: str, exempt_prefix: str | None = None) -> None:
        self.app = app
        self.api_key = api_key
        # The internal trainer API checks its own per-job tokens instead of the key.
        self.exempt_prefix = exempt_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        exempt = self.exempt_prefix is not None and scope.get("path", "").startswith(
            self.exempt_prefix
        )
        if scope["type"] == "http" and not exempt:
            header = None
            for name, value in scope.get("headers", []):
                if name == b"authorization":
                    header = value.decode("latin-1")
                    break
            if not key_matches(header, self.api_key):
                message = (
                    "Missing API key: send 'Authorization: Bearer <key>'"
                    if not header
                    else "Incorrect API key provided"
                )
                response = APIError(401, message, code="invalid_api_key").response()
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
