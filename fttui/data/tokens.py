"""Token counters: one interface over tiktoken encodings and local HF tokenizers.

The checker counts tokens in batches (a list of strings at a time) so a counter
can use whatever is fastest underneath. Chat conversations are counted the way
OpenAI's cookbook does for its models (3 tokens per message, 1 per name, 3 to
prime the reply) and with the model's own chat template for local models.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple, Protocol

from fttui.core.models import UNKNOWN_MODEL_ENCODING, ModelInfo
from fttui.data.encodings import EncodingUnavailable, get_encoding

Messages = list[dict[str, Any]]


class Measure(NamedTuple):
    """One example's size as the model sees it.

    `total` is its tokens (prompt + completion, the whole conversation, or a preference
    input plus both outputs); `longest` is the longest sequence the model is given, the
    one compared with the limit. `error` is set when the model cannot take the example
    at all (its chat template fails on it): a (contract code, detail) pair.
    """

    total: int
    longest: int
    prompt: int = 0
    preferred: int = 0
    non_preferred: int = 0
    error: tuple[str, str] | None = None


class TokenCounter(Protocol):
    """Counts tokens the way the target model will see them."""

    name: str
    limit: int | None  # the model's own limit when the counter knows it (local models)

    def count(self, texts: Sequence[str]) -> list[int]: ...

    def count_chat(self, conversations: Sequence[Messages]) -> list[int]: ...

    def measure(self, fmt: str, examples: Sequence[dict[str, Any]]) -> list[Measure]:
        """Sizes of contract-valid examples of format `fmt` (one batch)."""
        ...


def _message_strings(message: dict[str, Any]) -> list[str]:
    """The strings of a message that the cookbook's estimate counts."""
    out = []
    for key, value in message.items():
        if key in ("weight",):
            continue
        if isinstance(value, str):
            out.append(value)
        elif value is not None and key in ("tool_calls", "function_call", "content"):
            out.append(json.dumps(value, ensure_ascii=False))
    return out


class TiktokenCounter:
    """Counts with a real tiktoken encoding (Rust core), one call per text.

    Measured on 2 cores, `encode_ordinary` in a loop beat `encode_ordinary_batch`
    with threads (the thread pool's overhead and contention cost more than it won).
    """

    limit: int | None = None

    def __init__(self, encoding_name: str) -> None:
        self.encoding = get_encoding(encoding_name)
        self.name = encoding_name
        self._encode = self.encoding.encode_ordinary

    def count(self, texts: Sequence[str]) -> list[int]:
        encode = self._encode
        return [len(encode(text)) if text else 0 for text in texts]

    def count_chat(self, conversations: Sequence[Messages]) -> list[int]:
        encode = self._encode
        totals = []
        for messages in conversations:
            total = 3  # every reply is primed with <|start|>assistant<|message|>
            for message in messages:
                total += 3
                for text in _message_strings(message):
                    total += len(encode(text))
                if "name" in message:
                    total += 1
            totals.append(total)
        return totals

    def _message(self, message: dict[str, Any]) -> int:
        return (
            3
            + sum(len(self._encode(t)) for t in _message_strings(message))
            + (1 if "name" in message else 0)
        )

    def _tools(self, holder: dict[str, Any]) -> int:
        tools = holder.get("tools") or holder.get("functions")
        return len(self._encode(json.dumps(tools, ensure_ascii=False))) if tools else 0

    def measure(self, fmt: str, examples: Sequence[dict[str, Any]]) -> list[Measure]:
        if fmt == "prompt_completion":
            counts = self.count(
                [ex["prompt"] for ex in examples] + [ex["completion"] for ex in examples]
            )
            n = len(examples)
            return [Measure(counts[i] + counts[n + i], counts[i] + counts[n + i]) for i in range(n)]
        if fmt in ("chat", "reinforcement"):
            totals = self.count_chat([ex["messages"] for ex in examples])
            out = []
            for ex, total in zip(examples, totals, strict=True):
                total += self._tools(ex)
                out.append(Measure(total, total))
            return out
        out = []
        for ex in examples:
            inp = ex["input"]
            prompt = self.count_chat([inp["messages"]])[0] + self._tools(inp)
            pre = self._message(ex["preferred_output"][0])
            non = self._message(ex["non_preferred_output"][0])
            out.append(Measure(prompt + pre + non, prompt + max(pre, non), prompt, pre, non))
        return out


class HFCounter:
    """Counts with a local model's own Hugging Face tokenizer, exactly as the trainer
    tokenises (`fttui.data.encode`): the same ids, the same chat template errors."""

    def __init__(self, tokenizer: Any, name: str, limit: int | None = None) -> None:
        self.tokenizer = tokenizer
        self.name = name
        self.limit = limit

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(x) for x in ids]

    def count_chat(self, conversations: Sequence[Messages]) -> list[int]:
        from fttui.data.encode import ExampleError, render_conversation

        out = []
        for messages in conversations:
            try:
                out.append(len(render_conversation(self.tokenizer, messages)))
            except ExampleError:
                out.append(0)
        return out

    def measure(self, fmt: str, examples: Sequence[dict[str, Any]]) -> list[Measure]:
        from fttui.data.contract import Parsed
        from fttui.data.encode import ExampleError, PreferenceExample, encode

        out = []
        for obj in examples:
            try:
                ex = encode(self.tokenizer, Parsed(fmt, obj))  # type: ignore[arg-type]
            except ExampleError as exc:
                out.append(Measure(0, 0, error=(exc.code, exc.detail)))
                continue
            if isinstance(ex, PreferenceExample):
                p, c, r = len(ex.prompt_ids), len(ex.chosen_ids), len(ex.rejected_ids)
                out.append(Measure(p + c + r, ex.n_tokens, p, c, r))
            else:
                out.append(Measure(ex.n_tokens, ex.n_tokens))
        return out


def counter_for(model: ModelInfo, data_dir: str | None = None) -> tuple[TokenCounter, list[str]]:
    """The counter for `model`, plus warnings when a fallback had to be used.

    Raises EncodingUnavailable only when not even the fallback encoding loads.
    """
    warnings: list[str] = []
    if model.encoding == "hf" and model.local_id is not None:
        try:
            from fttui.core.models import load_registry
            from fttui.data.tokenizing import ModelFiles, tokenizer_and_limit
            from fttui.paths import data_dir as resolve_data_dir

            spec = load_registry(resolve_data_dir(data_dir))[model.local_id]
            files = ModelFiles(spec.id, spec.source, spec.gguf_file, spec.context_length)
            tokenizer, limit = tokenizer_and_limit(files)
            return HFCounter(tokenizer, f"hf:{spec.id}", limit), warnings
        except ImportError:
            warnings.append(
                f"transformers is not installed, so {model.name}'s own tokenizer is unavailable; "
                f"counting with {UNKNOWN_MODEL_ENCODING} instead (install fttui[local])"
            )
        except Exception as exc:  # a broken model source must not stop the check
            warnings.append(
                f"could not load {model.name}'s tokenizer ({exc}); "
                f"counting with {UNKNOWN_MODEL_ENCODING} instead"
            )
        return TiktokenCounter(UNKNOWN_MODEL_ENCODING), warnings
    if not model.known:
        warnings.append(
            f"unknown model {model.name!r}: counting with {model.encoding} and a limit of "
            f"{model.limit} tokens"
        )
    return TiktokenCounter(model.encoding), warnings


__all__ = [
    "EncodingUnavailable",
    "HFCounter",
    "Measure",
    "TiktokenCounter",
    "TokenCounter",
    "counter_for",
]
