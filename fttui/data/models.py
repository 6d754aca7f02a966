"""Which tokenizer and which length limit apply to a model name.

OpenAI's models count with a tiktoken encoding (see `encodings.py`); the local
server's models (`fttui.train.registry`) count with their own Hugging Face
tokenizer. The limits are the longest training example (prompt + completion, or a
whole conversation) each model accepts, as OpenAI documents them; where OpenAI's
documents give several figures we take the smaller one, so a file that passes here
is not rejected there. docs/data.md has the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from fttui.core.naming import base_of


@dataclass(frozen=True)
class ModelInfo:
    """How to count tokens for a model: a tiktoken encoding or a local HF tokenizer."""

    name: str
    encoding: str  # tiktoken encoding name, or "hf" for a local model's own tokenizer
    limit: int  # longest training example in tokens
    known: bool = True  # False when the name was not recognised (defaults applied)
    local_id: str | None = None  # the registry id when encoding == "hf"


# Longest prefix wins, so dated snapshots (gpt-4o-mini-2024-07-18) match their family.
OPENAI_MODELS: dict[str, tuple[str, int]] = {
    # The legacy guide's base models (GPT-3): r50k_base, 2048 tokens for prompt + completion.
    "ada": ("r50k_base", 2048),
    "babbage": ("r50k_base", 2048),
    "curie": ("r50k_base", 2048),
    "davinci": ("r50k_base", 2048),
    # Their successors on today's API.
    "babbage-002": ("cl100k_base", 16384),
    "davinci-002": ("cl100k_base", 16384),
    # Chat models that can be fine-tuned.
    "gpt-3.5-turbo": ("cl100k_base", 16385),
    "gpt-3.5-turbo-0613": ("cl100k_base", 4096),
    "gpt-3.5-turbo-1106": ("cl100k_base", 16385),
    "gpt-3.5-turbo-0125": ("cl100k_base", 16385),
    "gpt-4": ("cl100k_base", 8192),
    "gpt-4-0613": ("cl100k_base", 8192),
    "gpt-4o": ("o200k_base", 65536),
    "gpt-4o-mini": ("o200k_base", 65536),
    "gpt-4.1": ("o200k_base", 65536),
    "gpt-4.1-mini": ("o200k_base", 65536),
    "gpt-4.1-nano": ("o200k_base", 65536),
    "o4-mini": ("o200k_base", 65536),
}

UNKNOWN_MODEL_ENCODING = "cl100k_base"
UNKNOWN_MODEL_LIMIT = 4096


def _openai_base(name: str) -> str:
    """The base of a fine-tuned name: `curie:ft-org-...` -> curie, `ft:gpt-4o-mini-...:org::id` ->
    gpt-4o-mini-..."""
    if name.startswith("ft:"):
        return name[3:].split(":", 1)[0]
    return base_of(name)


def openai_model(name: str) -> ModelInfo | None:
    """The table entry for an OpenAI model (base, snapshot or fine-tuned), or None."""
    base = _openai_base(name)
    best = ""
    for key in OPENAI_MODELS:
        if (base == key or base.startswith(key + "-")) and len(key) > len(best):
            best = key
    if not best:
        return None
    encoding, limit = OPENAI_MODELS[best]
    return ModelInfo(name=name, encoding=encoding, limit=limit)


def resolve(name: str, data_dir: str | None = None) -> ModelInfo:
    """OpenAI's table first, then the local server's registry, else cl100k with 4096."""
    info = openai_model(name)
    if info is not None:
        return info
    try:
        from fttui.paths import data_dir as resolve_data_dir
        from fttui.train.registry import load_registry, resolve_model

        spec = resolve_model(load_registry(resolve_data_dir(data_dir)), base_of(name))
    except (ValueError, OSError):
        spec = None
    if spec is not None:
        # A hub model not downloaded yet has no known limit here; the trainer applies
        # the model's own when the job starts.
        limit = spec.context_length or UNKNOWN_MODEL_LIMIT
        return ModelInfo(name=name, encoding="hf", limit=limit, local_id=spec.id)
    return ModelInfo(
        name=name, encoding=UNKNOWN_MODEL_ENCODING, limit=UNKNOWN_MODEL_LIMIT, known=False
    )
