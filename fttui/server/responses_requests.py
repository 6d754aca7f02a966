"""Check a `POST /v1/responses` body, OpenAI's way, and turn it into a chat request.

OpenAI's newer scripts (its cookbook's DPO guide among them) call a fine-tune through
the Responses API: `client.responses.create(model=..., input=..., instructions=...,
temperature=..., max_output_tokens=...)` and read `response.output_text`. The local
server answers that subset with the same engine as chat completions: a text `input` is
one user message, a list of messages is the conversation, `instructions` the system
message in front of it.

Light on purpose (no torch), like `inference_requests`, whose rules apply: a field the
local server does not implement is a 400 naming it unless its value is null or neutral;
a field OpenAI does not know is OpenAI's "Unrecognized request argument" 400. The local
server keeps no responses, so `store` must be false or left out (OpenAI's default is to
store; the response object says `store: false`), and `previous_response_id` is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fttui.server.errors import APIError
from fttui.server.inference_requests import ChatRequest, bad, parse_chat, unsupported

RESPONSE_FIELDS = frozenset(
    {
        "background", "conversation", "include", "input", "instructions", "max_output_tokens",
        "max_tool_calls", "metadata", "model", "parallel_tool_calls", "previous_response_id",
        "prompt", "prompt_cache_key", "prompt_cache_retention", "reasoning", "safety_identifier",
        "service_tier", "store", "stream", "stream_options", "temperature", "text",
        "tool_choice", "tools", "top_logprobs", "top_p", "truncation", "user",
    }
)  # fmt: skip

# Known fields the local server does not implement, and why (null or neutral values pass).
_UNSUPPORTED = {
    "background": "responses run in the foreground",
    "conversation": "the local server keeps no conversations",
    "previous_response_id": "the local server keeps no responses; send the whole conversation",
    "prompt": "the local server has no stored prompts",
    "max_tool_calls": "the local server has no built-in tools",
    "tools": "tools are not served through the Responses API here; use chat completions",
    "tool_choice": "tools are not served through the Responses API here; use chat completions",
    "top_logprobs": "use chat completions for log-probabilities",
    "include": "there is nothing extra to include",
}
_NEUTRAL: dict[str, tuple[Any, ...]] = {
    "background": (False,),
    "tools": ([],),
    "tool_choice": ("none", "auto"),
    "include": ([],),
    "top_logprobs": (0,),
    "max_tool_calls": (),
}
# Responses API field -> the chat completions field it becomes (for error messages too).
_RENAMED = {"max_output_tokens": "max_tokens", "input": "messages"}
_PASSED = ("model", "temperature", "top_p", "stream", "user", "safety_identifier",
           "prompt_cache_key", "prompt_cache_retention", "service_tier", "metadata",
           "parallel_tool_calls")  # fmt: skip
_ROLES = ("system", "developer", "user", "assistant")


@dataclass
class ResponseRequest:
    """A checked `/v1/responses` body: the chat request it runs as, and what the
    response object echoes back."""

    chat: ChatRequest
    instructions: str | None
    max_output_tokens: int | None
    metadata: dict[str, str]
    user: str | None


def _text_of(content: Any, where: str) -> str:
    """A message's text: a string, or a list of `input_text` / `output_text` parts."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise bad(f"{where} must be a string or a list of content parts", where)
    texts = []
    for j, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind not in ("input_text", "output_text") or not isinstance(part.get("text"), str):
            raise unsupported(
                f"{where}[{j}]",
                f"content part type {kind!r}; the local models read input_text parts only",
            )
        texts.append(part["text"])
    return "".join(texts)


def _input_messages(value: Any) -> list[dict[str, str]]:
    if isinstance(value, str):
        if not value:
            raise bad("'input' must not be empty", "input")
        return [{"role": "user", "content": value}]
    if not isinstance(value, list) or not value:
        raise bad("'input' must be a string or a non-empty list of messages", "input")
    messages = []
    for i, item in enumerate(value):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise bad(f"{where} must be a message object with 'role' and 'content'", where)
        kind = item.get("type", "message")
        if kind != "message":
            raise unsupported(
                f"{where}.type", f"input item type {kind!r}; the local server reads messages only"
            )
        for key in item:
            if key not in ("type", "role", "content", "id", "status"):
                raise bad(
                    f"Unrecognized field in {where}: {key}", f"{where}.{key}", "unknown_parameter"
                )
        role = item.get("role")
        if role not in _ROLES:
            raise bad(
                f"{where}.role must be one of {', '.join(_ROLES)}, got {role!r}", f"{where}.role"
            )
        messages.append(
            {"role": role, "content": _text_of(item.get("content"), f"{where}.content")}
        )
    return messages


def _renamed_error(exc: APIError) -> APIError:
    """A chat-level error, named as the Responses API field that caused it."""
    param = exc.param or ""
    for ours, chat in _RENAMED.items():
        if param == chat or param.startswith(chat + "["):
            new = ours + param[len(chat) :]
            return APIError(
                exc.status,
                exc.message.replace(f"'{chat}'", f"'{ours}'").replace(param, new),
                param=new,
                code=exc.code,
            )
    return exc


def parse_response(body: Any) -> ResponseRequest:
    """Check a `/v1/responses` body; raises APIError naming the first bad field."""
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object", "body")
    for name in body:
        if name not in RESPONSE_FIELDS:
            raise bad(f"Unrecognized request argument supplied: {name}", name, "unknown_parameter")
    for name, why in _UNSUPPORTED.items():
        value = body.get(name)
        if value is not None and value not in _NEUTRAL.get(name, ()):
            raise unsupported(name, why)
    if body.get("store"):
        raise unsupported(
            "store", "the local server keeps no responses; send store: false or leave it out"
        )
    reasoning = body.get("reasoning")
    if reasoning is not None:
        if not isinstance(reasoning, dict):
            raise bad("'reasoning' must be an object", "reasoning")
        if any(v is not None for v in reasoning.values()):
            raise unsupported("reasoning", "reasoning options are not served through this route")
    text = body.get("text")
    if text is not None:
        fmt = text.get("format") if isinstance(text, dict) else "?"
        if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") != "text"):
            raise unsupported("text.format", "only {'type': 'text'} (no structured outputs)")
        verbosity = text.get("verbosity") if isinstance(text, dict) else None
        if verbosity not in (None, "medium"):
            raise unsupported("text.verbosity", "the local models have no verbosity setting")
    truncation = body.get("truncation")
    if truncation not in (None, "disabled"):
        raise unsupported("truncation", "a conversation longer than the context is refused")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise bad("'instructions' must be a string", "instructions")
    if body.get("input") is None:
        raise bad("'input' is required: a string or a list of messages", "input")
    messages = _input_messages(body["input"])
    if instructions:
        messages.insert(0, {"role": "system", "content": instructions})
    chat_body: dict[str, Any] = {k: body[k] for k in _PASSED if body.get(k) is not None}
    chat_body["messages"] = messages
    if body.get("max_output_tokens") is not None:
        chat_body["max_tokens"] = body["max_output_tokens"]
    if body.get("stream_options") is not None:
        chat_body["stream_options"] = body["stream_options"]
    try:
        chat = parse_chat(chat_body)
    except APIError as exc:
        raise _renamed_error(exc) from None
    return ResponseRequest(
        chat=chat,
        instructions=instructions,
        max_output_tokens=body.get("max_output_tokens"),
        metadata=dict(body.get("metadata") or {}),
        user=body.get("user"),
    )
