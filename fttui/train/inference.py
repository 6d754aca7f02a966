"""Text generation for the local server's `/v1/completions` and `/v1/chat/completions`.

A small hand-written decoding loop rather than `generate()`: the legacy guide's usage needs
exact control of three things `generate()` makes awkward together: stop sequences
that truncate the text (and the logprobs with it), `logprobs` with the top-k
alternatives from the untempered distribution, and greedy decoding at temperature 0.
Models stay loaded in a small LRU cache; one generation runs at a time so CPU
threads are not oversubscribed.
"""

from __future__ import annotations

import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch

from fttui.store import Store
from fttui.train.models import UnknownModel, ensure_local, resolve

__all__ = ["Generation", "InferenceEngine", "UnknownModel"]


@dataclass
class Generation:
    text: str
    finish_reason: str  # "stop" or "length"
    prompt_tokens: int
    completion_tokens: int
    tokens: list[str] = field(default_factory=list)
    token_logprobs: list[float] = field(default_factory=list)
    top_logprobs: list[dict[str, float]] = field(default_factory=list)


class InferenceEngine:
    """Loads models by name (base or fine-tuned) and generates with them."""

    def __init__(self, store: Store, capacity: int = 2) -> None:
        self.store = store
        self.capacity = capacity
        self._cache: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, name: str) -> tuple[Any, Any]:
        """(model, tokenizer) for `name`; raises UnknownModel."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        with self._lock:
            if name in self._cache:
                self._cache.move_to_end(name)
                return self._cache[name]
            ref = resolve(self.store, name)
            location = ensure_local(self.store, ref)
            device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
            model: Any = AutoModelForCausalLM.from_pretrained(location)
            model = model.to(device).eval()
            tokenizer = AutoTokenizer.from_pretrained(location)
            self._cache[name] = (model, tokenizer)
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
            return model, tokenizer

    def complete(
        self,
        name: str,
        prompt: str,
        *,
        max_tokens: int = 16,
        temperature: float = 1.0,
        stop: list[str] | None = None,
        logprobs: int | None = None,
        seed: int | None = None,
    ) -> Generation:
        model, tokenizer = self.load(name)
        ids = tokenizer(prompt, add_special_tokens=True)["input_ids"]
        return self._generate(
            model, tokenizer, ids, max_tokens, temperature, stop, logprobs, seed, len(prompt)
        )

    def chat(
        self,
        name: str,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        temperature: float = 1.0,
        stop: list[str] | None = None,
        seed: int | None = None,
    ) -> Generation:
        model, tokenizer = self.load(name)
        if getattr(tokenizer, "chat_template", None) is None:
            raise ValueError(f"model {name!r} has no chat template; use /v1/completions")
        ids = tokenizer.apply_chat_template(
            messages, tokenize=True, add_generation_prompt=True, return_dict=False
        )
        if hasattr(ids, "keys"):
            ids = ids["input_ids"]
        return self._generate(
            model, tokenizer, list(ids), max_tokens, temperature, stop, None, seed, 0
        )

    @torch.no_grad()
    def _generate(
        self,
        model: Any,
        tokenizer: Any,
        prompt_ids: list[int],
        max_tokens: int,
        temperature: float,
        stop: list[str] | None,
        logprobs: int | None,
        seed: int | None,
        text_start: int,
    ) -> Generation:
        device = next(model.parameters()).device
        generator = torch.Generator(device="cpu")
        generator.manual_seed(seed if seed is not None else secrets.randbits(63))
        eos = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
        stops = [s for s in (stop or []) if s]
        out_ids: list[int] = []
        pieces: list[str] = []
        token_lp: list[float] = []
        tops: list[dict[str, float]] = []
        finish = "length"
        past = None
        current = torch.tensor([prompt_ids], device=device)
        with self._lock:
            for _ in range(max_tokens):
                out = model(input_ids=current, past_key_values=past, use_cache=True)
                past = out.past_key_values
                logits = out.logits[0, -1].float().cpu()
                logp = torch.log_softmax(logits, dim=-1)
                if temperature <= 0:
                    token = int(logits.argmax())
                else:
                    probs = torch.softmax(logits / temperature, dim=-1)
                    token = int(torch.multinomial(probs, 1, generator=generator))
                if token in eos:
                    finish = "stop"
                    break
                out_ids.append(token)
                pieces.append(tokenizer.decode([token]))
                if logprobs:
                    token_lp.append(float(logp[token]))
                    values, indices = logp.topk(logprobs)
                    tops.append(
                        {
                            tokenizer.decode([int(i)]): float(v)
                            for v, i in zip(values, indices, strict=True)
                        }
                    )
                if stops and any(s in "".join(pieces) for s in stops):
                    finish = "stop"
                    break
                current = torch.tensor([[token]], device=device)
        text = tokenizer.decode(out_ids, skip_special_tokens=True)
        cut = min((text.find(s) for s in stops if s in text), default=-1)
        if cut >= 0:
            text = text[:cut]
        kept = len(pieces)
        if cut >= 0:
            offset = 0
            for i, piece in enumerate(pieces):
                if offset >= cut:
                    kept = i
                    break
                offset += len(piece)
        return Generation(
            text=text,
            finish_reason=finish,
            prompt_tokens=len(prompt_ids),
            completion_tokens=len(out_ids),
            tokens=pieces[:kept] if logprobs else [],
            token_logprobs=token_lp[:kept],
            top_logprobs=tops[:kept],
        )


def completion_logprobs(gen: Generation, text_start: int) -> dict[str, Any]:
    """OpenAI's legacy completions `logprobs` object."""
    offsets: list[int] = []
    pos = text_start
    for piece in gen.tokens:
        offsets.append(pos)
        pos += len(piece)
    return {
        "tokens": gen.tokens,
        "token_logprobs": [v if math.isfinite(v) else -9999.0 for v in gen.token_logprobs],
        "top_logprobs": gen.top_logprobs,
        "text_offset": offsets,
    }


def completion_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(12)}"


def created() -> int:
    return int(time.time())
