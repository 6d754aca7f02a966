"""`POST /v1/responses` as the official `openai` SDK calls it (`client.responses.create`).

The subset OpenAI's own scripts use to call a fine-tune (its cookbook's DPO guide reads
`response.output_text` of a system + user message list): the same text as chat
completions at temperature 0, streamed or not, OpenAI's typed stream events, and a 400
naming whatever the local server does not do. The tests' tiny model (random weights).
"""

from __future__ import annotations

import asyncio

import openai
import pytest

from .conftest import MODEL


def test_a_response_says_what_chat_completions_say(sdk: openai.OpenAI) -> None:
    messages = [
        {"role": "system", "content": "You are a customer-support assistant."},
        {"role": "user", "content": "When will my gadget arrive?"},
    ]
    chat = sdk.chat.completions.create(
        model=MODEL,
        messages=messages,
        max_tokens=12,
        temperature=0,  # type: ignore[arg-type]
    )
    resp = sdk.responses.create(
        model=MODEL,
        input=messages,
        max_output_tokens=12,
        temperature=0,  # type: ignore[arg-type]
    )
    assert resp.object == "response" and resp.model == MODEL
    assert resp.output_text == chat.choices[0].message.content
    assert resp.usage is not None
    assert resp.usage.input_tokens == chat.usage.prompt_tokens  # type: ignore[union-attr]
    assert resp.usage.output_tokens == chat.usage.completion_tokens  # type: ignore[union-attr]
    if chat.choices[0].finish_reason == "length":
        assert resp.status == "incomplete"
        assert resp.incomplete_details is not None
        assert resp.incomplete_details.reason == "max_output_tokens"
    else:
        assert resp.status == "completed"
    assert resp.store is False  # nothing kept: said, not pretended
    # `instructions` is the system message; a text input is one user message
    by_instructions = sdk.responses.create(
        model=MODEL,
        instructions="You are a customer-support assistant.",
        input="When will my gadget arrive?",
        max_output_tokens=12,
        temperature=0,
        store=False,
    )
    assert by_instructions.output_text == resp.output_text
    assert by_instructions.instructions == "You are a customer-support assistant."


def test_a_streamed_response_sends_openai_events_and_the_same_text(sdk: openai.OpenAI) -> None:
    whole = sdk.responses.create(model=MODEL, input="hi there", max_output_tokens=10, temperature=0)
    events = list(
        sdk.responses.create(
            model=MODEL, input="hi there", max_output_tokens=10, temperature=0, stream=True
        )
    )
    kinds = [e.type for e in events]
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    assert [e.sequence_number for e in events] == list(range(len(events)))
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == whole.output_text
    final = events[-1].response  # type: ignore[union-attr]
    assert final.output_text == whole.output_text and final.status == whole.status


def test_the_async_client_as_the_dpo_guide_uses_it(tiny: object, sdk: openai.OpenAI) -> None:
    """Concurrent `AsyncOpenAI().responses.create` calls, as the DPO guide generates pairs."""

    async def run() -> list[str]:
        async with openai.AsyncOpenAI(base_url=str(sdk.base_url), api_key="local") as client:
            calls = [
                client.responses.create(
                    model=MODEL,
                    input=[{"role": "user", "content": f"question {i}"}],
                    temperature=0.7,
                    max_output_tokens=8,
                )
                for i in range(3)
            ]
            return [r.output_text for r in await asyncio.gather(*calls)]

    texts = asyncio.run(run())
    assert len(texts) == 3 and all(isinstance(t, str) for t in texts)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"store": True}, "store"),
        ({"previous_response_id": "resp_123"}, "previous_response_id"),
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"input": [{"type": "function_call_output", "call_id": "x"}]}, "input[0].type"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_image"}]}]},
            "input[0].content[0]",
        ),
        ({"max_output_tokens": 0}, "max_output_tokens"),
        ({"text": {"format": {"type": "json_object"}}}, "text.format"),
        ({"frobnicate": 1}, "frobnicate"),
    ],
)
def test_what_is_not_supported_is_a_400_naming_it(
    sdk: openai.OpenAI, extra: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.responses.create(model=MODEL, input="hi", extra_body=extra)
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == param, error
    assert "Traceback" not in error["message"]


def test_a_response_is_not_kept(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        sdk.responses.retrieve("resp_123")
    assert "keeps no responses" in str(caught.value)
