"""Models (list, retrieve, delete a fine-tuned one) and inference to try a model.

Completions and chat completions are side-effect free, so they are retried like
GETs when the backend answers 5xx or the connection drops.
"""

from __future__ import annotations

import json
import os
import tarfile
import tempfile
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx

from fttui.api._http import HTTP, segment
from fttui.api.errors import APIError, transport_error
from fttui.api.types import ChatCompletion, Completion, Model, ModelDeleted, Page, parse

__all__ = ["Chat", "ChatCompletions", "Completions", "Models"]


class Models:
    """`client.models`."""

    def __init__(self, http: HTTP) -> None:
        self._http = http

    async def list(self) -> list[Model]:
        body = await self._http.request("GET", "/models")
        return parse(Page[Model], body).data

    async def retrieve(self, model_id: str) -> Model:
        return parse(Model, await self._http.request("GET", f"/models/{segment(model_id)}"))

    async def export(
        self, model_id: str, directory: str | os.PathLike[str], fmt: str = "hf"
    ) -> Path:
        """Download a model as a directory other tools load (the local server's
        `GET /fttui/export/{model}`, fttui.server.export) into `directory`."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".export-", suffix=".tar", dir=target)
        os.close(fd)
        try:
            with open(name, "wb") as out:
                async with self._http.stream(
                    "GET", f"/fttui/export/{segment(model_id)}", params={"format": fmt}
                ) as response:
                    async for chunk in response.aiter_bytes(1 << 20):
                        out.write(chunk)
            with tarfile.open(name) as tar:
                tar.extractall(target, filter="data")  # no paths outside `target`
        finally:
            os.unlink(name)
        return target

    async def delete(self, model_id: str) -> ModelDeleted:
        """Delete a fine-tuned model (base models cannot be deleted: 4xx)."""
        return parse(
            ModelDeleted, await self._http.request("DELETE", f"/models/{segment(model_id)}")
        )


def _body(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


async def _stream_text(
    http: HTTP,
    path: str,
    body: dict[str, Any],
    delta: Callable[[dict[str, Any]], str],
    whole: Callable[[Any], str],
) -> AsyncIterator[str]:
    """The text of a streamed (`stream: true`) answer, piece by piece as it arrives.

    Server-sent `data:` chunks until `data: [DONE]`; an `error` chunk (how OpenAI and
    the local server report a failure after the headers) raises APIError. A backend
    that ignores `stream` and answers one JSON object yields its whole text once.
    """
    what = f"POST {path}"
    async with http.stream("POST", path, json={**body, "stream": True}, idempotent=True) as resp:
        try:
            if "text/event-stream" not in resp.headers.get("content-type", ""):
                raw = await resp.aread()
                try:
                    yield whole(json.loads(raw))
                except ValueError as exc:
                    raise APIError(f"{what}: the answer is neither JSON nor a stream") from exc
                return
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    return
                try:
                    chunk = json.loads(data)
                except ValueError as exc:
                    raise APIError(f"{what}: a stream chunk is not JSON: {data[:80]!r}") from exc
                if not isinstance(chunk, dict):
                    raise APIError(f"{what}: a stream chunk is not an object: {data[:80]!r}")
                error = chunk.get("error")
                if error is not None:
                    message = error.get("message") if isinstance(error, dict) else error
                    raise APIError(f"{what}: {message or 'the backend failed mid-stream'}")
                text = delta(chunk)
                if text:
                    yield text
        except httpx.TransportError as exc:
            raise transport_error(exc, what) from exc


def _choice(chunk: dict[str, Any]) -> dict[str, Any]:
    choices = chunk.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    return first if isinstance(first, dict) else {}


def _completion_delta(chunk: dict[str, Any]) -> str:
    text = _choice(chunk).get("text")
    return text if isinstance(text, str) else ""


def _chat_delta(chunk: dict[str, Any]) -> str:
    delta = _choice(chunk).get("delta")
    content = delta.get("content") if isinstance(delta, dict) else None
    return content if isinstance(content, str) else ""


class Completions:
    """`client.completions`: the legacy prompt/completion endpoint the legacy guide uses."""

    def __init__(self, http: HTTP) -> None:
        self._http = http

    async def create(
        self,
        *,
        model: str,
        prompt: str | list[str],
        max_tokens: int = 16,
        temperature: float = 0.0,
        stop: str | list[str] | None = None,
        logprobs: int | None = None,
        **extra: Any,
    ) -> Completion:
        body = _body(
            {
                "model": model,
                "prompt": prompt,
                "max_tokens": max_tokens,
                "temperature": temperature,
                "stop": stop,
                "logprobs": logprobs,
                **extra,
            }
        )
        return parse(
            Completion, await self._http.request("POST", "/completions", json=body, idempotent=True)
        )

    def stream(
        self,
        *,
        model: str,
        prompt: str,
        max_tokens: int = 16,
        temperature: float = 0.0,
        stop: str | list[str] | None = None,
        **extra: Any,
    ) -> AsyncIterator[str]:
        """The completion's text as it is generated (`stream: true`), first choice only."""
        body = _body(
            {
                "model": model,
                "prompt": prompt,
                "max_tokens": max_tokens,
                "temperature": temperature,
                "stop": stop,
                **extra,
            }
        )
        return _stream_text(
            self._http,
            "/completions",
            body,
            _completion_delta,
            lambda whole: parse(Completion, whole).text,
        )


class ChatCompletions:
    """`client.chat.completions`."""

    def __init__(self, http: HTTP) -> None:
        self._http = http

    async def create(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        max_tokens: int | None = 256,
        temperature: float | None = 0.0,
        stop: str | list[str] | None = None,
        **extra: Any,
    ) -> ChatCompletion:
        body = _body(
            {
                "model": model,
                "messages": messages,
                "max_tokens": max_tokens,
                "temperature": temperature,
                "stop": stop,
                **extra,
            }
        )
        return parse(
            ChatCompletion,
            await self._http.request("POST", "/chat/completions", json=body, idempotent=True),
        )

    def stream(
        self,
        *,
        model: str,
        messages: list[dict[str, Any]],
        max_tokens: int | None = 256,
        temperature: float | None = 0.0,
        stop: str | list[str] | None = None,
        **extra: Any,
    ) -> AsyncIterator[str]:
        """The reply's text as it is generated (`stream: true`), first choice only."""
        body = _body(
            {
                "model": model,
                "messages": messages,
                "max_tokens": max_tokens,
                "temperature": temperature,
                "stop": stop,
                **extra,
            }
        )
        return _stream_text(
            self._http,
            "/chat/completions",
            body,
            _chat_delta,
            lambda whole: parse(ChatCompletion, whole).text,
        )


class Chat:
    """`client.chat`: holds `completions`, as in the openai SDK."""

    def __init__(self, http: HTTP) -> None:
        self.completions = ChatCompletions(http)
