"""A model as a directory other tools load: `GET /v1/fttui/export/{model}?format=hf`.

`hf`: the model's safetensors weights (a LoRA job's adapters are already merged into
them when the job saves its model, fttui.train.plan.model_to_save), its config,
generation config, tokenizer and chat template: what `transformers`,
vLLM and TGI load with `from_pretrained(DIR)`. Sent as one uncompressed tar (the
weights do not compress), built in the data directory's tmp/ and removed once sent.
A base model is exported as the engine keeps it (converted from its GGUF once).

`gguf` is refused with a 400 saying so: this server has no GGUF writer yet.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import Any

from fttui.server.errors import APIError

FORMATS = ("hf", "gguf")
# Files of a model directory that are fttui's own bookkeeping, not the model's.
_OWN = {"fttui-manifest.json"}


def model_directory(store: Any, model: str) -> Path:
    """The local directory of a base or fine-tuned model; 404 when unknown."""
    from fttui.train.models import UnknownModel, ensure_local, resolve

    try:
        return Path(ensure_local(store, resolve(store, model)))
    except UnknownModel:
        raise APIError(
            404,
            f"The model {model!r} does not exist: not a base model of this server nor one "
            "of its fine-tuned models",
            param="model",
            code="model_not_found",
        ) from None


def check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise APIError(
            400, f"'format' must be one of {', '.join(FORMATS)}, got {fmt!r}", param="format"
        )
    if fmt == "gguf":
        raise APIError(
            400,
            "'format' gguf is not available from this server yet: export format hf and "
            "convert it with llama.cpp's convert_hf_to_gguf.py",
            param="format",
            code="unsupported_value",
        )


def build_tar(store: Any, model: str) -> Path:
    """A tar of the model's hf directory under the data directory's tmp/."""
    source = model_directory(store, model)
    tmp = Path(store.data_dir) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="export-", suffix=".tar", dir=tmp)
    path = Path(name)
    with open(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
        for item in sorted(source.iterdir()):
            if item.is_file() and item.name not in _OWN:
                tar.add(item, arcname=item.name)
    return path
