"""A model as a directory other tools load: `GET /v1/fttui/export/{model}?format=hf`.

`hf`: the model's safetensors weights (a LoRA job's adapters are already merged into
them when the job saves its model, fttui.train.plan.model_to_save), its config,
generation config, tokenizer and chat template: what `transformers`,
vLLM and TGI load with `from_pretrained(DIR)`. Sent as one uncompressed tar (the
weights do not compress), built in the data directory's tmp/ and removed once sent.
A base model is exported as the engine keeps it (converted from its GGUF once).

`gguf`: `model.gguf` (float32, fttui.train.gguf_export: the base model's own GGUF
metadata, tokenizer and chat template with the fine-tuned tensors) and an Ollama
`Modelfile`; for models whose base came from a GGUF (the default model does); others
get a 400 saying why and to convert the hf export with llama.cpp's converter.
"""

from __future__ import annotations

import tarfile
import tempfile
from pathlib import Path
from typing import Any

from fttui.core.checkpoint_files import MANIFEST
from fttui.server.errors import APIError

FORMATS = ("hf", "gguf")
# Files of a model directory that are fttui's own bookkeeping, not the model's.
_OWN = {MANIFEST}


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


def _gguf_directory(store: Any, model: str, source: Path, work: Path) -> Path:
    """`model.gguf` + `Modelfile` in `work`; 400 when the base is not a GGUF."""
    from fttui.train.gguf_export import GGUFExportError, modelfile, write_gguf
    from fttui.train.models import resolve

    spec = resolve(store, model).spec
    if spec is None or spec.kind != "gguf" or not spec.gguf_file:
        raise APIError(
            400,
            f"'format' gguf needs a model whose base came from a GGUF file; {model!r} did "
            "not: export format hf and convert it with llama.cpp's convert_hf_to_gguf.py",
            param="format",
            code="unsupported_value",
        )
    try:
        write_gguf(source, Path(spec.source) / spec.gguf_file, work / "model.gguf")
    except GGUFExportError as exc:
        raise APIError(400, f"'format' gguf: {exc}", param="format") from None
    (work / "Modelfile").write_text(modelfile("model.gguf"), encoding="utf-8")
    return work


def build_tar(store: Any, model: str, fmt: str = "hf") -> Path:
    """A tar of the model's export directory under the data directory's tmp/."""
    source = model_directory(store, model)
    tmp = Path(store.data_dir) / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp) as work:
        folder = _gguf_directory(store, model, source, Path(work)) if fmt == "gguf" else source
        fd, name = tempfile.mkstemp(prefix="export-", suffix=".tar", dir=tmp)
        path = Path(name)
        with open(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w") as tar:
            for item in sorted(folder.iterdir()):
                if item.is_file() and item.name not in _OWN:
                    tar.add(item, arcname=item.name)
    return path
