"""Llama 3.1's JSON tool calls, with Llama 3's real tokenizer and Llama 3.1 Instruct's
real chat template: a tool-call chat trains on exactly the JSON the template renders for
the call, and the server's parser reads that rendering back as the same OpenAI tool
call, whole or streamed in small pieces; an answer that is not a call stays content."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fttui.data.chat_format import OutputParser, Piece, capabilities, parse_json_calls
from fttui.data.contract import Parsed
from fttui.data.encode import IGNORE, Example, encode

from .conftest import llama31_instruct_tokenizer

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
LINE = {
    "messages": [
        {"role": "user", "content": "Weather in Paris?"},
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
    "tools": [WEATHER],
}


@pytest.fixture(scope="module")
def tok() -> Any:
    return llama31_instruct_tokenizer()


def parse(text: str, chunk: int) -> Piece:
    parser = OutputParser(tool_parser="llama3_json")
    total = Piece()
    pieces = [parser.feed(text[i : i + chunk]) for i in range(0, len(text), chunk)]
    for p in [*pieces, parser.finish()]:
        total.reasoning += p.reasoning
        total.content += p.content
        total.tool_calls += p.tool_calls
    return total


def test_the_template_is_read_as_llama3_json_calls(tok: Any) -> None:
    caps = capabilities(tok)
    assert caps.tools and caps.tool_parser == "llama3_json"


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_the_call_the_template_renders_is_trained_and_read_back(tok: Any, chunk: int) -> None:
    ex = encode(tok, Parsed("chat", LINE))
    assert isinstance(ex, Example)
    reply = [t for t, lab in zip(ex.input_ids, ex.labels, strict=True) if lab != IGNORE]
    # what Llama 3.1's template writes for the call, and its end of turn
    assert tok.decode(reply) == '{"name": "get_weather", "parameters": {"city": "Paris"}}<|eot_id|>'
    rendered = tok.apply_chat_template(LINE["messages"], tools=[WEATHER], tokenize=False)
    assert "Given the following functions" in rendered  # the tools reach the prompt
    # the server decodes without special tokens; the parser reads the call back
    out = parse(tok.decode(reply, skip_special_tokens=True), chunk)
    (call,) = out.tool_calls
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert out.content == "" and out.reasoning == ""


@pytest.mark.parametrize("chunk", [1, 1000])
def test_an_answer_that_is_not_a_call_is_content(chunk: int) -> None:
    assert parse("It is sunny in Paris.", chunk).content == "It is sunny in Paris."
    out = parse('{"weather": "sunny"}', chunk)  # JSON, but no call
    assert out.content == '{"weather": "sunny"}' and not out.tool_calls


def test_several_calls_joined_by_semicolons() -> None:
    calls = parse_json_calls(
        '{"name": "a", "parameters": {"x": 1}}; {"name": "b", "parameters": {}}'
    )
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [("a", {"x": 1}), ("b", {})]
