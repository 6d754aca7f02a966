"""Text generation for the local server's `/v1/completions` and `/v1/chat/completions`.

A small hand-written decoding loop rather than `generate()`: the legacy guide's usage
needs exact control of things `generate()` makes awkward together: stop sequences
that truncate the text (and the logprobs with it), `logprobs` with the top-k
alternatives from the model's own (untempered) distribution, greedy decoding at
temperature 0, and text handed out piece by piece for streaming.

Streamed and non-streamed answers are the same by construction: both consume the same
`Decoding.deltas()`; a non-streamed answer is the concatenation of the pieces a stream
would have sent. A piece is handed out only once it can no longer change: text that
may be the start of a stop sequence, or an incomplete UTF-8 character, is held back.

Models stay loaded in a small LRU cache. Generations do not run one at a time: every
choice waiting at the same moment (the prompts and `n` of one request, concurrent
requests) is decoded in one batch by the engine's `Batcher` thread (left padding, a KV
cache, finished rows dropped from the batch), so a validation file's prompts cost a
fraction of their one-at-a-time time. Everything here blocks: the server calls it
from worker threads, never from its event loop.
"""

from __future__ import annotations

import math
import queue
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from fttui.train.models import ModelStore, UnknownModel, ensure_local, resolve

__all__ = [
    "Batcher",
    "ContextTooLong",
    "Decoding",
    "Delta",
    "Generation",
    "InferenceEngine",
    "Prepared",
    "Sampling",
    "TokenInfo",
    "UnknownModel",
]

_REPLACEMENT = "\ufffd"  # what decode() shows for an incomplete UTF-8 sequence


def _load_dtype(device_type: str) -> Any:
    """The format a model answers in: its own (`auto`) where the hardware computes in
    it, float32 on a CPU without native bf16 (AMX or AVX512-BF16), where a model
    stored in bfloat16 would run emulated and many times slower."""
    from fttui.train.precision import cpu_bf16_features

    if device_type == "cpu" and not cpu_bf16_features():
        return torch.float32
    return "auto"


class ContextTooLong(ValueError):
    """Prompt plus max_tokens do not fit the model's context window."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


class Stopped(Exception):
    """The client went away: the generation was abandoned."""


@dataclass(frozen=True)
class Sampling:
    """How to pick each next token (validated by the server before it gets here)."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    # Alternatives reported per token (0: only the chosen token's logprob); None: none.
    logprobs: int | None = None
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    logit_bias: tuple[tuple[int, float], ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class TokenInfo:
    """One token as OpenAI's logprobs objects show it."""

    token: str
    logprob: float | None  # None only for an echoed prompt's first token (no context)
    top: tuple[tuple[str, float], ...]  # the most likely tokens at this position
    offset: int  # character offset of the token in the returned text


@dataclass
class Delta:
    """A piece of the answer that can no longer change, with the tokens that produced it."""

    text: str
    tokens: list[TokenInfo] = field(default_factory=list)


@dataclass
class Prepared:
    """A loaded model and a tokenised prompt, checked against the context window."""

    name: str
    model: Any
    tokenizer: Any
    prompt_ids: list[int]
    context_length: int
    # gpt-oss's chat output keeps its special tokens (its channels), read by its parser.
    keep_special: bool = False
    stop_ids: tuple[int, ...] = ()  # ends of the answer besides the model's eos tokens


@dataclass
class Generation:
    """A whole answer (what a non-streamed response carries)."""

    text: str
    finish_reason: str  # "stop" or "length"
    prompt_tokens: int
    completion_tokens: int
    tokens: list[TokenInfo] = field(default_factory=list)


def _choice_seed(seed: int | None, index: int) -> int:
    """Each choice of a request gets its own stream of random numbers, fixed by `seed`."""
    if seed is None:
        return secrets.randbits(63)
    return (seed * 0x9E3779B97F4A7C15 + index * 0xBF58476D1CE4E5B9) % (1 << 63)


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many trailing characters of `text` may still turn into a stop sequence or
    an incomplete character, and so cannot be handed out yet."""
    hold = 0
    for stop in stops:
        for k in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:k]):
                hold = max(hold, k)
                break
    tail = len(text) - len(text.rstrip(_REPLACEMENT))
    return max(hold, tail)


class Decoding:
    """One choice's generation, consumed piece by piece through `deltas()`.

    The tokens are computed by the engine's `Batcher`, together with every other
    choice waiting at the same time; this object keeps the choice's own state (its
    random numbers, penalties, stop sequences, the text handed out) and turns each
    row of logits the batch computes into the next token and the pieces it completes.

    After the iteration ends, `finish_reason` and `completion_tokens` are set.
    `should_stop` is polled before each token: a streaming client that disconnects
    makes the generation end (raising `Stopped`) instead of running to max_tokens.
    """

    def __init__(
        self,
        engine: InferenceEngine,
        prepared: Prepared,
        sampling: Sampling,
        *,
        index: int = 0,
        text_start: int = 0,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.engine = engine
        self.prepared = prepared
        self.sampling = sampling
        self.index = index
        self.text_start = text_start
        self.should_stop = should_stop
        self.finish_reason = "length"
        self.completion_tokens = 0
        self.abandoned = False  # the consumer stopped reading: drop the row
        self._started = False
        self._out: queue.SimpleQueue[Delta | BaseException | None] = queue.SimpleQueue()

    def start(self) -> None:
        """Hand the choice to the batcher (deltas() does it if nobody did)."""
        if not self._started:
            self._started = True
            self.engine.batcher.submit([self])

    def deltas(self) -> Iterator[Delta]:
        """The answer's pieces as the batch produces them (blocks between tokens)."""
        self.start()
        try:
            while True:
                item = self._out.get()
                if item is None:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.abandoned = True

    # -- called by the Batcher's thread -------------------------------------------
    def begin(self) -> None:
        s, p = self.sampling, self.prepared
        self._generator = torch.Generator(device="cpu")
        self._generator.manual_seed(_choice_seed(s.seed, self.index))
        self._eos = _eos_ids(p.tokenizer, p.model) | set(p.stop_ids)
        self._keep = p.keep_special
        self._stops = tuple(x for x in s.stop if x)
        self._bias: torch.Tensor | None = None
        if s.logit_bias:
            self._bias = torch.zeros(_vocab_size(p.model), dtype=torch.float32)
            for token_id, value in s.logit_bias:
                if 0 <= token_id < self._bias.numel():
                    self._bias[token_id] = value
        self._counts: dict[int, int] = {}
        self._ids: list[int] = []
        self._starts: list[int] = []  # text offset at which each generated token starts
        self._pending: list[TokenInfo] = []
        self._text = ""
        self._sent = 0  # characters of `text` handed out so far

    def fail(self, exc: BaseException) -> None:
        self._out.put(exc)

    def feed(self, raw: torch.Tensor) -> int | None:
        """Take the next position's logits (float32, CPU); the token to feed back, or
        None when this choice is finished (its last pieces already handed out)."""
        s, tokenizer = self.sampling, self.prepared.tokenizer
        token = self._pick(raw, self._bias, self._counts, self._generator)
        if token in self._eos:
            self.finish_reason = "stop"
            self._finish(None)
            return None
        self._ids.append(token)
        self._counts[token] = self._counts.get(token, 0) + 1
        self._starts.append(len(self._text))
        text = self._text = _decode(tokenizer, self._ids, self._keep)
        if s.logprobs is not None:
            self._pending.append(self._token_info(raw, token, tokenizer, self._starts[-1]))
        cut = min((i for i in (text.find(x) for x in self._stops) if i >= 0), default=-1)
        if cut >= 0:
            self.finish_reason = "stop"
            self._finish(cut)
            return None
        safe = len(text) - _held_back(text, self._stops)
        if safe > self._sent:
            keep = [t for t in self._pending if t.offset - self.text_start < safe]
            self._pending = self._pending[len(keep) :]
            self._out.put(Delta(text[self._sent : safe], keep))
            self._sent = safe
        if len(self._ids) >= s.max_tokens:
            self._finish(None)
            return None
        return token

    def _finish(self, cut: int | None) -> None:
        """The rest of the answer (up to a stop sequence at `cut`), with its tokens: at a
        stop sequence, those that start before it (the legacy guide's classifiers read
        the logprobs of what is returned, not of the stop sequence)."""
        self.completion_tokens = len(self._ids)
        text, sent, pending = self._text, self._sent, self._pending
        end = len(text) if cut is None else cut
        keep = pending if cut is None else [t for t in pending if t.offset - self.text_start < cut]
        if end > sent or keep:
            self._out.put(Delta(text[sent:end], keep))
        self._out.put(None)
        return None

    def _pick(
        self,
        raw: torch.Tensor,
        bias: torch.Tensor | None,
        counts: dict[int, int],
        generator: torch.Generator,
    ) -> int:
        s = self.sampling
        logits = raw
        if bias is not None:
            logits = logits + bias
        if counts and (s.frequency_penalty or s.presence_penalty):
            logits = logits.clone()
            ids = torch.tensor(list(counts))
            seen = torch.tensor([float(c) for c in counts.values()])
            logits[ids] -= seen * s.frequency_penalty + s.presence_penalty
        if s.temperature <= 0:
            return int(logits.argmax())
        probs = torch.softmax(logits / s.temperature, dim=-1)
        if s.top_p < 1.0:
            sorted_probs, order = probs.sort(descending=True)
            before = sorted_probs.cumsum(0) - sorted_probs  # mass of the tokens ranked above
            drop = before >= s.top_p
            drop[0] = False  # the most likely token always stays (top_p 0: greedy)
            sorted_probs[drop] = 0.0
            probs = torch.zeros_like(probs).scatter_(0, order, sorted_probs)
        return int(torch.multinomial(probs, 1, generator=generator))

    def _token_info(self, raw: torch.Tensor, token: int, tokenizer: Any, start: int) -> TokenInfo:
        logp = torch.log_softmax(raw, dim=-1)
        k = self.sampling.logprobs or 0
        top: tuple[tuple[str, float], ...] = ()
        if k:
            values, indices = logp.topk(k)
            top = tuple(
                (_decode(tokenizer, [int(i)]), _finite(float(v)))
                for v, i in zip(values, indices, strict=True)
            )
        return TokenInfo(
            token=_decode(tokenizer, [token]),
            logprob=_finite(float(logp[token])),
            top=top,
            offset=self.text_start + start,
        )


class Batcher:
    """Decodes every choice waiting at the same time as one batch, on one thread.

    Static batching with left padding and a KV cache: the prompts of a batch are
    left-padded to the longest one and run as one forward pass (attention mask and
    per-row positions keep padding out of every row's attention), then each step
    feeds one token per unfinished row. A row that finishes (end of text, stop
    sequence, max_tokens, a client gone) leaves the batch and the cache at once, so
    the batch shrinks to the rows still running. Choices that arrive while a batch
    runs form the next batch. With `max_batch=1` this is the one-at-a-time loop.

    At temperature 0 a row gets the same tokens as alone up to float rounding
    (padding is masked, positions are the row's own); benchmarks/inference_bench.py
    asserts it on 200 prompts.
    """

    def __init__(self, engine: InferenceEngine, max_batch: int = 32) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._waiting: list[Decoding] = []
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, rows: list[Decoding]) -> None:
        """Queue rows (all at once, so they can share a batch)."""
        for row in rows:
            if row.sampling.max_tokens <= 0:
                row.begin()
                row._finish(None)
        rows = [r for r in rows if r.sampling.max_tokens > 0]
        if not rows:
            return
        with self._cond:
            self._waiting.extend(rows)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._loop, name="fttui-batcher", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _take(self) -> list[Decoding] | None:
        """The next batch: waiting rows of the first waiting row's model, up to
        max_batch; None after 30 s idle (the thread ends, the next submit starts one)."""
        with self._cond:
            while not self._waiting:
                if not self._cond.wait(timeout=30) and not self._waiting:
                    self._thread = None
                    return None
            model = self._waiting[0].prepared.model
            batch = [r for r in self._waiting if r.prepared.model is model][: self.max_batch]
            taken = set(map(id, batch))
            self._waiting = [r for r in self._waiting if id(r) not in taken]
            return batch

    def _loop(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                with self.engine.lock, torch.no_grad():
                    self._run(batch)
            except BaseException as exc:  # the batch's rows get the error, the thread lives
                for row in batch:
                    row.fail(exc)

    def _run(self, rows: list[Decoding]) -> None:
        from transformers import DynamicCache

        model = rows[0].prepared.model
        device = next(model.parameters()).device
        for row in rows:
            row.begin()
        longest = max(len(r.prepared.prompt_ids) for r in rows)
        padded = any(len(r.prepared.prompt_ids) != longest for r in rows)
        ids = torch.tensor(
            [[0] * (longest - len(r.prepared.prompt_ids)) + r.prepared.prompt_ids for r in rows],
            device=device,
        )
        cache = DynamicCache(config=model.config)
        mask = positions = None
        if padded:
            mask = torch.tensor(
                [
                    [0] * (longest - len(r.prepared.prompt_ids)) + [1] * len(r.prepared.prompt_ids)
                    for r in rows
                ],
                device=device,
            )
            positions = (mask.cumsum(-1) - 1).clamp(min=0)
        active = list(rows)
        while active:
            keep = [i for i, r in enumerate(active) if not self._gone(r)]
            if len(keep) < len(active):
                active, ids, mask, positions = self._select(
                    keep, active, ids, mask, positions, cache
                )
                if not active:
                    return
            out = model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            raw = out.logits[:, -1].float().cpu()
            tokens: list[int] = []
            keep = []
            for i, row in enumerate(active):
                token = row.feed(raw[i])
                if token is not None:
                    keep.append(i)
                    tokens.append(token)
            if not keep:
                return
            if len(keep) < len(active):
                active, _, mask, positions = self._select(keep, active, ids, mask, positions, cache)
            ids = torch.tensor([[t] for t in tokens], device=device)
            if mask is not None and positions is not None:
                mask = torch.cat([mask, mask.new_ones((len(active), 1))], dim=1)
                positions = positions[:, -1:] + 1

    @staticmethod
    def _gone(row: Decoding) -> bool:
        if row.abandoned or row.should_stop():
            row.fail(Stopped())
            return True
        return False

    @staticmethod
    def _select(
        keep: list[int],
        active: list[Decoding],
        ids: torch.Tensor,
        mask: torch.Tensor | None,
        positions: torch.Tensor | None,
        cache: Any,
    ) -> tuple[list[Decoding], torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """Only the rows at `keep`, in the batch and in the cache."""
        index = torch.tensor(keep, dtype=torch.long, device=ids.device)
        if cache.get_seq_length() > 0:
            cache.batch_select_indices(index)
        return (
            [active[i] for i in keep],
            ids[index],
            mask[index] if mask is not None else None,
            positions[index] if positions is not None else None,
        )


class InferenceEngine:
    """Loads models by name (base or fine-tuned) and generates with them."""

    def __init__(self, store: ModelStore, capacity: int = 2, max_batch: int = 32) -> None:
        self.store = store
        self.capacity = capacity
        self._cache: OrderedDict[str, tuple[Any, Any, int]] = OrderedDict()
        # Held while a model loads and during each batched forward pass.
        self.lock = threading.RLock()
        self.batcher = Batcher(self, max_batch=max_batch)

    def load(self, name: str) -> tuple[Any, Any, int]:
        """(model, tokenizer, context length) for `name`; raises UnknownModel."""
        with self.lock:
            # Imported under the lock: transformers' lazy imports are not thread-safe,
            # and concurrent first requests failed with "cannot import name
            # 'AutoModelForCausalLM'" (one 500 of 8 requests sent at once, measured).
            from transformers import AutoModelForCausalLM, AutoTokenizer

            if name in self._cache:
                self._cache.move_to_end(name)
                return self._cache[name]
            ref = resolve(self.store, name)
            location = ensure_local(self.store, ref)
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            model: Any = AutoModelForCausalLM.from_pretrained(
                location, dtype=_load_dtype(device.type)
            )
            model = model.to(device).eval()
            tokenizer = AutoTokenizer.from_pretrained(location)
            limit = (
                getattr(model.config, "max_position_embeddings", None) or ref.context_length or 2048
            )
            self._cache[name] = (model, tokenizer, int(limit))
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
            return self._cache[name]

    # -- preparing a request ------------------------------------------------------
    def prepare_completion(self, name: str, prompt: str, max_tokens: int) -> Prepared:
        model, tokenizer, limit = self.load(name)
        ids = list(tokenizer(prompt, add_special_tokens=True)["input_ids"])
        return self._checked(Prepared(name, model, tokenizer, ids, limit), max_tokens, "prompt")

    def prepare_chat(
        self,
        name: str,
        messages: list[dict[str, Any]],
        max_tokens: int,
        *,
        tools: list[dict[str, Any]] | None = None,
        thinking: bool = False,
        reasoning_effort: str | None = None,
        prefill: str = "",
    ) -> Prepared:
        """The chat prompt rendered by the model's chat format (`fttui.data.chat_format`,
        as the trainer renders it), plus `prefill`: the start of the answer put in the
        model's mouth (a forced tool call)."""
        from fttui.data.chat_format import (
            answer_stop_ids,
            has_chat_format,
            keeps_special_tokens,
            render_prompt,
        )

        model, tokenizer, limit = self.load(name)
        if not has_chat_format(tokenizer):
            raise ValueError(f"model {name!r} has no chat template; use /v1/completions")
        # An ExampleError (a ValueError) names what the template cannot render.
        ids = render_prompt(
            tokenizer, messages, tools=tools, thinking=thinking, reasoning_effort=reasoning_effort
        )
        if prefill:
            ids += list(tokenizer(prefill, add_special_tokens=False)["input_ids"])
        prepared = Prepared(
            name,
            model,
            tokenizer,
            ids,
            limit,
            keep_special=keeps_special_tokens(tokenizer),
            stop_ids=answer_stop_ids(tokenizer),
        )
        return self._checked(prepared, max_tokens, "messages")

    def prepare_tokens(self, name: str, ids: list[int], max_tokens: int) -> Prepared:
        """A prompt given as token ids (OpenAI's `prompt: [1212, 318, ...]`)."""
        model, tokenizer, limit = self.load(name)
        vocab = _vocab_size(model)
        bad = [i for i in ids if not 0 <= i < vocab]
        if bad:
            raise ContextTooLong(
                f"prompt token id {bad[0]} is not in the model's vocabulary (0..{vocab - 1})",
                "prompt",
            )
        return self._checked(
            Prepared(name, model, tokenizer, list(ids), limit), max_tokens, "prompt"
        )

    @staticmethod
    def check_logit_bias(prepared: Prepared, bias: tuple[tuple[int, float], ...]) -> None:
        vocab = _vocab_size(prepared.model)
        for token_id, _ in bias:
            if not 0 <= token_id < vocab:
                raise ContextTooLong(
                    f"logit_bias names token id {token_id}, which is not in the model's "
                    f"vocabulary (0..{vocab - 1})",
                    "logit_bias",
                )

    @staticmethod
    def _checked(prepared: Prepared, max_tokens: int, what: str) -> Prepared:
        """OpenAI's answer when prompt + max_tokens exceed the model's context window."""
        n, limit = len(prepared.prompt_ids), prepared.context_length
        if n + max_tokens > limit:
            param = what if n >= limit else "max_tokens"
            raise ContextTooLong(
                f"This model's maximum context length is {limit} tokens. However, you "
                f"requested {n + max_tokens} tokens ({n} in the {what}, {max_tokens} for the "
                "completion). "
                + (
                    f"Please shorten the {what}."
                    if param != "max_tokens"
                    else "Please lower max_tokens."
                ),
                param,
            )
        return prepared

    # -- generating -------------------------------------------------------------------
    def decoding(
        self,
        prepared: Prepared,
        sampling: Sampling,
        *,
        index: int = 0,
        text_start: int = 0,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> Decoding:
        return Decoding(
            self, prepared, sampling, index=index, text_start=text_start, should_stop=should_stop
        )

    def generate(
        self, prepared: Prepared, sampling: Sampling, *, index: int = 0, text_start: int = 0
    ) -> Generation:
        """The whole answer: exactly what the pieces of a stream add up to."""
        run = self.decoding(prepared, sampling, index=index, text_start=text_start)
        texts: list[str] = []
        tokens: list[TokenInfo] = []
        for delta in run.deltas():
            texts.append(delta.text)
            tokens.extend(delta.tokens)
        return Generation(
            text="".join(texts),
            finish_reason=run.finish_reason,
            prompt_tokens=len(prepared.prompt_ids),
            completion_tokens=run.completion_tokens,
            tokens=tokens,
        )

    def generate_many(
        self, requests: list[tuple[Prepared, Sampling, int, int]]
    ) -> list[Generation]:
        """Whole answers for many (prepared, sampling, index, text_start) at once: all
        are handed to the batcher before any is waited for, so they decode together."""
        runs = [
            self.decoding(prep, sampling, index=index, text_start=start)
            for prep, sampling, index, start in requests
        ]
        for run in runs:
            run._started = True
        self.batcher.submit(runs)
        out = []
        for run in runs:
            got = list(run.deltas())
            out.append(
                Generation(
                    text="".join(d.text for d in got),
                    finish_reason=run.finish_reason,
                    prompt_tokens=len(run.prepared.prompt_ids),
                    completion_tokens=run.completion_tokens,
                    tokens=[t for d in got for t in d.tokens],
                )
            )
        return out

    def sample(
        self,
        model: str,
        prompts: list[str | list[dict[str, Any]]],
        *,
        n: int = 1,
        temperature: float = 1.0,
        max_tokens: int = 256,
        top_p: float = 1.0,
        stop: tuple[str, ...] = (),
        seed: int | None = None,
        logprobs: int | None = None,
    ) -> list[list[Generation]]:
        """`n` answers to each prompt, all decoded in batches: the entry point for
        anything that samples many completions in-process (evaluation, RFT).

        A prompt is a string (completed as is) or a list of chat messages (the
        model's chat template applied). Result: one list of n Generations per prompt,
        in prompt order. Raises ContextTooLong / UnknownModel like the endpoints.
        """
        sampling = Sampling(
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            stop=stop,
            seed=seed,
            logprobs=logprobs,
        )
        prepared = [
            self.prepare_completion(model, p, max_tokens)
            if isinstance(p, str)
            else self.prepare_chat(model, p, max_tokens)
            for p in prompts
        ]
        flat = self.generate_many([(p, sampling, i, 0) for p in prepared for i in range(n)])
        return [flat[k * n : (k + 1) * n] for k in range(len(prompts))]

    def score_prompt(self, prepared: Prepared, top_k: int) -> list[TokenInfo]:
        """The prompt's own tokens with their logprobs (`echo` with `logprobs`).

        The first token has no context to be predicted from: its logprob is None, as
        OpenAI reports it.
        """
        model, tokenizer, ids = prepared.model, prepared.tokenizer, prepared.prompt_ids
        device = next(model.parameters()).device
        with self.lock, torch.no_grad():
            logits = model(input_ids=torch.tensor([ids], device=device)).logits[0].float().cpu()
        logp = torch.log_softmax(logits, dim=-1)
        out: list[TokenInfo] = []
        offset = 0
        for i, token in enumerate(ids):
            piece = _decode(tokenizer, [token])
            if i == 0:
                out.append(TokenInfo(piece, None, (), offset))
            else:
                top: tuple[tuple[str, float], ...] = ()
                if top_k:
                    values, indices = logp[i - 1].topk(top_k)
                    top = tuple(
                        (_decode(tokenizer, [int(j)]), _finite(float(v)))
                        for v, j in zip(values, indices, strict=True)
                    )
                out.append(TokenInfo(piece, _finite(float(logp[i - 1, token])), top, offset))
            offset += len(piece)
        return out


def _decode(tokenizer: Any, ids: list[int], keep_special: bool = False) -> str:
    # No clean-up of spaces: it rewrites earlier text as later tokens arrive (" ." -> "."),
    # which would make a stream's pieces differ from the whole answer.
    return str(
        tokenizer.decode(
            ids, skip_special_tokens=not keep_special, clean_up_tokenization_spaces=False
        )
    )


def _eos_ids(tokenizer: Any, model: Any) -> set[int]:
    ids: set[int] = set()
    for value in (tokenizer.eos_token_id, getattr(model.generation_config, "eos_token_id", None)):
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, (list, tuple)):
            ids.update(v for v in value if isinstance(v, int))
    return ids


def _vocab_size(model: Any) -> int:
    return int(model.get_output_embeddings().weight.shape[0])


def _finite(value: float) -> float:
    """-inf (a token the model rules out) as OpenAI's legacy API showed it: -9999."""
    return value if math.isfinite(value) else -9999.0
