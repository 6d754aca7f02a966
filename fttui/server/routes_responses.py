"""`POST /v1/responses` on the local server: the subset scripts use to call a fine-tune.

OpenAI's newer code calls models through the Responses API (`client.responses.create`
and `response.output_text`); OpenAI's cookbook DPO guide generates and compares answers
that way. Here a response is one chat completion (`responses_requests` turns the body into
a chat request) answered as OpenAI's `response` object: one `message` output item with
one `output_text` part, `usage` in the Responses API's names, `incomplete` with reason
`max_output_tokens` when the answer was cut. `stream: true` sends OpenAI's typed events
(`response.created` ... `response.output_text.delta` ... `response.completed`), each
with its `sequence_number`.

The local server keeps no responses: `GET /v1/responses/{id}` answers 404 saying so.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from fttui.server.context import json_body
from fttui.server.errors import APIError
from fttui.server.responses_requests import ResponseRequest, parse_response
from fttui.server.routes_inference import (
    Emit,
    _call,
    _chat_prepare,
    _chat_sampling,
    _ChatPlan,
    _engine,
    _stream,
    created,
)

if TYPE_CHECKING:
    from fttui.train.inference import InferenceEngine

router = APIRouter()


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(24)}"


def _event(item: dict[str, Any]) -> bytes:
    """One server-sent event as OpenAI writes them: its type on an `event:` line."""
    data = json.dumps(item, separators=(",", ":"))
    return f"event: {item['type']}\ndata: {data}\n\n".encode()


def _usage(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }


def _part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message(item_id: str, text: str | None, status: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": item_id,
        "status": status,
        "role": "assistant",
        "content": [] if text is None else [_part(text)],
    }


def _response(req: ResponseRequest, resp_id: str, created_at: int) -> dict[str, Any]:
    """The response object before its output: what every event and the answer share."""
    sampling = req.chat.common.sampling
    return {
        "id": resp_id,
        "object": "response",
        "created_at": created_at,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": req.instructions,
        "max_output_tokens": req.max_output_tokens,
        "model": req.chat.common.model,
        "output": [],
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": False,
        "temperature": sampling.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "tools": [],
        "top_p": sampling.get("top_p", 1.0),
        "truncation": "disabled",
        "usage": None,
        "user": req.user,
        "metadata": req.metadata,
    }


def _finish(
    head: dict[str, Any], item_id: str, text: str, finish: str, prompt: int, completion: int
) -> dict[str, Any]:
    """The finished response: `incomplete` when the answer ran into max_output_tokens."""
    cut = finish == "length"
    return {
        **head,
        "status": "incomplete" if cut else "completed",
        "incomplete_details": {"reason": "max_output_tokens"} if cut else None,
        "output": [_message(item_id, text, "incomplete" if cut else "completed")],
        "usage": _usage(prompt, completion),
    }


def _answer(
    engine: InferenceEngine, req: ResponseRequest, plan: _ChatPlan, head: dict[str, Any]
) -> dict[str, Any]:
    gen = engine.generate(plan.prepared, _chat_sampling(req.chat, plan), index=0)
    parser = plan.parser()  # what a thinking model reasons is not the answer's text
    text = "".join(p.content for p in (parser.feed(gen.text), parser.finish()))
    return _finish(
        head,
        _id("msg"),
        text,
        gen.finish_reason,
        len(plan.prepared.prompt_ids),
        gen.completion_tokens,
    )


def _answer_stream(
    engine: InferenceEngine,
    req: ResponseRequest,
    plan: _ChatPlan,
    head: dict[str, Any],
    emit: Emit,
    gone: Callable[[], bool],
) -> None:
    """OpenAI's event sequence for one text answer."""
    seq = iter(range(1 << 62))
    item_id = _id("msg")

    def send(kind: str, **fields: Any) -> None:
        emit({"type": kind, "sequence_number": next(seq), **fields})

    where = {"item_id": item_id, "output_index": 0, "content_index": 0}
    send("response.created", response=head)
    send("response.in_progress", response=head)
    send("response.output_item.added", output_index=0, item=_message(item_id, None, "in_progress"))
    send("response.content_part.added", **where, part=_part(""))
    sampling = _chat_sampling(req.chat, plan)
    run = engine.decoding(plan.prepared, sampling, index=0, should_stop=gone)
    parser = plan.parser()
    texts: list[str] = []
    for piece in (*(parser.feed(d.text) for d in run.deltas()), parser.finish()):
        if piece.content:
            texts.append(piece.content)
            send("response.output_text.delta", **where, delta=piece.content, logprobs=[])
    text = "".join(texts)
    send("response.output_text.done", **where, text=text, logprobs=[])
    send("response.content_part.done", **where, part=_part(text))
    final = _finish(
        head, item_id, text, run.finish_reason, len(plan.prepared.prompt_ids), run.completion_tokens
    )
    send("response.output_item.done", output_index=0, item=final["output"][0])
    kind = "response.incomplete" if final["status"] == "incomplete" else "response.completed"
    send(kind, response=final)


@router.post("/responses", response_model=None)
async def create_response(request: Request) -> dict[str, Any] | StreamingResponse:
    req = parse_response(await json_body(request))
    engine = await _engine(request)
    model = req.chat.common.model
    plan = await _call(model, _chat_prepare, engine, req.chat)
    head = _response(req, _id("resp"), created())
    if req.chat.common.stream:
        return _stream(
            lambda emit, gone: _answer_stream(engine, req, plan, head, emit, gone),
            model,
            encode=_event,
            done=None,
        )
    answer: dict[str, Any] = await _call(model, _answer, engine, req, plan, head)
    return answer


@router.get("/responses/{response_id}")
async def get_response(response_id: str) -> dict[str, Any]:
    raise APIError(
        404,
        f"No response found with id {response_id!r}: the local fttui server keeps no "
        "responses (it answers as if every request had store: false)",
        param="response_id",
        code="not_found",
    )
