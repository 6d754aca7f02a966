"""`POST /v1/completions` and `POST /v1/chat/completions` on the local server.

So a fine-tuned model can be tried exactly as OpenAI's legacy fine-tuning guide says: same separator in the
prompt, `stop` to truncate, `max_tokens=1` and `logprobs=5` for classifiers. The
heavy engine (torch) is imported on first use, and generation runs in a worker
thread so the event loop keeps serving other requests.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request

from fttui.server.context import get_ctx, json_body
from fttui.server.errors import APIError

if TYPE_CHECKING:
    from fttui.train.inference import InferenceEngine

router = APIRouter()

MAX_TOKENS_LIMIT = 2048


def _engine(request: Request) -> InferenceEngine:
    engine = getattr(request.app.state, "inference", None)
    if engine is None:
        from fttui.train.inference import InferenceEngine

        engine = InferenceEngine(get_ctx(request).store)
        request.app.state.inference = engine
    return engine


def _bad(message: str, param: str) -> APIError:
    return APIError(400, message, param=param, code="invalid_value")


def _int(body: dict[str, Any], name: str, default: int | None, low: int, high: int) -> int | None:
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _bad(f"'{name}' must be an integer in [{low}, {high}], got {value!r}", name)
    return value


def _common(body: Any, default_max_tokens: int) -> tuple[str, int, float, list[str], int | None]:
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object", "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("'model' is required", "model")
    max_tokens = _int(body, "max_tokens", default_max_tokens, 1, MAX_TOKENS_LIMIT)
    if body.get("max_completion_tokens") is not None:
        max_tokens = _int(body, "max_completion_tokens", default_max_tokens, 1, MAX_TOKENS_LIMIT)
    temperature = body.get("temperature", 1.0)
    if temperature is None:
        temperature = 1.0
    if (
        not isinstance(temperature, (int, float))
        or isinstance(temperature, bool)
        or not 0 <= temperature <= 2
    ):
        raise _bad(f"'temperature' must be a number in [0, 2], got {temperature!r}", "temperature")
    stop = body.get("stop")
    if stop is None:
        stops: list[str] = []
    elif isinstance(stop, str):
        stops = [stop]
    elif isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop):
        stops = list(stop)
    else:
        raise _bad("'stop' must be a string or a list of at most 4 strings", "stop")
    seed = _int(body, "seed", None, 0, 2**63 - 1)
    assert max_tokens is not None
    return model, max_tokens, float(temperature), stops, seed


async def _run(request: Request, fn: Any, *args: Any, **kwargs: Any) -> Any:
    from fttui.train.inference import UnknownModel

    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except UnknownModel:
        model = args[0] if args else "?"
        raise APIError(
            404,
            f"The model {model!r} does not exist: not a base model of this server nor one of its fine-tuned models",
            param="model",
            code="model_not_found",
        ) from None
    except ValueError as exc:
        raise _bad(str(exc), "model") from None


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


@router.post("/completions")
async def completions(request: Request) -> dict[str, Any]:
    from fttui.train.inference import completion_id, completion_logprobs, created

    body = await json_body(request)
    model, max_tokens, temperature, stops, seed = _common(body, 16)
    prompt = body.get("prompt", "")
    prompts = [prompt] if isinstance(prompt, str) else prompt
    if not isinstance(prompts, list) or not prompts or not all(isinstance(p, str) for p in prompts):
        raise _bad("'prompt' must be a string or a non-empty list of strings", "prompt")
    logprobs = _int(body, "logprobs", None, 0, 5)
    engine = _engine(request)
    choices = []
    prompt_tokens = completion_tokens = 0
    for index, text in enumerate(prompts):
        gen = await _run(
            request,
            engine.complete,
            model,
            text,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=stops,
            logprobs=logprobs,
            seed=seed,
        )
        prompt_tokens += gen.prompt_tokens
        completion_tokens += gen.completion_tokens
        choices.append(
            {
                "index": index,
                "text": gen.text,
                "finish_reason": gen.finish_reason,
                "logprobs": completion_logprobs(gen, len(text)) if logprobs else None,
            }
        )
    return {
        "id": completion_id("cmpl"),
        "object": "text_completion",
        "created": created(),
        "model": model,
        "choices": choices,
        "usage": _usage(prompt_tokens, completion_tokens),
    }


@router.post("/chat/completions")
async def chat_completions(request: Request) -> dict[str, Any]:
    from fttui.train.inference import completion_id, created

    body = await json_body(request)
    model, max_tokens, temperature, stops, seed = _common(body, 256)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' must be a non-empty list", "messages")
    clean: list[dict[str, str]] = []
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or msg.get("role") not in (
            "system",
            "developer",
            "user",
            "assistant",
        ):
            raise _bad(
                f"messages[{i}] needs a role of system, user or assistant", f"messages[{i}].role"
            )
        content = msg.get("content")
        if isinstance(content, list):  # [{"type": "text", "text": ...}]
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if not isinstance(content, str):
            raise _bad(f"messages[{i}].content must be a string", f"messages[{i}].content")
        role = "system" if msg["role"] == "developer" else msg["role"]
        clean.append({"role": role, "content": content})
    gen = await _run(
        request,
        _engine(request).chat,
        model,
        clean,
        max_tokens=max_tokens,
        temperature=temperature,
        stop=stops,
        seed=seed,
    )
    return {
        "id": completion_id("chatcmpl"),
        "object": "chat.completion",
        "created": created(),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": gen.text},
                "finish_reason": gen.finish_reason,
                "logprobs": None,
            }
        ],
        "usage": _usage(gen.prompt_tokens, gen.completion_tokens),
    }
