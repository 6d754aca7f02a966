"""A model's weights written as GGUF (llama.cpp, Ollama), with the `gguf` package.

Why the `gguf` package and not llama.cpp's `convert_hf_to_gguf.py`: the package is
already a dependency of the engine (it reads the default model), is on PyPI with a
stable writer/reader API, while the converter is a script inside the llama.cpp source
tree that fttui would have to vendor or download. The converter's hard part is the
tokenizer metadata; here it is not needed: a model whose base came from a GGUF (the
default model does) keeps every metadata field of that GGUF (architecture
parameters, tokenizer, chat template) and only its tensors are replaced by the
fine-tuned ones, under llama.cpp's names (`gguf.get_tensor_name_map`), with the
attention q/k rows permuted back to llama.cpp's order (the inverse of what
transformers' GGUF loader undoes). Tensors are written in float32 (1-D) and float32
or float16 (2-D). Models whose base is not a GGUF are refused with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

QK_PERMUTED = ("attn_q", "attn_k")


class GGUFExportError(ValueError):
    """This model cannot be written as GGUF here (the message says why)."""


def _permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row order (convert_hf_to_gguf's `permute`)."""
    shape = weights.shape
    return (
        weights.reshape(n_head, 2, shape[0] // n_head // 2, *shape[1:])
        .swapaxes(1, 2)
        .reshape(shape)
    )


def _field_value(field: Any) -> Any:
    return field.contents()


def write_gguf(model_dir: Path, source_gguf: Path, target: Path, *, f16: bool = False) -> Path:
    """Write `model_dir`'s safetensors weights as `target`, with `source_gguf`'s metadata."""
    import gguf
    from safetensors.torch import load_file

    reader = gguf.GGUFReader(str(source_gguf))
    arch = str(_field_value(reader.fields["general.architecture"]))
    if arch != "llama":
        raise GGUFExportError(f"GGUF export knows the llama architecture only, not {arch!r}")
    weights: dict[str, np.ndarray] = {}
    for file in sorted(model_dir.glob("*.safetensors")):
        # Read through torch: a model stored in bfloat16 has no numpy dtype.
        weights.update({k: v.float().numpy() for k, v in load_file(str(file)).items()})
    if not weights:
        raise GGUFExportError(f"{model_dir} holds no safetensors weights")
    blocks = int(_field_value(reader.fields[f"{arch}.block_count"]))
    heads = int(_field_value(reader.fields[f"{arch}.attention.head_count"]))
    kv_heads = int(_field_value(reader.fields[f"{arch}.attention.head_count_kv"]))
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, blocks)
    by_gguf: dict[str, np.ndarray] = {}
    for hf_name, value in weights.items():
        base = hf_name.removesuffix(".weight")
        mapped = names.get_name(base)
        if mapped is None:
            raise GGUFExportError(f"no GGUF name for tensor {hf_name!r}")
        array = np.asarray(value, dtype=np.float32)
        kind = mapped.split(".")[-1]
        if kind in QK_PERMUTED:
            array = _permute(array, heads if kind == "attn_q" else kv_heads)
        by_gguf[f"{mapped}.weight"] = array
    wanted = [t.name for t in reader.tensors]
    missing = [n for n in wanted if n not in by_gguf]
    if missing:
        raise GGUFExportError(f"the model has no weights for GGUF tensors {missing[:3]}")
    writer = gguf.GGUFWriter(str(target), arch)
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in (
            "general.architecture",
            "general.file_type",
            "general.quantization_version",
        ):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16 if f16 else gguf.LlamaFileType.ALL_F32)
    for name in wanted:
        array = by_gguf[name]
        if f16 and array.ndim == 2:
            array = array.astype(np.float16)
        writer.add_tensor(name, array)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


def modelfile(gguf_name: str) -> str:
    """An Ollama Modelfile for the GGUF next to it. The GGUF carries the model's chat
    template (`tokenizer.chat_template`), which Ollama reads from there."""
    return f"FROM ./{gguf_name}\nPARAMETER temperature 0\n"
