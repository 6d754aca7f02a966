"""Ask a model every question of a validation file, through `fttui.api`, and score it.

A client of the backend like any other: the local server, OpenAI or an
OpenAI-compatible server. Requests run with bounded concurrency (an asyncio
semaphore); a 429 is retried by `fttui.api` after the server's Retry-After.
Prompt/completion files go through `/v1/completions` 16 prompts a request (the local
server decodes them as one batch), chat files through `/v1/chat/completions` one
conversation a request. Always at temperature 0.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fttui.evaluate import _metrics
from fttui.evaluate._examples import EvalFile, Item

PROMPTS_PER_REQUEST = 16
# A reinforcement file's answers: as long as the local trainer lets an answer be
# (fttui.train.rft.MAX_NEW_TOKENS), so the answers scored are those it trained.
REWARD_MAX_TOKENS = 64
Progress = Callable[[int, int], None]


@dataclass
class Answers:
    texts: list[str] = field(default_factory=list)
    # First generated token's top alternatives {token: logprob} (classification only).
    first_top: list[dict[str, float]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Seconds each request took (a completions request may carry several prompts).
    latencies: list[float] = field(default_factory=list)


def max_tokens_for(file: EvalFile) -> int:
    """Room for the longest reference (about 4 characters a token, plus slack)."""
    if file.task == "classification":
        return max(1, min(16, max(len(i.reference) for i in file.items) // 2 + 2))
    if file.task == "reward":
        return REWARD_MAX_TOKENS
    longest = max(len(i.reference) for i in file.items)
    return max(16, min(1024, longest // 2 + 16))


async def _bounded(limit: int, jobs: list[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await job()

    return await asyncio.gather(*(one(j) for j in jobs))


def _top_of(choice: Any, chat: bool) -> dict[str, float]:
    """The first generated token's alternatives from a completions or chat logprobs object."""
    logprobs = getattr(choice, "logprobs", None)
    if logprobs is None:
        return {}
    data = logprobs if isinstance(logprobs, dict) else logprobs.model_dump()
    if chat:
        content = data.get("content") or []
        if not content:
            return {}
        return {t["token"]: t["logprob"] for t in content[0].get("top_logprobs") or []}
    tops = data.get("top_logprobs") or []
    return dict(tops[0] or {}) if tops else {}


async def answers(
    client: Any,
    model: str,
    file: EvalFile,
    *,
    concurrency: int = 8,
    max_tokens: int | None = None,
    progress: Progress | None = None,
) -> Answers:
    """The model's answers to every item, in file order."""
    limit = max_tokens or max_tokens_for(file)
    classify = file.task == "classification"
    items = file.items
    out = Answers(texts=[""] * len(items), first_top=[{} for _ in items])
    done = 0

    def advance(k: int) -> None:
        nonlocal done
        done += k
        if progress is not None:
            progress(done, len(items))

    if file.shape == "prompt_completion":

        def batch_job(start: int) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                chunk = items[start : start + PROMPTS_PER_REQUEST]
                extra: dict[str, Any] = {"logprobs": 5} if classify else {}
                began = time.monotonic()
                resp = await client.completions.create(
                    model=model,
                    prompt=[i.prompt for i in chunk],
                    max_tokens=limit,
                    temperature=0,
                    stop=[file.stop] if file.stop else None,
                    **extra,
                )
                out.latencies.append(time.monotonic() - began)
                for choice in resp.choices:
                    k = start + choice.index
                    out.texts[k] = choice.text
                    out.first_top[k] = _top_of(choice, chat=False)
                if resp.usage is not None:
                    out.prompt_tokens += resp.usage.prompt_tokens
                    out.completion_tokens += resp.usage.completion_tokens
                advance(len(chunk))

            return run

        jobs = [batch_job(s) for s in range(0, len(items), PROMPTS_PER_REQUEST)]
    else:

        def chat_job(k: int, item: Item) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                extra: dict[str, Any] = {"logprobs": True, "top_logprobs": 5} if classify else {}
                began = time.monotonic()
                resp = await client.chat.completions.create(
                    model=model,
                    messages=item.messages or [],
                    max_tokens=limit,
                    temperature=0,
                    **extra,
                )
                out.latencies.append(time.monotonic() - began)
                out.texts[k] = resp.text
                if resp.choices:
                    out.first_top[k] = _top_of(resp.choices[0], chat=True)
                if resp.usage is not None:
                    out.prompt_tokens += resp.usage.prompt_tokens
                    out.completion_tokens += resp.usage.completion_tokens
                advance(1)

            return run

        jobs = [chat_job(k, item) for k, item in enumerate(items)]
    await _bounded(concurrency, jobs)
    return out


def _label_probability(top: dict[str, float], label: str) -> float:
    """Probability the first token gives `label`: the alternatives that start it."""
    total = 0.0
    for token, logprob in top.items():
        piece = token.strip()
        if piece and label.strip().startswith(piece) and logprob is not None:
            total += math.exp(logprob)
    return total


def score(
    file: EvalFile, got: Answers, positive: str | None = None, worst: int = 5
) -> dict[str, Any]:
    """The metrics of one model's answers (see fttui.evaluate._metrics)."""
    references = [i.reference.strip() for i in file.items]
    predictions = [t.strip() for t in got.texts]
    if file.task == "classification":
        classes = sorted(set(references))
        probability = None
        if len(classes) == 2:
            pos = positive if positive in classes else classes[1]
            neg = classes[0] if pos == classes[1] else classes[1]
            probability = []
            for top in got.first_top:
                p, n = _label_probability(top, pos), _label_probability(top, neg)
                probability.append(p / (p + n) if p + n > 0 else 0.5)
        # An answer that starts with a class (and says more) counts as that class.
        labelled = [
            next((c for c in classes if p == c), None)
            or next((c for c in classes if p.startswith(c)), p)
            for p in predictions
        ]
        return _metrics.classification(references, labelled, probability, positive)
    return _metrics.generation(references, predictions, [i.shown() for i in file.items], worst)


async def reward_scores(
    client: Any, file: EvalFile, texts: list[str], *, concurrency: int = 8, worst: int = 5
) -> dict[str, Any]:
    """Each answer scored by the file's grader through the backend's `graders/run`
    (OpenAI's, and the local server's with the same code a job grades with)."""
    assert file.grader is not None

    def job(k: int) -> Callable[[], Awaitable[dict[str, Any]]]:
        return lambda: client.graders.run(file.grader, texts[k], file.items[k].fields)

    results = await _bounded(concurrency, [job(k) for k in range(len(texts))])
    rewards = [float(r.get("reward") or 0.0) for r in results]
    errors = [_grader_error(r) for r in results]
    return _metrics.reward(rewards, errors, [i.shown() for i in file.items], texts, worst)


def _grader_error(result: dict[str, Any]) -> str | None:
    """What went wrong grading one answer (OpenAI's error flags), or None."""
    if result.get("error"):
        return str(result["error"])
    flags = (result.get("metadata") or {}).get("errors") or {}
    raised = [k for k, v in flags.items() if v is True]
    return ", ".join(raised) if raised else None


async def preference_scores(
    client: Any, model: str, file: EvalFile, *, concurrency: int = 8
) -> dict[str, Any]:
    """Share of pairs whose preferred answer the model finds more likely.

    Needs `/v1/completions` with `echo` and `logprobs` (the local server has them;
    OpenAI's chat models do not). The conversation is given as plain text, one
    `role: content` line a message and the answer after `assistant: `, not in the
    model's chat template (the completions endpoint takes text): a relative check.
    """

    def render(item: Item, answer: str) -> tuple[str, str]:
        head = "".join(f"{m.get('role')}: {m.get('content')}\n" for m in item.messages or [])
        prefix = head + "assistant: "
        return prefix, prefix + answer

    async def logprob_of(item: Item, answer: str) -> float:
        prefix, text = render(item, answer)
        resp = await client.completions.create(
            model=model, prompt=text, max_tokens=0, echo=True, logprobs=0, temperature=0
        )
        data = resp.choices[0].logprobs
        lp = data if isinstance(data, dict) else data.model_dump()
        return sum(
            v
            for v, offset in zip(lp["token_logprobs"], lp["text_offset"], strict=True)
            if v is not None and offset >= len(prefix)
        )

    def job(item: Item, answer: str) -> Callable[[], Awaitable[float]]:
        return lambda: logprob_of(item, answer)

    chosen = await _bounded(concurrency, [job(i, i.reference) for i in file.items])
    rejected = await _bounded(concurrency, [job(i, i.rejected) for i in file.items])
    return _metrics.preference(chosen, rejected)


async def evaluate(
    client: Any,
    model: str,
    file: EvalFile,
    *,
    concurrency: int = 8,
    max_tokens: int | None = None,
    positive: str | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """One model's evaluation: its metrics, answers and how long it took."""
    start = time.monotonic()
    if file.task == "preference":
        metrics = await preference_scores(client, model, file, concurrency=concurrency)
        texts: list[str] = []
        usage = {}
    else:
        got = await answers(
            client,
            model,
            file,
            concurrency=concurrency,
            max_tokens=max_tokens,
            progress=progress,
        )
        if file.task == "reward":
            metrics = await reward_scores(client, file, got.texts, concurrency=concurrency)
        else:
            metrics = score(file, got, positive)
        texts = got.texts
        usage = {"prompt_tokens": got.prompt_tokens, "completion_tokens": got.completion_tokens}
        latencies = sorted(got.latencies)
    run: dict[str, Any] = {
        "model": model,
        "task": file.task,
        "metrics": metrics,
        "answers": texts,
        "usage": usage,
        "seconds": round(time.monotonic() - start, 2),
    }
    if file.task != "preference" and latencies:
        run["latency"] = {
            "requests": len(latencies),
            "median_ms": round(1000 * latencies[len(latencies) // 2], 1),
            "p90_ms": round(
                1000 * latencies[min(len(latencies) - 1, int(0.9 * len(latencies)))], 1
            ),
        }
    return run
