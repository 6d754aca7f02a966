"""The one place that sends HTTP requests: auth headers, errors, retries, streaming.

Resources (files, jobs, models, ...) describe *what* to ask; this module decides
how: it turns transport failures and error statuses into the `APIError` family and
lets `RetryPolicy` decide whether to try again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import quote

import httpx

from fttui import __version__
from fttui.api._transport import LazyTLSTransport
from fttui.api.errors import APIError, status_error, summarise_text, transport_error
from fttui.api.retry import RetryPolicy

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})

# Builds the multipart `files` argument afresh for each attempt (a retried upload
# must reopen its file) and returns a closer for what it opened.
FilesFactory = Callable[[], tuple[dict[str, Any], Callable[[], None]]]


def segment(value: str) -> str:
    """An id as one URL path segment: `/files/{segment(file_id)}`.

    Ids come from a backend and are sent back to it: percent-encoded, an id with a
    control character, `/`, `?` or `#` in it stays one segment of the intended
    path (httpx refuses control characters in a URL with an exception no caller
    expects) and `..` cannot climb to another endpoint. `:` and `@` stay as they
    are (fine-tuned model ids use them).
    """
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="!$&'()*+,;=:@")


def _clean(params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if params is None:
        return None
    return {k: v for k, v in params.items() if v is not None}


class HTTP:
    """An httpx.AsyncClient plus the error and retry rules of the API layer."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None,
        organization: str | None,
        project: str | None,
        timeout: float | httpx.Timeout,
        policy: RetryPolicy,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise APIError(f"invalid base URL {base_url!r}: it must start with http:// or https://")
        headers = {"User-Agent": f"fttui/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        if organization:
            headers["OpenAI-Organization"] = organization
        if project:
            headers["OpenAI-Project"] = project
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._client = httpx.AsyncClient(
            base_url=self.base_url + "/",
            headers=headers,
            timeout=self.timeout,
            follow_redirects=True,
            transport=transport or LazyTLSTransport(),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    def _idempotent(self, method: str, idempotent: bool | None) -> bool:
        return method.upper() in _IDEMPOTENT_METHODS if idempotent is None else idempotent

    async def _send(
        self,
        method: str,
        path: str,
        *,
        stream: bool,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: FilesFactory | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """One attempt: a response with a success status, or an APIError."""
        what = f"{method} {path}"
        opened, close = files() if files else (None, None)
        try:
            request = self._client.build_request(
                method,
                path.lstrip("/"),
                params=_clean(params),
                json=json,
                data=dict(data) if data else None,
                files=opened,
                timeout=timeout or self.timeout,
            )
            try:
                response = await self._client.send(request, stream=stream)
            except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
                raise APIError(f"{what}: invalid URL ({exc})") from exc
            except httpx.TransportError as exc:
                raise transport_error(exc, what) from exc
        finally:
            if close:
                close()
        if response.is_success:
            return response
        try:
            await response.aread()
        except httpx.TransportError as exc:
            raise transport_error(exc, what) from exc
        finally:
            await response.aclose()
        raise status_error(response)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, Any] | None = None,
        files: FilesFactory | None = None,
        idempotent: bool | None = None,
        timeout: httpx.Timeout | None = None,
        retry: bool = True,
    ) -> Any:
        """Send with retries and return the decoded JSON body (None for an empty body).

        `retry=False` sends once: for probes, whose caller decides what a failure means.
        """

        async def attempt() -> Any:
            response = await self._send(
                method,
                path,
                stream=False,
                params=params,
                json=json,
                data=data,
                files=files,
                timeout=timeout,
            )
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise APIError(
                    f"{method} {path}: the server answered {response.status_code} with "
                    f"a body that is not JSON ({summarise_text(response.text)!r}); is "
                    f"{self.base_url} an OpenAI-compatible API?"
                ) from exc

        if not retry:
            return await attempt()
        return await self.policy.run(attempt, idempotent=self._idempotent(method, idempotent))

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        retry: bool = True,
    ) -> AsyncIterator[httpx.Response]:
        """A response whose body is still unread; retries until the headers say success.

        Failures while reading the body are the caller's to handle (raise
        `transport_error`), because only the caller knows whether it can resume;
        a caller that retries the whole exchange itself passes `retry=False`.
        """

        async def attempt() -> httpx.Response:
            return await self._send(method, path, stream=True, params=params, json=json)

        if retry:
            response = await self.policy.run(
                attempt, idempotent=self._idempotent(method, idempotent)
            )
        else:
            response = await attempt()
        try:
            yield response
        finally:
            await response.aclose()
