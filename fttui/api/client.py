"""`Client`: one backend (local server, OpenAI, or any compatible URL), async.

It owns one httpx connection pool; resources hang off it the way they do in the
`openai` SDK (`client.files`, `client.jobs`, `client.models`, `client.completions`,
`client.chat.completions`, `client.graders`) so code reads the same against either.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import httpx

from fttui.api._http import HTTP
from fttui.api.errors import APIError, NotFoundError
from fttui.api.files import Files
from fttui.api.graders import Graders
from fttui.api.inference import Chat, Completions, Models
from fttui.api.jobs import Jobs
from fttui.api.retry import RetryPolicy
from fttui.api.types import Usage, parse

if TYPE_CHECKING:
    from fttui.config import Profile

__all__ = ["Client", "infer_kind"]

Kind = Literal["local", "openai", "compatible"]


def infer_kind(base_url: str) -> Kind:
    """Guess the backend kind from its URL when no profile says it."""
    host = (urlsplit(base_url).hostname or "").lower()
    if host == "api.openai.com":
        return "openai"
    if host in {"127.0.0.1", "localhost", "::1"}:
        return "local"
    return "compatible"


class Client:
    """Async client of an OpenAI-compatible fine-tuning API.

    `max_retries` and `timeout` apply to every request (see `fttui.api.retry` for
    what is retried); `kind` decides whether local-only options are sent.
    """

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8765/v1",
        api_key: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        timeout: float | httpx.Timeout = 30.0,
        max_retries: int = 4,
        *,
        kind: Kind | None = None,
        label: str | None = None,
        retry_initial_delay: float = 0.5,
        retry_max_delay: float = 8.0,
        retry_after_cap: float = 60.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.kind: Kind = kind or infer_kind(base_url)
        # What `with_options` needs to open another client to the same backend.
        self._options: dict[str, Any] = {
            "base_url": base_url,
            "api_key": api_key,
            "organization": organization,
            "project": project,
            "timeout": timeout,
            "max_retries": max_retries,
            "label": label,
            "retry_initial_delay": retry_initial_delay,
            "retry_max_delay": retry_max_delay,
            "retry_after_cap": retry_after_cap,
            "transport": transport,
        }
        self._http = HTTP(
            base_url,
            api_key=api_key,
            organization=organization,
            project=project,
            timeout=timeout,
            policy=RetryPolicy(
                max_retries=max_retries,
                initial_delay=retry_initial_delay,
                max_delay=retry_max_delay,
                retry_after_cap=retry_after_cap,
            ),
            transport=transport,
        )
        self.base_url = self._http.base_url
        self._label_given = label is not None
        self.label = label or f"{self.kind} · {self.base_url}"
        self.files = Files(self._http)
        self.jobs = Jobs(self._http, self.kind, identify=self.detect)
        self.models = Models(self._http)
        self.completions = Completions(self._http)
        self.chat = Chat(self._http)
        self.graders = Graders(self._http)
        # Decided once per connection (`detect`): whether this is fttui's own server.
        self._detected: bool | None = None
        # Routes of the local server that answered 404 here: never asked again.
        self._absent: set[str] = set()

    @classmethod
    def from_profile(cls, profile: Profile, **kwargs: object) -> Client:
        """A client for a resolved `fttui.config.Profile`; kwargs as for `Client()`."""
        return cls(
            profile.base_url,
            api_key=profile.api_key,
            organization=profile.organization,
            project=profile.project,
            kind=profile.kind,
            label=profile.label,
            **kwargs,  # type: ignore[arg-type]
        )

    def with_options(
        self, *, timeout: float | httpx.Timeout | None = None, max_retries: int | None = None
    ) -> Client:
        """Another client of the same backend (key, organization, kind) with its own
        timeout and retries, on a pool of its own: for long work, such as evaluating a
        validation file, from an app whose client fails fast. Close it when done
        (`async with`)."""
        options = dict(self._options)
        if timeout is not None:
            options["timeout"] = timeout
        if max_retries is not None:
            options["max_retries"] = max_retries
        other = Client(**options, kind=self.kind)
        other._detected = self._detected
        other._absent = set(self._absent)
        return other

    def __repr__(self) -> str:  # never shows the API key
        return f"Client({self.label!r})"

    @property
    def is_local(self) -> bool:
        """Whether this is fttui's own server: as `detect` found, else as `kind` says.

        What the app offers depends on it (quota, LoRA, the legacy guide's model
        names, resolved "auto" numbers); every other backend is treated as OpenAI.
        """
        return self._detected if self._detected is not None else self.kind == "local"

    async def detect(self) -> Kind:
        """Decide, once per connection, whether the backend is fttui's own server.

        The local server answers `GET /v1/fttui/health` (a route only it has); OpenAI
        and other compatible servers answer 404. A loopback URL that is not fttui's
        server then counts as "compatible" (`kind` is updated). A backend that
        cannot be reached, or answers something else, leaves the question open (the
        next call asks again) and `kind` as configured.
        """
        if self._detected is not None:
            return self.kind
        try:
            health = await self.health()
        except APIError:
            return self.kind
        self._detected = bool(health and health.get("status") == "ok")
        if self._detected:
            self.kind = "local"
        elif self.kind == "local":
            self.kind = "compatible"
        self.jobs._kind = self.kind
        if not self._label_given:
            self.label = f"{self.kind} · {self.base_url}"
        return self.kind

    async def _local_route(self, path: str, **kwargs: object) -> object | None:
        """GET a route only the local server has; None (and never asked again) where
        the backend answered 404, or is known not to be the local server."""
        if path in self._absent or self._detected is False:
            return None
        try:
            return await self._http.request("GET", path, **kwargs)  # type: ignore[arg-type]
        except NotFoundError:
            self._absent.add(path)
            return None

    async def usage(self) -> Usage | None:
        """Storage used and allowed (local server), or None if the backend has no such endpoint."""
        await self.detect()
        if not self.is_local:
            return None
        body = await self._local_route("/fttui/usage")
        return None if body is None else parse(Usage, body)

    async def health(self) -> dict[str, object] | None:
        """The local server's health answer, or None where the backend lacks it.

        A probe: a server that cannot be reached raises APIConnectionError at once
        instead of being retried (the caller decides whether to wait or start one).
        """
        if "/fttui/health" in self._absent:
            return None
        try:
            body = await self._http.request("GET", "/fttui/health", retry=False)
        except NotFoundError:
            self._absent.add("/fttui/health")
            return None
        return body if isinstance(body, dict) else None

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
