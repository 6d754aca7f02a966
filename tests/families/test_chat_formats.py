"""Each family's chat format as the trainer and the data check read it, with the
family's real tokenizer and chat template: what is trained is the assistant's reply as
the family's own template renders it, multi-turn chats train on every family, and
Qwen3's empty think block is prompt, never reply."""

from __future__ import annotations

from typing import Any

import pytest

from fttui.data.contract import Parsed
from fttui.data.encode import IGNORE, Example, encode

from .conftest import family_tokenizer

TWO_TURNS = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What does a cat say?"},
    {"role": "assistant", "content": "Meow."},
    {"role": "user", "content": "And a dog?"},
    {"role": "assistant", "content": "Woof."},
]


@pytest.fixture
def tok(family: str) -> Any:
    return family_tokenizer(family)


def chat(tok: Any, messages: list[dict[str, Any]]) -> Example:
    ex = encode(tok, Parsed("chat", {"messages": messages}))
    assert isinstance(ex, Example)
    return ex


def spans(tok: Any, ex: Example) -> list[str]:
    """The trained stretches of the example, decoded."""
    out: list[str] = []
    run: list[int] = []
    for token, label in zip(ex.input_ids, ex.labels, strict=True):
        if label != IGNORE:
            run.append(token)
        elif run:
            out.append(tok.decode(run))
            run = []
    if run:
        out.append(tok.decode(run))
    return out


def template_reply(tok: Any, messages: list[dict[str, Any]]) -> str:
    """What the family's own template renders for the last (assistant) message: the whole
    chat minus its generation prompt in non-thinking mode."""
    whole = tok.apply_chat_template(messages, tokenize=False, enable_thinking=False)
    prompt = tok.apply_chat_template(
        messages[:-1], tokenize=False, add_generation_prompt=True, enable_thinking=False
    )
    assert whole.startswith(prompt)
    return str(whole[len(prompt) :])


def test_the_trained_span_is_the_reply_the_template_renders(tok: Any, family: str) -> None:
    messages = TWO_TURNS[:3]
    ex = chat(tok, messages)
    assert spans(tok, ex) == [template_reply(tok, messages)]
    (reply,) = spans(tok, ex)
    assert reply.startswith("Meow.") and tok.eos_token in reply  # the end of turn is learned
    assert "<think>" not in reply and "Be brief" not in reply and "cat" not in reply


def test_two_assistant_turns_train_each_as_its_last_turn_form(tok: Any, family: str) -> None:
    ex = chat(tok, TWO_TURNS)
    first = template_reply(tok, TWO_TURNS[:3])
    second = template_reply(tok, TWO_TURNS)
    assert spans(tok, ex) == [first, second]
    text = tok.decode(ex.input_ids)
    if family == "qwen3":
        # Qwen3's template drops the think block of earlier turns; each turn is trained
        # after the empty block its own generation prompt carries in non-thinking mode.
        assert text.count("<|im_start|>assistant\n<think>\n\n</think>\n\n") == 2
    else:  # templates that do not rewrite history: exactly the rendered conversation
        assert ex.input_ids == tok.apply_chat_template(TWO_TURNS, tokenize=True, return_dict=False)


def test_a_weight_0_turn_stays_in_the_context_untrained(tok: Any) -> None:
    messages: list[dict[str, Any]] = [dict(m) for m in TWO_TURNS]
    messages[2]["weight"] = 0
    ex = chat(tok, messages)
    assert spans(tok, ex) == [template_reply(tok, TWO_TURNS)]
    assert "Meow." in tok.decode(ex.input_ids)


def test_qwen3_prompt_carries_the_empty_think_block() -> None:
    tok = family_tokenizer("qwen3")
    ex = chat(tok, TWO_TURNS[:3])
    prompt = tok.decode(ex.input_ids[: ex.first_target])
    assert prompt.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert spans(tok, ex) == ["Meow.<|im_end|>\n"]
