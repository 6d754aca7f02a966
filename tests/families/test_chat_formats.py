"""Each family's chat format as the trainer and the data check read it, with the
family's real tokenizer and chat template: what is trained is the assistant's reply as
the family's own template renders it, multi-turn chats train on every family, and
Qwen3's empty think block is prompt, never reply."""

from __future__ import annotations

from typing import Any

import pytest

from fttui.data.contract import Parsed
from fttui.data.encode import IGNORE, Example, PreferenceExample, encode

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


@pytest.fixture(params=["qwen3", "llama3", "gemma3", "qwen2-pretokenizer"])
def any_tok(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Each family's tokenizer, and a ChatML one whose pre-tokenizer (Qwen2's) joins a
    run of newlines into one piece, so "assistant\\n" + "\\nMeow" tokenizes across the cut."""
    if request.param != "qwen2-pretokenizer":
        return family_tokenizer(request.param)
    from transformers import AutoTokenizer

    from fttui.train.tiny import build_model

    path = build_model(tmp_path_factory.mktemp("q2") / "m", vocab_size=400, arch="qwen2")
    return AutoTokenizer.from_pretrained(path)


@pytest.mark.parametrize("reply", ["\nMeow.", "\n\n  Meow.\n"])
def test_a_reply_that_starts_with_a_newline_trains_after_the_prompt_inference_sends(
    any_tok: Any, reply: str
) -> None:
    """A reply's first characters can merge with the prompt's last token ("assistant\\n"
    then "\\n"): the example is still trained, its prompt the generation prompt's own
    tokens (what inference feeds the model) and its trained span the reply as the
    template renders it, for SFT and DPO alike. (A model's own sampled answers start with
    a newline often; the DPO cookbook notebook trains on them.)"""
    tok = any_tok
    messages = [*TWO_TURNS[:2], {"role": "assistant", "content": reply}]
    prompt = tok.apply_chat_template(
        messages[:-1],
        tokenize=True,
        add_generation_prompt=True,
        return_dict=False,
        enable_thinking=False,
    )
    ex = chat(tok, messages)
    assert ex.input_ids[: ex.first_target] == prompt
    assert spans(tok, ex) == [template_reply(tok, messages)]
    pref = encode(
        tok,
        Parsed(
            "preference",
            {
                "input": {"messages": messages[:-1]},
                "preferred_output": [{"role": "assistant", "content": "Meow."}],
                "non_preferred_output": [messages[-1]],
            },
        ),
    )
    assert isinstance(pref, PreferenceExample)
    assert pref.prompt_ids == prompt
    assert tok.decode(pref.rejected_ids) == template_reply(tok, messages)
