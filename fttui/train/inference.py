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

Models stay loaded in a small LRU cache; one generation runs at a time (a lock) so CPU
threads are not oversubscribed. Everything here blocks: the server calls it from
worker threads, never from its event loop.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from fttui.train.models import ModelStore, UnknownModel, ensure_local, resolve

__all__ = [
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

    def deltas(self) -> Iterator[Delta]:
        with self.engine.lock, torch.no_grad():
            yield from self._run()

    def _run(self) -> Iterator[Delta]:
        p, s = self.prepared, self.sampling
        model, tokenizer = p.model, p.tokenizer
        device = next(model.parameters()).device
        generator = torch.Generator(device="cpu")
        generator.manual_seed(_choice_seed(s.seed, self.index))
        eos = _eos_ids(tokenizer, model)
        stops = tuple(x for x in s.stop if x)
        bias = None
        if s.logit_bias:
            bias = torch.zeros(_vocab_size(model), dtype=torch.float32)
            for token_id, value in s.logit_bias:
                if 0 <= token_id < bias.numel():
                    bias[token_id] = value
        counts: dict[int, int] = {}
        out_ids: list[int] = []
        starts: list[int] = []  # text offset at which each generated token starts
        pending: list[TokenInfo] = []
        text = ""
        sent = 0  # characters of `text` handed out so far
        past = None
        current = torch.tensor([p.prompt_ids], device=device)
        for _ in range(s.max_tokens):
            if self.should_stop():
                raise Stopped
            out = model(input_ids=current, past_key_values=past, use_cache=True)
            past = out.past_key_values
            raw = out.logits[0, -1].float().cpu()
            token = self._pick(raw, bias, counts, generator)
            if token in eos:
                self.finish_reason = "stop"
                break
            out_ids.append(token)
            counts[token] = counts.get(token, 0) + 1
            starts.append(len(text))
            text = _decode(tokenizer, out_ids)
            if s.logprobs is not None:
                pending.append(self._token_info(raw, token, tokenizer, starts[-1]))
            cut = min((i for i in (text.find(x) for x in stops) if i >= 0), default=-1)
            if cut >= 0:
                self.finish_reason = "stop"
                self.completion_tokens = len(out_ids)
                yield from self._flush(text, sent, pending, cut)
                return
            safe = len(text) - _held_back(text, stops)
            if safe > sent:
                keep = [t for t in pending if t.offset - self.text_start < safe]
                pending = pending[len(keep) :]
                yield Delta(text[sent:safe], keep)
                sent = safe
            current = torch.tensor([[token]], device=device)
        self.completion_tokens = len(out_ids)
        yield from self._flush(text, sent, pending, None)

    def _flush(
        self, text: str, sent: int, pending: list[TokenInfo], cut: int | None
    ) -> Iterator[Delta]:
        """The rest of the answer (up to a stop sequence at `cut`), with its tokens: at a
        stop sequence, those that start before it (the legacy guide's classifiers read
        the logprobs of what is returned, not of the stop sequence)."""
        end = len(text) if cut is None else cut
        keep = pending if cut is None else [t for t in pending if t.offset - self.text_start < cut]
        if end > sent or keep:
            yield Delta(text[sent:end], keep)

    def _pick(
        self,
        raw: torch.Tensor,
        bias: torch.Tensor | None,
        counts: dict[int, int],
        generator: torch.Generator,
    ) -> int:
        s = self.sampling
        logits = raw.clone()
        if bias is not None:
            logits += bias
        if counts and (s.frequency_penalty or s.presence_penalty):
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


class InferenceEngine:
    """Loads models by name (base or fine-tuned) and generates with them."""

    def __init__(self, store: ModelStore, capacity: int = 2) -> None:
        self.store = store
        self.capacity = capacity
        self._cache: OrderedDict[str, tuple[Any, Any, int]] = OrderedDict()
        # Held while a model loads and while one generation runs.
        self.lock = threading.RLock()

    def load(self, name: str) -> tuple[Any, Any, int]:
        """(model, tokenizer, context length) for `name`; raises UnknownModel."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        with self.lock:
            if name in self._cache:
                self._cache.move_to_end(name)
                return self._cache[name]
            ref = resolve(self.store, name)
            location = ensure_local(self.store, ref)
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            model: Any = AutoModelForCausalLM.from_pretrained(location)
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
        prefill: str = "",
    ) -> Prepared:
        """The chat prompt rendered by the model's chat format (`fttui.data.chat_format`,
        as the trainer renders it), plus `prefill`: the start of the answer put in the
        model's mouth (a forced tool call)."""
        from fttui.data.chat_format import render_prompt

        model, tokenizer, limit = self.load(name)
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError(f"model {name!r} has no chat template; use /v1/completions")
        # An ExampleError (a ValueError) names what the template cannot render.
        ids = render_prompt(tokenizer, messages, tools=tools, thinking=thinking)
        if prefill:
            ids += list(tokenizer(prefill, add_special_tokens=False)["input_ids"])
        return self._checked(Prepared(name, model, tokenizer, ids, limit), max_tokens, "messages")

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


def _decode(tokenizer: Any, ids: list[int]) -> str:
    # No clean-up of spaces: it rewrites earlier text as later tokens arrive (" ." -> "."),
    # which would make a stream's pieces differ from the whole answer.
    return str(tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False))


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
