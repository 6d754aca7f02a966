"""Token counters: one interface over tiktoken encodings and local HF tokenizers.

The checker counts tokens in batches (a list of strings at a time) so a counter
can use whatever is fastest underneath. Chat conversations are counted the way
OpenAI's cookbook does for its models (3 tokens per message, 1 per name, 3 to
prime the reply) and with the model's own chat template for local models.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import platformdirs

from fttui.data.encodings import EncodingUnavailable, get_encoding
from fttui.data.models import UNKNOWN_MODEL_ENCODING, ModelInfo

Messages = list[dict[str, Any]]


class TokenCounter(Protocol):
    """Counts tokens the way the target model will see them."""

    name: str

    def count(self, texts: Sequence[str]) -> list[int]: ...

    def count_chat(self, conversations: Sequence[Messages]) -> list[int]: ...


def _message_strings(message: dict[str, Any]) -> list[str]:
    """The strings of a message that the cookbook's estimate counts."""
    out = []
    for key, value in message.items():
        if key in ("weight",):
            continue
        if isinstance(value, str):
            out.append(value)
        elif value is not None and key in ("tool_calls", "function_call", "content"):
            import json

            out.append(json.dumps(value, ensure_ascii=False))
    return out


class TiktokenCounter:
    """Counts with a real tiktoken encoding (Rust core), one call per text.

    Measured on 2 cores, `encode_ordinary` in a loop beat `encode_ordinary_batch`
    with threads (the thread pool's overhead and contention cost more than it won).
    """

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


class HFCounter:
    """Counts with a local model's own Hugging Face tokenizer (and its chat template)."""

    def __init__(self, tokenizer: Any, name: str) -> None:
        self.tokenizer = tokenizer
        self.name = name

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(x) for x in ids]

    def count_chat(self, conversations: Sequence[Messages]) -> list[int]:
        out = []
        for messages in conversations:
            clean = [{k: v for k, v in m.items() if k != "weight"} for m in messages]
            ids = self.tokenizer.apply_chat_template(clean, tokenize=True)
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
            out.append(len(ids))
        return out


def cache_dir() -> Path:
    """fttui's cache (`$FTTUI_CACHE_DIR` overrides platformdirs)."""
    env = os.environ.get("FTTUI_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("fttui"))


@functools.cache
def load_local_tokenizer(local_id: str, source: str, gguf_file: str | None) -> Any:
    """A local model's tokenizer, cached on disk: reading it out of a GGUF takes seconds,
    loading the saved tokenizer files afterwards a fraction of one."""
    from transformers import AutoTokenizer

    key = hashlib.sha1(f"{source}\0{gguf_file}".encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", local_id)
    saved = cache_dir() / "tokenizers" / f"{safe}-{key}"
    if saved.is_dir():
        try:
            return AutoTokenizer.from_pretrained(str(saved))
        except (OSError, ValueError):
            shutil.rmtree(saved, ignore_errors=True)
    if gguf_file:
        tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
    else:
        tokenizer = AutoTokenizer.from_pretrained(source)
    try:
        tmp = saved.with_name(f"{saved.name}.{uuid.uuid4().hex}.tmp")
        tokenizer.save_pretrained(str(tmp))
        tmp.rename(saved)
    except OSError:
        pass  # caching is an optimisation only
    return tokenizer


def counter_for(model: ModelInfo, data_dir: str | None = None) -> tuple[TokenCounter, list[str]]:
    """The counter for `model`, plus warnings when a fallback had to be used.

    Raises EncodingUnavailable only when not even the fallback encoding loads.
    """
    warnings: list[str] = []
    if model.encoding == "hf" and model.local_id is not None:
        try:
            from fttui.paths import data_dir as resolve_data_dir
            from fttui.train.registry import load_registry

            spec = load_registry(resolve_data_dir(data_dir))[model.local_id]
            tokenizer = load_local_tokenizer(spec.id, spec.source, spec.gguf_file)
            return HFCounter(tokenizer, f"hf:{spec.id}"), warnings
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
    "TiktokenCounter",
    "TokenCounter",
    "counter_for",
]
