"""Mistral's chat format (rendered by Mistral's `mistral-common`) as the trainer and the
server read it, with Mistral NeMo's real tekken tokenizer as mistral-common ships it:
a chat trains exactly the answers mistral-common renders after its prompt, a tool call
is trained as `[TOOL_CALLS][...]</s>`, and the server's parser reads that rendering back
as the same OpenAI tool call."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fttui.data import _mistral
from fttui.data.chat_format import OutputParser, Piece, capabilities, render_prompt
from fttui.data.contract import Parsed
from fttui.data.encode import IGNORE, Example, encode

from .conftest import family_model

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
CALL = {
    "role": "assistant",
    "tool_calls": [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ],
}


@pytest.fixture(scope="module")
def tok() -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(family_model("mistral")))


def chat(tok: Any, obj: dict[str, Any]) -> Example:
    ex = encode(tok, Parsed("chat", obj))
    assert isinstance(ex, Example)
    return ex


def trained(tok: Any, ex: Example) -> list[str]:
    out, run = [], []
    for token, label in zip(ex.input_ids, ex.labels, strict=True):
        if label != IGNORE:
            run.append(token)
        elif run:
            out.append(tok.decode(run))
            run = []
    if run:
        out.append(tok.decode(run))
    return out


def test_a_chat_trains_the_answer_mistral_common_renders_after_its_prompt(tok: Any) -> None:
    assert capabilities(tok).tool_parser == "mistral"
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What does a cat say?"},
        {"role": "assistant", "content": "Meow."},
    ]
    ex = chat(tok, {"messages": messages})
    prompt = render_prompt(tok, messages[:-1])
    assert ex.input_ids[: len(prompt)] == prompt  # the prompt inference sends
    assert ex.labels[: len(prompt)] == [IGNORE] * len(prompt)
    assert tok.decode(ex.input_ids[len(prompt) :]) == "Meow.</s>"
    assert trained(tok, ex) == ["Meow.</s>"]
    assert tok.decode(prompt).startswith("<s>[INST]")


def test_two_turns_and_weight_0(tok: Any) -> None:
    messages = [
        {"role": "user", "content": "What does a cat say?"},
        {"role": "assistant", "content": "Meow."},
        {"role": "user", "content": "And a dog?"},
        {"role": "assistant", "content": "Woof."},
    ]
    assert trained(tok, chat(tok, {"messages": messages})) == ["Meow.</s>", "Woof.</s>"]
    quiet = [messages[0], {**messages[1], "weight": 0}, *messages[2:]]
    assert trained(tok, chat(tok, {"messages": quiet})) == ["Woof.</s>"]


def parse(text: str, chunk: int) -> Piece:
    parser = OutputParser(tool_parser="mistral")
    total = Piece()
    pieces = [parser.feed(text[i : i + chunk]) for i in range(0, len(text), chunk)]
    for p in [*pieces, parser.finish()]:
        total.content += p.content
        total.tool_calls += p.tool_calls
    return total


@pytest.mark.parametrize("chunk", [1, 5, 1000])
def test_a_tool_call_is_trained_as_rendered_and_read_back(tok: Any, chunk: int) -> None:
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        CALL,
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'},
        {"role": "assistant", "content": "21 degrees."},
    ]
    ex = chat(tok, {"messages": messages, "tools": [WEATHER]})
    call, answer = trained(tok, ex)
    assert call.startswith('[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}')
    assert call.endswith("</s>") and answer == "21 degrees.</s>"
    assert "[AVAILABLE_TOOLS]" in tok.decode(ex.input_ids)
    # the server decodes a Mistral answer with its special tokens (eos ends it)
    out = parse(call.removesuffix("</s>"), chunk)
    (got,) = out.tool_calls
    assert got.name == "get_weather" and json.loads(got.arguments) == {"city": "Paris"}
    assert out.content == ""
    assert parse("Sunny.", chunk).content == "Sunny."


def test_the_model_directory_carries_mistral_commons_file(tok: Any) -> None:
    path = _mistral.tokenizer_file(tok)
    assert path is not None and path.name == "tekken.json"
