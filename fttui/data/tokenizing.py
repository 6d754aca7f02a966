"""A model's tokenizer and token limit, without loading its weights.

The server's `validating_files` step, `fttui prepare` (for a local model) and the
trainer must count the same tokens against the same limit. The trainer has the
model loaded; the other two only need what this module gives: the tokenizer and the
limit `token_limit` computes from the model's config, both read from small files.
Reading the tokenizer out of a GGUF file takes seconds, so it is cached under
fttui's cache dir (`$FTTUI_CACHE_DIR`, else the platform's) and later loads take a
fraction of a second; the limit is read from the GGUF header directly.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from struct import error as struct_error
from typing import Any

import platformdirs

from fttui.core.hub import is_hub_id

NO_POSITION_LIMIT = 10**9


def cache_dir() -> Path:
    """fttui's cache (`$FTTUI_CACHE_DIR` overrides platformdirs)."""
    env = os.environ.get("FTTUI_CACHE_DIR")
    return Path(env) if env else Path(platformdirs.user_cache_dir("fttui"))


def token_limit(context_length: int | None, config: Any) -> int:
    """The longest example (in tokens) a job on this model may train: the registry's
    `context_length` (None: the model's own), capped by the positions the model has."""
    positions = getattr(config, "max_position_embeddings", None) or NO_POSITION_LIMIT
    return min(int(context_length or NO_POSITION_LIMIT), int(positions))


def _saved_dir(local_id: str, source: str, gguf_file: str | None) -> Path | None:
    """Where the cached copy of a local model's tokenizer lives; None for hub ids.

    The key covers the source and, for a directory, its tokenizer files' size and
    modification time, so an edited tokenizer is read afresh."""
    stamp = ""
    if not gguf_file:
        folder = Path(source)
        if not folder.is_dir():
            return None
        for name in ("tokenizer_config.json", "tokenizer.json", "special_tokens_map.json"):
            with contextlib.suppress(OSError):
                st = (folder / name).stat()
                stamp += f"\0{name}:{st.st_size}:{st.st_mtime_ns}"
    key = hashlib.sha1(f"{source}\0{gguf_file}{stamp}".encode()).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", local_id)
    return cache_dir() / "tokenizers" / f"{safe}-{key}"


def _carry_format_files(source: str, saved: Path) -> None:
    """Copy into the cached copy the files the chat format reads besides the tokenizer's
    (mistral-common's tokenizer file: `fttui.data._mistral` finds it beside the
    tokenizer it was loaded from)."""
    from fttui.data._mistral import FORMAT_FILES

    for name in FORMAT_FILES:
        found = Path(source) / name
        if found.is_file() and not (saved / name).is_file():
            with contextlib.suppress(OSError):
                shutil.copyfile(found, saved / name)


def _load_saved(saved: Path) -> Any:
    """Load a cached tokenizer copy: the class transformers' AutoTokenizer would pick.

    The copy has no model config.json beside it, so for one saved as the generic
    `TokenizersBackend` AutoTokenizer picks that class; loading it directly skips
    AutoTokenizer's imports (torch among them, ~3 s of CPU), which matters because
    the server's validation worker starts with it. Any other class goes through
    AutoTokenizer itself."""
    try:
        config = json.loads((saved / "tokenizer_config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        config = {}
    if (
        isinstance(config, dict)
        and config.get("tokenizer_class") == "TokenizersBackend"
        and "auto_map" not in config
    ):
        from transformers import TokenizersBackend

        return TokenizersBackend.from_pretrained(str(saved))
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(saved))


@functools.cache
def load_local_tokenizer(local_id: str, source: str, gguf_file: str | None) -> Any:
    """A local model's tokenizer, as `AutoTokenizer.from_pretrained(source)` gives it.

    The first load (seconds out of a GGUF file) saves a copy under the cache dir;
    later loads read that copy in a fraction of a second. Hub ids are left to
    Hugging Face's own cache."""
    saved = _saved_dir(local_id, source, gguf_file)
    if saved is not None and saved.is_dir():
        _carry_format_files(source, saved)
        try:
            return _load_saved(saved)
        except (OSError, ValueError):
            shutil.rmtree(saved, ignore_errors=True)
    from transformers import AutoTokenizer

    if gguf_file:
        tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=gguf_file)
    else:
        tokenizer = AutoTokenizer.from_pretrained(source)
    if saved is None:
        return tokenizer
    try:
        tmp = saved.with_name(f"{saved.name}.{uuid.uuid4().hex}.tmp")
        tokenizer.save_pretrained(str(tmp))
        _carry_format_files(source, tmp)
        tmp.rename(saved)
    except OSError:
        pass  # caching is an optimisation only
    return tokenizer


_GGUF_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_GGUF_INTS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 10: "<Q", 11: "<q"}


def gguf_context_length(path: Path) -> int | None:
    """`<architecture>.context_length` from a GGUF file's header (what transformers maps to
    `max_position_embeddings`), read without loading the tensors or the vocabulary; None
    when absent. transformers' own reader parses the whole header into Python objects
    (seconds); this reads the key-value section only (milliseconds)."""
    import mmap
    import struct

    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        if buf[:4] != b"GGUF":
            return None
        (version,) = struct.unpack_from("<I", buf, 4)
        wide = "<Q" if version >= 2 else "<I"
        width = struct.calcsize(wide)
        pos = 8 + width  # skip the tensor count
        (n_kv,) = struct.unpack_from(wide, buf, pos)
        pos += width

        def string(at: int) -> tuple[bytes, int]:
            (size,) = struct.unpack_from(wide, buf, at)
            at += width
            return bytes(buf[at : at + size]), at + size

        def skip(kind: int, at: int) -> int:
            if kind == 8:
                return string(at)[1]
            if kind == 9:
                (item,) = struct.unpack_from("<I", buf, at)
                (count,) = struct.unpack_from(wide, buf, at + 4)
                at += 4 + width
                if item in _GGUF_SIZES:
                    return at + count * _GGUF_SIZES[item]
                for _ in range(count):
                    at = skip(item, at)
                return at
            return at + _GGUF_SIZES[kind]

        values: dict[bytes, int | bytes] = {}
        for _ in range(n_kv):
            key, pos = string(pos)
            (kind,) = struct.unpack_from("<I", buf, pos)
            pos += 4
            if kind == 8 and key == b"general.architecture":
                values[key], pos = string(pos)
            elif kind in _GGUF_INTS and key.endswith(b".context_length"):
                (values[key],) = struct.unpack_from(_GGUF_INTS[kind], buf, pos)
                pos += _GGUF_SIZES[kind]
            else:
                pos = skip(kind, pos)
    arch = values.get(b"general.architecture")
    value = values.get(bytes(arch) + b".context_length") if isinstance(arch, bytes) else None
    return int(value) if isinstance(value, int) else None


@functools.cache
def max_positions(local_id: str, source: str, gguf_file: str | None) -> int:
    """The model config's `max_position_embeddings`, as the trainer's loaded model has it."""
    if gguf_file:
        try:
            value = gguf_context_length(Path(source, gguf_file))
        except (OSError, ValueError, KeyError, struct_error):
            value = None
        if value:
            return value
    else:
        # A local model's config.json, read as AutoConfig would (without its imports).
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            config = json.loads(Path(source, "config.json").read_text(encoding="utf-8"))
            if isinstance(config.get("max_position_embeddings"), int):
                return min(NO_POSITION_LIMIT, int(config["max_position_embeddings"]))
    from transformers import AutoConfig

    kwargs = {"gguf_file": gguf_file} if gguf_file else {}
    return token_limit(NO_POSITION_LIMIT, AutoConfig.from_pretrained(source, **kwargs))


@dataclass(frozen=True)
class ModelFiles:
    """Where a model's tokenizer and config are: a directory (or hub id), or a GGUF file.

    The server fills it from a job's model (base or fine-tuned) and sends it to the
    validation worker; it is plain data so it crosses a process boundary as JSON.
    """

    id: str
    source: str
    gguf_file: str | None
    context_length: int | None  # None: the model's own (max_position_embeddings)
    revision: str | None = None  # hub models: the branch, tag or commit

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source": self.source,
            "gguf_file": self.gguf_file,
            "context_length": self.context_length,
            "revision": self.revision,
        }


# A hub model's files that tokenizer and config need (not its weights).
_HUB_SMALL_FILES = ["*.json", "*.model", "*.txt", "*.jinja", "*.tiktoken"]


def hub_small_files(source: str, revision: str | None) -> str:
    """A local snapshot of a hub model's tokenizer and config files (no weights).

    Through huggingface_hub into fttui's cache: it fails within seconds when the hub
    cannot be reached (transformers' own look-up retries each file for minutes), and
    the error it raises is one `fttui.core.hub.hub_problem` explains.
    """
    from huggingface_hub import snapshot_download

    return str(
        snapshot_download(
            source,
            revision=revision,
            cache_dir=cache_dir() / "hub",
            allow_patterns=_HUB_SMALL_FILES,
        )
    )


def tokenizer_and_limit(files: ModelFiles) -> tuple[Any, int]:
    """(tokenizer, token limit) for a model, from its small files only."""
    if not files.gguf_file and is_hub_id(files.source):
        files = replace(files, source=hub_small_files(files.source, files.revision))
    tokenizer = load_local_tokenizer(files.id, files.source, files.gguf_file)
    return tokenizer, min(
        files.context_length or NO_POSITION_LIMIT,
        max_positions(files.id, files.source, files.gguf_file),
    )
