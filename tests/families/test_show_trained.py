"""`fttui prepare --model M --show-trained N`: the first examples as M's own chat
template renders them, the trained tokens marked, with the count of trained tokens per
example; a model whose template cannot take a line says why on that line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fttui.cli import main as cli

from .conftest import family_model

TWO_TURNS = {
    "messages": [
        {"role": "user", "content": "What does a cat say?"},
        {"role": "assistant", "content": "Meow."},
        {"role": "user", "content": "And a dog?"},
        {"role": "assistant", "content": "Woof."},
    ]
}
CALL = {
    "messages": [
        {"role": "user", "content": "weather?"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
    ],
    "tools": [{"type": "function", "function": {"name": "get_weather"}}],
}


@pytest.mark.parametrize("family", ["qwen3", "llama3"])
def test_show_trained_marks_each_reply_and_counts_its_tokens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], family: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    models = [{"id": f"tiny-{family}", "source": str(family_model(family))}]
    (data / "models.json").write_text(json.dumps({"models": models}))
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (TWO_TURNS, CALL, TWO_TURNS)))
    argv = ["--data-dir", str(data), "prepare", str(path), "--model", f"tiny-{family}"]
    cli([*argv, "--show-trained", "2", "--json"])
    first, second = json.loads(capsys.readouterr().out)["trained_preview"]
    trained = [s["text"] for s in first["segments"] if s["trained"]]
    end = {"qwen3": "<|im_end|>\n", "llama3": "<|eot_id|>"}[family]
    assert trained == [f"Meow.{end}", f"Woof.{end}"]
    assert first["trained_tokens"] < first["tokens"] and first["error"] is None
    if family == "qwen3":  # its template renders tools and calls: the call is trained
        (call,) = [s["text"] for s in second["segments"] if s["trained"]]
        assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}' in call
    else:  # Llama 3.1's base template renders no tools: the line says so
        assert second["segments"] == [] and "cannot render tool" in second["error"]
    # The human view: the same, trained stretches bracketed when not on a terminal.
    cli([*argv, "--show-trained", "1"])
    out = capsys.readouterr().out
    assert f"⟦Meow.{end}" in out and "line 1: " in out and " trained" in out
    assert "line 2" not in out.split("trained on")[-1]


def test_show_trained_needs_a_local_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps(TWO_TURNS) + "\n")
    assert (
        cli(["prepare", str(path), "--model", "gpt-4o-mini-2024-07-18", "--show-trained", "1"]) == 2
    )
    assert "--show-trained needs a local model" in capsys.readouterr().err
