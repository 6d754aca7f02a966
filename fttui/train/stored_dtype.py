"""The number format a job's final model is stored in, and why, in words.

A job trains with float32 master weights (fttui/train/precision.py) and its checkpoints
keep them in float32, because a resume must continue exactly where the pause left off
(tests/train/test_pause_resume.py holds resumed == unpaused). The final model is what
people serve and download; its format is the job's `stored_dtype`:

- `float32` or `bfloat16` when asked;
- `auto` (or not asked): the format the base model was published in, where that is
  narrower than float32: bfloat16 for a model published in bfloat16, and for a GGUF
  whose weights are quantised (the default SmolLM2-135M-Instruct ships as Q4_1: 4-bit
  blocks with 16-bit scales, coarser than bfloat16 already); float32 for a model
  published in float32 or float16 (bfloat16 keeps fewer mantissa bits than float16).

Rounding the trained float32 weights to bfloat16 halves the model's size; what it does
to greedy answers is measured by benchmarks/disk_bench.py (docs/training.md).
"""

from __future__ import annotations

import json
from pathlib import Path

FLOAT32 = "float32"
BFLOAT16 = "bfloat16"

# GGUF's general.file_type values that name a float format (llama.cpp's LlamaFileType);
# every other one is a quantised format.
_GGUF_FLOAT_TYPES = {0: FLOAT32, 1: "float16", 32: BFLOAT16}


def published_dtype(location: str | Path, gguf_file: str | None = None) -> str:
    """The weights' format as published: a config's `dtype` (`torch_dtype` in older
    configs), or for a GGUF file its `general.file_type` ("quantized <TYPE>" for a
    quantised one). "unknown" when neither says."""
    if gguf_file is not None:
        from gguf import GGUFReader, LlamaFileType

        reader = GGUFReader(str(Path(location) / gguf_file))
        field = reader.fields.get("general.file_type")
        if field is None:
            return "unknown"
        file_type = int(field.parts[-1][0])
        if file_type in _GGUF_FLOAT_TYPES:
            return _GGUF_FLOAT_TYPES[file_type]
        try:
            name = LlamaFileType(file_type).name.removeprefix("MOSTLY_")
        except ValueError:
            name = str(file_type)
        return f"quantized {name}"
    try:
        config = json.loads((Path(location) / "config.json").read_text())
    except (OSError, ValueError):
        return "unknown"
    value = config.get("dtype") or config.get("torch_dtype")
    return str(value) if value else "unknown"


def choose(asked: str | None, published: str) -> tuple[str, str]:
    """(dtype to store, why in words) for a job that asked `asked` of a base model
    published as `published` (see `published_dtype`)."""
    if asked in (FLOAT32, BFLOAT16):
        return asked, f"stored_dtype {asked} was asked"
    if published == BFLOAT16 or published.startswith("quantized "):
        return BFLOAT16, f"the base model was published as {published}"
    return FLOAT32, f"the base model was published as {published}"
