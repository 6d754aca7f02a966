"""Reading a model's output back into OpenAI's fields, fed whole or token by token:
reasoning never reaches `content`, hermes-style tool calls become `tool_calls`, and a
stream adds up to the whole answer."""

from __future__ import annotations

import json

import pytest

from fttui.data.chat_format import OutputParser, Piece


def read(text: str, chunk: int, **kwargs: object) -> tuple[str, str, list[tuple[str, str]]]:
    parser = OutputParser(**kwargs)  # type: ignore[arg-type]
    pieces: list[Piece] = [parser.feed(text[i : i + chunk]) for i in range(0, len(text), chunk)]
    pieces.append(parser.finish())
    calls = [(c.name, c.arguments) for p in pieces for c in p.tool_calls]
    return (
        "".join(p.reasoning for p in pieces),
        "".join(p.content for p in pieces),
        calls,
    )


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_a_leading_think_block_is_reasoning_never_content(chunk: int) -> None:
    reasoning, content, _ = read("<think>\nadd them\n</think>\n\nFour.", chunk)
    assert (reasoning, content) == ("add them", "Four.")
    # The empty block a non-thinking answer may still write is not content either.
    assert read("<think>\n\n</think>\n\nWoof.", chunk)[:2] == ("", "Woof.")
    # A prompt that opened the block: everything up to </think> is reasoning.
    assert read("add them\n</think>\n\nFour.", chunk, in_reasoning=True)[:2] == (
        "add them",
        "Four.",
    )
    assert read("Just <think> words", chunk)[:2] == ("", "Just <think> words")


@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_hermes_tool_calls_become_openai_tool_calls(chunk: int) -> None:
    text = (
        "Let me look.\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>\n'
        '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>'
    )
    _, content, calls = read(text, chunk, tool_parser="hermes")
    assert content == "Let me look.\n"
    assert [(name, json.loads(args)) for name, args in calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {}),
    ]
    # Without tools in the request the text is the answer, as written.
    assert read(text, chunk)[1] == text


def test_a_block_that_is_not_a_call_stays_in_the_content() -> None:
    _, content, calls = read("<tool_call>not json</tool_call>", 2, tool_parser="hermes")
    assert calls == [] and content == "<tool_call>not json</tool_call>"
    # A call cut short by max_tokens is not a call either.
    _, content, calls = read('<tool_call>\n{"name": "f", "argu', 5, tool_parser="hermes")
    assert calls == [] and "<tool_call>" in content
