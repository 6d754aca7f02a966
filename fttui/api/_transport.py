"""httpx's default transport, with the TLS context built only when TLS is used.

Building an `ssl.SSLContext` loads the whole CA bundle (20-50 ms) and httpx does it
when a client is created, whatever the URL. The local server speaks plain HTTP on
loopback, so every `fttui` start paid that for nothing. Here https requests go
through `httpx.AsyncHTTPTransport()` exactly as httpx would build it (same
verification, same `SSL_CERT_FILE`/`SSL_CERT_DIR` handling), created on the first
https request; plain-http requests go through a transport whose TLS context has no
CA certificates: it is never used for http, and would refuse any certificate if it
were.
"""

from __future__ import annotations

import ssl

import httpx

__all__ = ["LazyTLSTransport"]


class LazyTLSTransport(httpx.AsyncBaseTransport):
    """Routes by scheme: https to httpx's default transport (built on first use)."""

    def __init__(self) -> None:
        self._plain: httpx.AsyncHTTPTransport | None = None
        self._tls: httpx.AsyncHTTPTransport | None = None

    @property
    def tls_ready(self) -> bool:
        """Whether the TLS transport (and its CA bundle) has been built."""
        return self._tls is not None

    def _transport(self, scheme: str) -> httpx.AsyncHTTPTransport:
        if scheme == "https":
            if self._tls is None:
                self._tls = httpx.AsyncHTTPTransport()
            return self._tls
        if self._plain is None:
            self._plain = httpx.AsyncHTTPTransport(verify=ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT))
        return self._plain

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transport(request.url.scheme).handle_async_request(request)

    async def aclose(self) -> None:
        for transport in (self._plain, self._tls):
            if transport is not None:
                await transport.aclose()
