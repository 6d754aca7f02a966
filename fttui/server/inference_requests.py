"""Check `/v1/completions` and `/v1/chat/completions` request bodies, OpenAI's way.

Light on purpose (no torch): a bad request is refused before any model loads, and a
server without the training engine still explains what is wrong with a request.

Every field of OpenAI's request schemas is known here. A field the local server
does not implement gets a 400 naming it, unless its value is null or the neutral
value (so clients that send defaults explicitly still work); a field OpenAI does not
know at all gets OpenAI's own "Unrecognized request argument" 400. Nothing is
silently ignored except fields that never change an answer (end-user ids, cache
keys, metadata).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fttui.data.chat_format import REASONING_EFFORTS
from fttui.server.errors import APIError

MAX_TOKENS_LIMIT = 4096  # per choice; the model's context window is checked on top
MAX_CHOICES = 8  # n (and best_of): choices are generated one after another on CPU
MAX_PROMPTS = 16
SEED_RANGE = (-(2**63), 2**63 - 1)

# Fields that never change an answer: accepted when their type is right.
_IDENTIFIERS = ("user", "safety_identifier", "prompt_cache_key", "prompt_cache_retention")


def bad(message: str, param: str, code: str = "invalid_value") -> APIError:
    return APIError(400, message, param=param, code=code)


def unsupported(param: str, why: str) -> APIError:
    return APIError(
        400,
        f"'{param}' is not supported by the local fttui server: {why}",
        param=param,
        code="unsupported_parameter",
    )


def _number(body: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise bad(f"'{name}' must be a number in [{low:g}, {high:g}], got {value!r}", name)
    return float(value)


def _integer(
    body: dict[str, Any], name: str, default: int | None, low: int, high: int
) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad(f"'{name}' must be an integer in [{low}, {high}], got {value!r}", name)
    return value


def _boolean(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise bad(f"'{name}' must be true or false, got {value!r}", name)
    return value


@dataclass
class Common:
    """What both endpoints share: the model, how to sample, how to answer."""

    model: str
    max_tokens: int
    n: int
    stream: bool
    include_usage: bool
    sampling: dict[str, Any] = field(default_factory=dict)  # Sampling(**...) minus max/logprobs


def _unknown(body: dict[str, Any], known: frozenset[str]) -> None:
    for name in body:
        if name not in known:
            raise bad(
                f"Unrecognized request argument supplied: {name}",
                name,
                "unknown_parameter",
            )


def _common(body: Any, *, max_tokens_name: str, default_max_tokens: int, low: int) -> Common:
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object", "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad("'model' is required: the name of a base or fine-tuned model", "model")
    max_tokens = _integer(body, max_tokens_name, default_max_tokens, low, MAX_TOKENS_LIMIT)
    assert max_tokens is not None
    n = _integer(body, "n", 1, 1, MAX_CHOICES)
    assert n is not None
    stream = _boolean(body, "stream")
    options = body.get("stream_options")
    include_usage = False
    if options is not None:
        if not stream:
            raise bad("'stream_options' is only allowed with stream: true", "stream_options")
        if not isinstance(options, dict):
            raise bad("'stream_options' must be an object", "stream_options")
        for key in options:
            if key not in ("include_usage", "include_obfuscation"):
                raise bad(
                    f"Unrecognized stream option: {key}",
                    f"stream_options.{key}",
                    "unknown_parameter",
                )
        include_usage = _boolean(options, "include_usage")
        _boolean(options, "include_obfuscation")  # chunks are never padded: nothing to switch off
    stop = body.get("stop")
    if stop is None:
        stops: tuple[str, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    elif isinstance(stop, list) and 1 <= len(stop) <= 4 and all(isinstance(s, str) for s in stop):
        stops = tuple(stop)
    else:
        raise bad("'stop' must be a string or a list of 1 to 4 strings", "stop")
    seed = _integer(body, "seed", None, *SEED_RANGE)
    bias = body.get("logit_bias")
    logit_bias: list[tuple[int, float]] = []
    if bias is not None:
        if not isinstance(bias, dict):
            raise bad("'logit_bias' must be an object of token id -> bias", "logit_bias")
        for key, value in bias.items():
            if not str(key).lstrip("-").isdigit() or int(key) < 0:
                raise bad(f"logit_bias key {key!r} is not a token id", "logit_bias")
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not -100 <= value <= 100
            ):
                raise bad(f"logit_bias value for {key} must be in [-100, 100]", "logit_bias")
            logit_bias.append((int(key), float(value)))
    for name in _IDENTIFIERS:
        if body.get(name) is not None and not isinstance(body[name], str):
            raise bad(f"'{name}' must be a string", name)
    return Common(
        model=model,
        max_tokens=max_tokens,
        n=n,
        stream=stream,
        include_usage=include_usage,
        sampling={
            "temperature": _number(body, "temperature", 1.0, 0, 2),
            "top_p": _number(body, "top_p", 1.0, 0, 1),
            "stop": stops,
            "frequency_penalty": _number(body, "frequency_penalty", 0.0, -2, 2),
            "presence_penalty": _number(body, "presence_penalty", 0.0, -2, 2),
            "logit_bias": tuple(logit_bias),
            "seed": seed,
        },
    )


# -- /v1/completions ---------------------------------------------------------------

COMPLETION_FIELDS = frozenset(
    {
        "model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs",
        "max_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options",
        "suffix", "temperature", "top_p", "user",
    }
)  # fmt: skip


@dataclass
class CompletionRequest:
    common: Common
    prompts: list[str | list[int]]  # text, or token ids
    echo: bool
    logprobs: int | None
    best_of: int


def parse_completion(body: Any) -> CompletionRequest:
    """Check a `/v1/completions` body; raises APIError naming the first bad field."""
    if isinstance(body, dict):
        _unknown(body, COMPLETION_FIELDS)
    common = _common(body, max_tokens_name="max_tokens", default_max_tokens=16, low=0)
    if body.get("suffix") not in (None, ""):
        raise unsupported("suffix", "text insertion needs a model trained for it")
    prompt = body.get("prompt")
    if prompt is None:
        prompts: list[str | list[int]] = [""]
    elif isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = list(prompt)
    elif isinstance(prompt, list) and prompt and all(_is_token_id(t) for t in prompt):
        prompts = [list(prompt)]
    elif (
        isinstance(prompt, list)
        and prompt
        and all(isinstance(p, list) and p and all(_is_token_id(t) for t in p) for p in prompt)
    ):
        prompts = [list(p) for p in prompt]
    else:
        raise bad(
            "'prompt' must be a string, a list of strings, a list of token ids or a list of "
            "lists of token ids",
            "prompt",
        )
    if len(prompts) > MAX_PROMPTS:
        raise bad(f"at most {MAX_PROMPTS} prompts per request, got {len(prompts)}", "prompt")
    echo = _boolean(body, "echo")
    if common.max_tokens == 0 and not echo:
        raise bad("'max_tokens' 0 generates nothing: use it with echo: true", "max_tokens")
    logprobs = _integer(body, "logprobs", None, 0, 5)
    best_of = _integer(body, "best_of", common.n, 1, MAX_CHOICES)
    assert best_of is not None
    if best_of < common.n:
        raise bad(f"'best_of' ({best_of}) must be at least 'n' ({common.n})", "best_of")
    if best_of > common.n and common.stream:
        raise bad("'best_of' greater than 'n' cannot be streamed", "best_of")
    return CompletionRequest(common, prompts, echo, logprobs, best_of)


def _is_token_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# -- /v1/chat/completions --------------------------------------------------------

CHAT_FIELDS = frozenset(
    {
        "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "messages", "metadata", "modalities", "model",
        "moderation", "n", "parallel_tool_calls", "prediction", "presence_penalty",
        "prompt_cache_key", "prompt_cache_options", "prompt_cache_retention",
        "reasoning_effort", "response_format", "safety_identifier", "seed", "service_tier",
        "stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
        "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
    }
)  # fmt: skip

# Known chat fields this server does not implement, and why.
_CHAT_UNSUPPORTED = {
    "audio": "the local models produce text only",
    "functions": "the deprecated function calling is not implemented: send 'tools'",
    "function_call": "the deprecated function calling is not implemented: send 'tool_choice'",
    "prediction": "predicted outputs are not implemented",
    "verbosity": "the local models have no verbosity setting",
    "web_search_options": "the local server has no web search",
    "moderation": "the local server has no moderation",
}
_NEUTRAL = {
    "functions": ([],),
    "function_call": ("none",),
}
_ROLES = ("system", "developer", "user", "assistant", "tool")
MAX_TOOLS = 128


@dataclass
class ChatRequest:
    common: Common
    messages: list[dict[str, Any]]
    logprobs: bool
    top_logprobs: int
    tools: list[dict[str, Any]] = field(default_factory=list)
    # "auto", "none", "required", or the name of the one function to call
    tool_choice: str = "auto"
    forced_function: str | None = None
    parallel_tool_calls: bool = True
    reasoning_effort: str | None = None


def parse_chat(body: Any) -> ChatRequest:
    """Check a `/v1/chat/completions` body; raises APIError naming the first bad field."""
    if not isinstance(body, dict):
        raise bad("The request body must be a JSON object", "body")
    _unknown(body, CHAT_FIELDS)
    for name, why in _CHAT_UNSUPPORTED.items():
        value = body.get(name)
        if value is not None and value not in _NEUTRAL.get(name, ()):
            raise unsupported(name, why)
    name = (
        "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    )
    if name == "max_completion_tokens" and body.get("max_tokens") is not None:
        raise bad("send either 'max_tokens' or 'max_completion_tokens', not both", "max_tokens")
    common = _common(body, max_tokens_name=name, default_max_tokens=256, low=1)
    if body.get("store"):
        raise unsupported("store", "completions are not stored")
    parallel = body.get("parallel_tool_calls")
    if parallel is not None and not isinstance(parallel, bool):
        raise bad("'parallel_tool_calls' must be true or false", "parallel_tool_calls")
    tools = _tools(body.get("tools"))
    choice, forced = _tool_choice(body.get("tool_choice"), tools)
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in REASONING_EFFORTS:
        raise bad(
            f"'reasoning_effort' must be one of {', '.join(REASONING_EFFORTS)}, got {effort!r}",
            "reasoning_effort",
        )
    tier = body.get("service_tier")
    if tier not in (None, "auto", "default"):
        raise unsupported("service_tier", "there is one tier: 'default'")
    fmt = body.get("response_format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") != "text"):
        raise unsupported("response_format", "only {'type': 'text'} (no JSON mode)")
    modalities = body.get("modalities")
    if modalities is not None and modalities != ["text"]:
        raise unsupported("modalities", "the local models produce text only: ['text']")
    metadata = body.get("metadata")
    if metadata is not None and (
        not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values())
    ):
        raise bad("'metadata' must be an object of strings", "metadata")
    if body.get("prompt_cache_options") is not None and not isinstance(
        body["prompt_cache_options"], dict
    ):
        raise bad("'prompt_cache_options' must be an object", "prompt_cache_options")
    logprobs = _boolean(body, "logprobs")
    top = _integer(body, "top_logprobs", None, 0, 20)
    if top is not None and not logprobs:
        raise bad("'top_logprobs' needs logprobs: true", "top_logprobs")
    return ChatRequest(
        common,
        _messages(body.get("messages")),
        logprobs,
        top or 0,
        tools=tools if choice != "none" else [],
        tool_choice=choice,
        forced_function=forced,
        parallel_tool_calls=parallel is not False,
        reasoning_effort=effort,
    )


def _tools(tools: Any) -> list[dict[str, Any]]:
    """OpenAI's `tools`: function tools only (name, description, JSON Schema parameters)."""
    if tools is None:
        return []
    if not isinstance(tools, list) or len(tools) > MAX_TOOLS:
        raise bad(f"'tools' must be a list of at most {MAX_TOOLS} tools", "tools")
    out = []
    names = set()
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise unsupported(
                f"{where}.type", f"tool type {kind!r}; the local server calls functions only"
            )
        fn = tool.get("function")
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str) or not fn["name"]:
            raise bad(f"{where}.function.name is required", f"{where}.function.name")
        if fn["name"] in names:
            raise bad(f"{where}: the function {fn['name']!r} is listed twice", where)
        names.add(fn["name"])
        if fn.get("parameters") is not None and not isinstance(fn["parameters"], dict):
            raise bad(
                f"{where}.function.parameters must be a JSON Schema object",
                f"{where}.function.parameters",
            )
        if fn.get("description") is not None and not isinstance(fn["description"], str):
            raise bad(
                f"{where}.function.description must be a string",
                f"{where}.function.description",
            )
        clean = {k: v for k, v in fn.items() if k in ("name", "description", "parameters")}
        out.append({"type": "function", "function": clean})
    return out


def _tool_choice(choice: Any, tools: list[dict[str, Any]]) -> tuple[str, str | None]:
    """(mode, forced function name) from OpenAI's `tool_choice`."""
    names = [t["function"]["name"] for t in tools]
    if choice is None:
        return ("auto" if tools else "none"), None
    if choice in ("none", "auto", "required"):
        if choice != "none" and not tools:
            raise bad(f"'tool_choice' {choice!r} needs 'tools'", "tool_choice")
        return choice, None
    if isinstance(choice, dict) and choice.get("type") == "function":
        fn = choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if name not in names:
            raise bad(
                f"'tool_choice' names the function {name!r}, which is not in 'tools'",
                "tool_choice",
            )
        return "required", str(name)
    raise bad(
        "'tool_choice' must be 'none', 'auto', 'required' or "
        '{"type": "function", "function": {"name": ...}}',
        "tool_choice",
    )


def _messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise bad("'messages' must be a non-empty list", "messages")
    clean: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise bad(f"{where} must be an object with 'role' and 'content'", where)
        role = msg.get("role")
        if role == "function":
            raise unsupported(f"{where}.role", "role 'function' is deprecated: send 'tool'")
        if role not in _ROLES:
            raise bad(
                f"{where}.role must be one of {', '.join(_ROLES)}, got {role!r}", f"{where}.role"
            )
        for key in msg:
            if key in ("role", "content", "name"):
                continue
            if key == "tool_calls" and role == "assistant":
                continue
            if key == "tool_call_id" and role == "tool":
                continue
            if key in ("refusal", "tool_calls", "function_call", "audio") and msg[key] in (
                None,
                [],
            ):
                continue
            if key in ("function_call", "audio"):
                raise unsupported(f"{where}.{key}", "send 'tool_calls'; the models read no audio")
            raise bad(
                f"Unrecognized field in {where}: {key}", f"{where}.{key}", "unknown_parameter"
            )
        content = msg.get("content")
        if content is None and role == "assistant":
            content = ""
        if isinstance(content, list):
            texts = []
            for j, part in enumerate(content):
                kind = part.get("type") if isinstance(part, dict) else None
                if kind != "text" or not isinstance(part.get("text"), str):
                    raise unsupported(
                        f"{where}.content[{j}]",
                        f"content part type {kind!r}; the local models read text parts only",
                    )
                texts.append(part["text"])
            content = "".join(texts)
        if not isinstance(content, str):
            raise bad(
                f"{where}.content must be a string or a list of text parts", f"{where}.content"
            )
        name = msg.get("name")
        if name is not None and not isinstance(name, str):
            raise bad(f"{where}.name must be a string", f"{where}.name")
        # Chat templates know system, user and assistant; OpenAI's `developer` is the
        # system prompt of newer models.
        entry: dict[str, Any] = {
            "role": "system" if role == "developer" else role,
            "content": content,
        }
        if name:
            entry["name"] = name
        if role == "assistant" and msg.get("tool_calls"):
            entry["tool_calls"] = _message_calls(msg["tool_calls"], where)
        if role == "tool":
            call_id = msg.get("tool_call_id")
            if not isinstance(call_id, str):
                raise bad(
                    f"{where}.tool_call_id is required for a tool message",
                    f"{where}.tool_call_id",
                )
            entry["tool_call_id"] = call_id
        clean.append(entry)
    return clean


def _message_calls(calls: Any, where: str) -> list[dict[str, Any]]:
    """An assistant message's `tool_calls`, checked (arguments stay OpenAI's JSON string)."""
    if not isinstance(calls, list):
        raise bad(f"{where}.tool_calls must be a list", f"{where}.tool_calls")
    out = []
    for k, call in enumerate(calls):
        at = f"{where}.tool_calls[{k}]"
        fn = call.get("function") if isinstance(call, dict) else None
        if (
            not isinstance(fn, dict)
            or not isinstance(fn.get("name"), str)
            or not isinstance(fn.get("arguments"), str)
        ):
            raise bad(
                f"{at} must be {{'id', 'type': 'function', 'function': {{'name', 'arguments'}}}}",
                at,
            )
        out.append(
            {
                "id": str(call.get("id") or f"call_{k}"),
                "type": "function",
                "function": {"name": fn["name"], "arguments": fn["arguments"]},
            }
        )
    return out
