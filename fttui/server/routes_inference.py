"""`POST /v1/completions` and `POST /v1/chat/completions` on the local server.

So a fine-tuned model can be tried exactly as OpenAI's legacy fine-tuning guide says
(same separator in the prompt, `stop` to truncate, `max_tokens=1` and `logprobs=5`
for classifiers) and any OpenAI client works against it: `stream` (server-sent
events in OpenAI's chunk format, ending with `data: [DONE]`), `n`, `best_of`, `echo`,
`logprobs` / `top_logprobs`, `seed`, `temperature`, `top_p`, penalties and
`logit_bias`. Requests are checked first (`inference_requests`), so unsupported
options are a 400 naming them.

Nothing here blocks the event loop: the engine (and torch with it) is imported in a
thread on first use, models load and generate in worker threads, and a stream is fed
from its generating thread through a queue. A client that goes away stops its
generation at the next token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from fttui.server.context import get_ctx, json_body
from fttui.server.engine_check import INSTALL_HINT, require_engine
from fttui.server.errors import APIError
from fttui.server.inference_requests import (
    ChatRequest,
    CompletionRequest,
    parse_chat,
    parse_completion,
)

if TYPE_CHECKING:
    from fttui.data.chat_format import HarmonyParser, OutputParser, Piece
    from fttui.train.inference import (
        Generation,
        InferenceEngine,
        Prepared,
        Sampling,
        TokenInfo,
    )

log = logging.getLogger("fttui.server.inference")


def completion_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def created() -> int:
    return int(time.time())


router = APIRouter()
Emit = Callable[[dict[str, Any]], None]


# -- the engine, off the loop ----------------------------------------------------------


def _build_engine(store: Any) -> InferenceEngine:
    from fttui.train.inference import InferenceEngine

    return InferenceEngine(store)


async def _engine(request: Request) -> InferenceEngine:
    """The app's engine, built (importing torch: seconds) in a thread on first use."""
    state = request.app.state
    engine: InferenceEngine | None = getattr(state, "inference", None)
    if engine is not None:
        return engine
    require_engine(503, "generate text")
    lock: asyncio.Lock | None = getattr(state, "inference_lock", None)
    if lock is None:
        lock = state.inference_lock = asyncio.Lock()
    async with lock:
        engine = getattr(state, "inference", None)
        if engine is None:
            try:
                engine = await asyncio.to_thread(_build_engine, get_ctx(request).store)
            except ImportError as exc:  # installed, but broken
                raise APIError(
                    503,
                    f"This server cannot generate text. Fix: {INSTALL_HINT} where the "
                    f"server runs, then restart `fttui serve` (its training engine does not "
                    f"import: {exc}).",
                    code="engine_not_installed",
                    type="server_error",
                    headers={"x-should-retry": "false"},
                ) from None
            state.inference = engine
    return engine


def _as_api_error(exc: BaseException, model: str) -> APIError | None:
    """What a client should see for an exception from the engine (None: a real crash)."""
    from fttui.data.encode import ExampleError
    from fttui.train.inference import ContextTooLong, UnknownModel

    if isinstance(exc, ExampleError):
        return APIError(400, exc.detail, param="messages", code="invalid_value")
    if isinstance(exc, UnknownModel):
        return APIError(
            404,
            f"The model {model!r} does not exist: not a base model of this server nor one "
            "of its fine-tuned models",
            param="model",
            code="model_not_found",
        )
    if isinstance(exc, ContextTooLong):
        return APIError(400, str(exc), param=exc.param, code="context_length_exceeded")
    if isinstance(exc, ValueError):
        return APIError(400, str(exc), param="model", code="invalid_value")
    return None


async def _call(model: str, fn: Callable[..., Any], *args: Any) -> Any:
    """Run blocking engine work in a thread, its errors turned into API errors."""
    try:
        return await asyncio.to_thread(fn, *args)
    except Exception as exc:
        error = _as_api_error(exc, model)
        if error is None:
            raise
        raise error from None


# -- streaming from a thread ---------------------------------------------------------------

_END = object()


class _Failed:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _sse(item: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(item, separators=(',', ':'))}\n\n".encode()


def _stream(
    work: Callable[[Emit, Callable[[], bool]], None],
    model: str,
    *,
    encode: Callable[[dict[str, Any]], bytes] = _sse,
    done: bytes | None = b"data: [DONE]\n\n",
) -> StreamingResponse:
    """Server-sent events fed by `work(emit, gone)` running in its own thread.

    `encode` writes one event (the Responses API names each event's type); `done` is
    the closing line chat and completions streams end with (the Responses API has none).
    """

    async def events() -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        gone = threading.Event()

        def put(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is closed: the server is stopping
                gone.set()

        def run() -> None:
            from fttui.train.inference import Stopped

            try:
                work(put, gone.is_set)
                put(_END)
            except Stopped:
                log.info("a %s stream's client went away; its generation stopped", model)
                put(_END)
            except BaseException as exc:
                put(_Failed(exc))

        threading.Thread(target=run, name="fttui-generate", daemon=True).start()
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    if done is not None:
                        yield done
                    return
                if isinstance(item, _Failed):
                    error = _as_api_error(item.exc, model)
                    if error is None:
                        log.error("generation failed", exc_info=item.exc)
                        error = APIError(500, "Generation failed; see the server log")
                    yield _sse(error.body())  # OpenAI's clients raise it as an APIError
                    return
                assert isinstance(item, dict)
                yield encode(item)
        finally:
            gone.set()  # a client that went away stops the generation at its next token

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


# -- response pieces ---------------------------------------------------------------------


def _usage(prompt: int, completion: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _legacy_logprobs(tokens: list[TokenInfo]) -> dict[str, Any]:
    """OpenAI's completions `logprobs` object."""
    return {
        "tokens": [t.token for t in tokens],
        "token_logprobs": [t.logprob for t in tokens],
        "top_logprobs": [dict(t.top) if t.logprob is not None else None for t in tokens],
        "text_offset": [t.offset for t in tokens],
    }


def _chat_logprob(token: str, logprob: float | None) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))}


def _chat_logprobs(tokens: list[TokenInfo]) -> dict[str, Any]:
    """OpenAI's chat `logprobs` object: `content` per token, `refusal` always null."""
    return {
        "content": [
            {
                **_chat_logprob(t.token, t.logprob),
                "top_logprobs": [_chat_logprob(tok, lp) for tok, lp in t.top],
            }
            for t in tokens
        ],
        "refusal": None,
    }


def _sampling(common: Any, logprobs: int | None) -> Sampling:
    from fttui.train.inference import Sampling

    return Sampling(max_tokens=common.max_tokens, logprobs=logprobs, **common.sampling)


def _prompt_text(prepared: Prepared, prompt: str | list[int]) -> str:
    if isinstance(prompt, str):
        return prompt
    return str(prepared.tokenizer.decode(prompt, clean_up_tokenization_spaces=False))


# -- /v1/completions -----------------------------------------------------------------------


def _prepare_prompts(engine: InferenceEngine, req: CompletionRequest) -> list[Prepared]:
    out = []
    for prompt in req.prompts:
        if isinstance(prompt, str):
            out.append(engine.prepare_completion(req.common.model, prompt, req.common.max_tokens))
        else:
            out.append(engine.prepare_tokens(req.common.model, prompt, req.common.max_tokens))
    engine.check_logit_bias(out[0], req.common.sampling["logit_bias"])
    return out


def _best(candidates: list[Generation], n: int) -> list[Generation]:
    """`best_of`: the n candidates with the highest mean token logprob (their order kept)."""

    def score(gen: Generation) -> float:
        values = [t.logprob for t in gen.tokens if t.logprob is not None]
        return sum(values) / len(values) if values else 0.0

    ranked = sorted(range(len(candidates)), key=lambda i: score(candidates[i]), reverse=True)
    return [candidates[i] for i in sorted(ranked[:n])]


def _completion_choices(
    engine: InferenceEngine, req: CompletionRequest, prepared: list[Prepared]
) -> tuple[list[dict[str, Any]], int, int]:
    """(choices, prompt tokens, completion tokens) of a non-streamed completion."""
    n, best_of = req.common.n, req.best_of
    ranking = best_of > n
    # Ranking candidates needs each token's logprob even when the client asked for none.
    wanted = req.logprobs if req.logprobs is not None else (0 if ranking else None)
    sampling = _sampling(req.common, wanted)
    choices: list[dict[str, Any]] = []
    prompt_tokens = completion_tokens = 0
    texts = [_prompt_text(prep, prompt) for prompt, prep in zip(req.prompts, prepared, strict=True)]
    # Every prompt's candidates are decoded together, in one batch.
    generated = (
        engine.generate_many(
            [
                (prep, sampling, i, len(text))
                for prep, text in zip(prepared, texts, strict=True)
                for i in range(best_of)
            ]
        )
        if req.common.max_tokens
        else []
    )
    for p_index, (text, prep) in enumerate(zip(texts, prepared, strict=True)):
        prompt_tokens += len(prep.prompt_ids)
        echoed = []
        if req.echo and req.logprobs is not None:
            echoed = engine.score_prompt(prep, req.logprobs)
        if not req.common.max_tokens:  # echo only: the prompt scored, nothing generated
            kept: list[Generation | None] = [None] * n
        else:
            candidates = generated[p_index * best_of : (p_index + 1) * best_of]
            completion_tokens += sum(g.completion_tokens for g in candidates)
            kept = list(_best(candidates, n) if ranking else candidates)
        for i, gen in enumerate(kept):
            tokens = echoed + (gen.tokens if gen else [])
            choices.append(
                {
                    "index": p_index * n + i,
                    "text": (text if req.echo else "") + (gen.text if gen else ""),
                    "logprobs": _legacy_logprobs(tokens) if req.logprobs is not None else None,
                    "finish_reason": gen.finish_reason if gen else "length",
                }
            )
    return choices, prompt_tokens, completion_tokens


def _completion_stream(
    engine: InferenceEngine,
    req: CompletionRequest,
    prepared: list[Prepared],
    head: dict[str, Any],
    emit: Emit,
    gone: Callable[[], bool],
) -> None:
    """Chunks of a streamed completion: choice after choice, then usage if asked."""
    n = req.common.n
    sampling = _sampling(req.common, req.logprobs)
    prompt_tokens = completion_tokens = 0

    def chunk(index: int, text: str, tokens: list[TokenInfo] | None, finish: str | None) -> None:
        choice = {
            "index": index,
            "text": text,
            "logprobs": _legacy_logprobs(tokens) if tokens is not None else None,
            "finish_reason": finish,
        }
        emit({**head, "choices": [choice]})

    for p_index, (prompt, prep) in enumerate(zip(req.prompts, prepared, strict=True)):
        text = _prompt_text(prep, prompt)
        prompt_tokens += len(prep.prompt_ids)
        for i in range(n):
            index = p_index * n + i
            if req.echo:
                echoed = engine.score_prompt(prep, req.logprobs) if req.logprobs is not None else []
                chunk(index, text, echoed if req.logprobs is not None else None, None)
            if not req.common.max_tokens:
                chunk(index, "", None, "length")
                continue
            run = engine.decoding(prep, sampling, index=i, text_start=len(text), should_stop=gone)
            for delta in run.deltas():
                chunk(index, delta.text, delta.tokens if req.logprobs is not None else None, None)
            completion_tokens += run.completion_tokens
            chunk(index, "", None, run.finish_reason)
    if req.common.include_usage:
        emit({**head, "choices": [], "usage": _usage(prompt_tokens, completion_tokens)})


@router.post("/completions", response_model=None)
async def completions(request: Request) -> dict[str, Any] | StreamingResponse:
    req = parse_completion(await json_body(request))
    engine = await _engine(request)
    model = req.common.model
    prepared = await _call(model, _prepare_prompts, engine, req)
    head = {
        "id": completion_id("cmpl"),
        "object": "text_completion",
        "created": created(),
        "model": model,
    }
    if req.common.stream:
        return _stream(
            lambda emit, gone: _completion_stream(engine, req, prepared, head, emit, gone), model
        )
    choices, prompt_tokens, completion_tokens = await _call(
        model, _completion_choices, engine, req, prepared
    )
    return {**head, "choices": choices, "usage": _usage(prompt_tokens, completion_tokens)}


# -- /v1/chat/completions --------------------------------------------------------------


@dataclass
class _ChatPlan:
    """A chat request ready to generate, and how its output is read back."""

    prepared: Prepared
    in_reasoning: bool  # the prompt opened a think block: the answer starts reasoning
    tool_parser: str | None  # how tool calls are read (None: no tools in the request)
    prefill: str  # the start of the answer put in the model's mouth (a forced call)
    stops: tuple[str, ...]  # added to the request's own (one call only: its end)
    output_format: str | None = None  # "harmony" (gpt-oss): its own parser, tools or not

    def parser(self) -> OutputParser | HarmonyParser:
        from fttui.data.chat_format import output_parser

        out = output_parser(
            self.output_format or self.tool_parser,
            tools=self.tool_parser is not None,
            in_reasoning=self.in_reasoning,
        )
        out.feed(self.prefill)  # nothing to hand out: it opens the call
        return out


def _chat_prepare(engine: InferenceEngine, req: ChatRequest) -> _ChatPlan:
    from fttui.data.chat_format import (
        HERMES_CLOSE,
        HERMES_OPEN,
        capabilities,
        has_chat_format,
        prompt_opens_thinking,
        wants_thinking,
    )

    model = req.common.model
    tokenizer = engine.load(model)[1]
    caps = capabilities(tokenizer) if has_chat_format(tokenizer) else None
    harmony = caps is not None and caps.tool_parser == "harmony"
    if req.tools and (caps is None or not caps.tools or caps.tool_parser is None):
        why = (
            "its chat template does not render tools"
            if caps is None or not caps.tools
            else "its chat template writes tool calls in a format fttui cannot read back"
        )
        raise APIError(
            400,
            f"'tools' cannot be used with the model {model!r}: {why}",
            param="tools",
            code="unsupported_parameter",
        )
    thinking = wants_thinking(req.reasoning_effort)
    if thinking and (caps is None or not caps.thinking):
        raise APIError(
            400,
            f"'reasoning_effort' {req.reasoning_effort!r} cannot be used with the model "
            f"{model!r}: its chat template has no reasoning mode (send 'none' or leave it out)",
            param="reasoning_effort",
            code="unsupported_parameter",
        )
    prefill = ""
    if req.tools and req.tool_choice == "required" and harmony:
        # harmony's call header, as gpt-oss writes it: the function's name follows.
        prefill = "<|channel|>commentary to=functions."
        if req.forced_function:
            prefill += req.forced_function + " <|constrain|>json<|message|>"
    elif req.tools and req.tool_choice == "required" and caps and caps.tool_parser == "llama3_json":
        prefill = '{"name": "'  # as Llama 3.1's template writes a call
        if req.forced_function:
            prefill += req.forced_function + '", "parameters": '
    elif req.tools and req.tool_choice == "required" and caps and caps.tool_parser == "mistral":
        prefill = '[TOOL_CALLS][{"name": "'  # as mistral-common renders a call
        if req.forced_function:
            prefill += req.forced_function + '", "arguments": '
    elif req.tools and req.tool_choice == "required":
        prefill = HERMES_OPEN + "\n"
        if req.forced_function:
            prefill += '{"name": ' + json.dumps(req.forced_function) + ', "arguments": '
    prepared = engine.prepare_chat(
        model,
        req.messages,
        req.common.max_tokens,
        tools=req.tools or None,
        thinking=thinking,
        reasoning_effort=req.reasoning_effort,
        prefill=prefill,
    )
    engine.check_logit_bias(prepared, req.common.sampling["logit_bias"])
    opened = prompt_opens_thinking(tokenizer, prepared.prompt_ids) if not prefill else False
    single = bool(req.tools) and not req.parallel_tool_calls
    return _ChatPlan(
        prepared,
        in_reasoning=opened,
        tool_parser=caps.tool_parser if req.tools and caps else None,
        prefill=prefill,
        # gpt-oss ends its turn after each call (<|call|>): one call per answer anyway.
        stops=(HERMES_CLOSE,) if single and caps and caps.tool_parser == "hermes" else (),
        output_format="harmony" if harmony else None,
    )


def _chat_sampling(req: ChatRequest, plan: _ChatPlan) -> Sampling:
    sampling = _sampling(req.common, req.top_logprobs if req.logprobs else None)
    if plan.stops:
        sampling = replace(sampling, stop=(*sampling.stop, *plan.stops))
    return sampling


def _finish(reason: str, parser: OutputParser | HarmonyParser) -> str:
    return "tool_calls" if parser.tool_calls and reason == "stop" else reason


def _chat_choices(
    engine: InferenceEngine, req: ChatRequest, plan: _ChatPlan
) -> tuple[list[dict[str, Any]], int]:
    sampling = _chat_sampling(req, plan)
    choices = []
    completion_tokens = 0
    generated = engine.generate_many([(plan.prepared, sampling, i, 0) for i in range(req.common.n)])
    for i, gen in enumerate(generated):
        completion_tokens += gen.completion_tokens
        parser = plan.parser()
        pieces = [parser.feed(gen.text), parser.finish()]
        content = "".join(p.content for p in pieces)
        reasoning = "".join(p.reasoning for p in pieces)
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
        if parser.tool_calls:
            message["tool_calls"] = [c.as_openai() for c in parser.tool_calls]
            if not content.strip():
                message["content"] = None
        if reasoning:
            message["reasoning_content"] = reasoning
        choices.append(
            {
                "index": i,
                "message": message,
                "logprobs": _chat_logprobs(gen.tokens) if req.logprobs else None,
                "finish_reason": _finish(gen.finish_reason, parser),
            }
        )
    return choices, completion_tokens


def _chat_stream(
    engine: InferenceEngine,
    req: ChatRequest,
    plan: _ChatPlan,
    head: dict[str, Any],
    emit: Emit,
    gone: Callable[[], bool],
) -> None:
    """Chunks of a streamed chat completion, as OpenAI sends them: reasoning as
    `reasoning_content` deltas, each tool call in one `tool_calls` delta once it is read."""
    sampling = _chat_sampling(req, plan)
    usage_field = {"usage": None} if req.common.include_usage else {}
    completion_tokens = 0

    def chunk(index: int, delta: dict[str, Any], logprobs: Any, finish: str | None) -> None:
        choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
        emit({**head, "choices": [choice], **usage_field})

    def send(index: int, piece: Piece, logprobs: Any, calls_before: int) -> None:
        if piece.reasoning:
            chunk(index, {"reasoning_content": piece.reasoning}, None, None)
        if piece.content or logprobs is not None:
            chunk(index, {"content": piece.content}, logprobs, None)
        for k, call in enumerate(piece.tool_calls, start=calls_before):
            chunk(index, {"tool_calls": [{"index": k, **call.as_openai()}]}, None, None)

    for i in range(req.common.n):
        chunk(i, {"role": "assistant", "content": "", "refusal": None}, None, None)
        run = engine.decoding(plan.prepared, sampling, index=i, should_stop=gone)
        parser = plan.parser()
        for delta in run.deltas():
            before = len(parser.tool_calls)
            piece = parser.feed(delta.text)
            logprobs = _chat_logprobs(delta.tokens) if req.logprobs and delta.tokens else None
            send(i, piece, logprobs, before)
        before = len(parser.tool_calls)
        send(i, parser.finish(), None, before)
        completion_tokens += run.completion_tokens
        chunk(i, {}, None, _finish(run.finish_reason, parser))
    if req.common.include_usage:
        usage = _usage(len(plan.prepared.prompt_ids), completion_tokens)
        emit({**head, "choices": [], "usage": usage})


@router.post("/chat/completions", response_model=None)
async def chat_completions(request: Request) -> dict[str, Any] | StreamingResponse:
    req = parse_chat(await json_body(request))
    engine = await _engine(request)
    model = req.common.model
    plan = await _call(model, _chat_prepare, engine, req)
    head = {
        "id": completion_id("chatcmpl"),
        "object": "chat.completion.chunk",
        "created": created(),
        "model": model,
    }
    if req.common.stream:
        return _stream(lambda emit, gone: _chat_stream(engine, req, plan, head, emit, gone), model)
    choices, completion_tokens = await _call(model, _chat_choices, engine, req, plan)
    return {
        **head,
        "object": "chat.completion",
        "choices": choices,
        "usage": _usage(len(plan.prepared.prompt_ids), completion_tokens),
    }
