"""Models (list, retrieve, delete a fine-tuned one) and inference to try a model.

Completions and chat completions are side-effect free, so they are retried like
GETs when the backend answers 5xx or the connection drops.
"""

from __future__ import annotations

from typing import Any

from fttui.api._http import HTTP, segment
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

    async def delete(self, model_id: str) -> ModelDeleted:
        """Delete a fine-tuned model (base models cannot be deleted: 4xx)."""
        return parse(
            ModelDeleted, await self._http.request("DELETE", f"/models/{segment(model_id)}")
        )


def _body(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class Completions:
    """`client.completions`: the legacy prompt/completion endpoint the legacy guide uses."""

    def __init__(self, http: HTTP) -> None:
        self._http = http

    async def create(
        self,
        *,
        model: str,
        prompt: str,
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


class Chat:
    """`client.chat`: holds `completions`, as in the openai SDK."""

    def __init__(self, http: HTTP) -> None:
        self.completions = ChatCompletions(http)
