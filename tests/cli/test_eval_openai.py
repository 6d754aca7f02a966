"""`fttui eval` against OpenAI: the real `fttui` process and the test double made of
OpenAI's published example responses (tests/openai_fixture_server.py).

The legacy guide's loop on OpenAI: the succeeded job's fine-tuned davinci-002 model
against davinci-002 on a prompt/completion file (asked on `/v1/completions`, several
prompts a request), and a chat model on a chat classification file (asked on
`/v1/chat/completions` with logprobs). The double answers every question with the
published example, so the figures checked are the ones those published answers give:
what matters here is that the cost is said and confirmed before anything is asked,
that each model is asked where OpenAI serves it, never shown the reference answer,
and that the report is kept and shown again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import fttui
from tests.conftest import OpenAIFixture

TUNED = "ft:davinci-002:my-org:custom_suffix:7q8mpxmy"  # ftjob-succeeded's, published
# The published completions example answers "Say this is a test" with this text.
PUBLISHED_COMPLETION = "This is indeed a test"


@pytest.fixture
def profile(openai_fixture: OpenAIFixture, tmp_path: Path, monkeypatch: Any) -> OpenAIFixture:
    """A profile saying the backend is OpenAI (as `--profile openai` does)."""
    (tmp_path / "config.toml").write_text(
        f'[profiles.fixture]\nbase_url = "{openai_fixture.base_url}"\nkind = "openai"\n'
        'api_key = "sk-fixture"\n'
    )
    monkeypatch.setenv("FTTUI_CONFIG_DIR", str(tmp_path))
    monkeypatch.setenv("FTTUI_DATA_DIR", str(tmp_path / "client"))
    return openai_fixture


def _asked(fixture: OpenAIFixture, kind: str) -> list[dict[str, Any]]:
    return [body for k, body in fixture.account.bodies if k == kind]


def test_eval_of_a_fine_tune_against_its_base_on_openai(
    profile: OpenAIFixture, tmp_path: Path
) -> None:
    sep, stop = "\n\n###\n\n", "\n"
    rows = [("Say this is a test", PUBLISHED_COMPLETION)] * 3 + [
        ("Say something else", "Something else"),
        ("Count to three", "one two three"),
    ]
    valid = tmp_path / "valid.jsonl"
    valid.write_text(
        "".join(
            json.dumps({"prompt": p + sep, "completion": f" {c}{stop}"}) + "\n" for p, c in rows
        )
    )
    args = ("eval", TUNED, "--file", str(valid), "--against", "davinci-002", "--profile", "fixture")

    # The cost is said first; answered "n", nothing is asked.
    refused = fttui(*args, stdin="n\n")
    assert refused.code == 130, refused.err
    assert "Evaluating 5 examples with 2 model(s) on OpenAI" in refused.err
    assert "cost $" in refused.err
    assert _asked(profile, "completions") == []

    ran = fttui(*args, "--json", stdin="y\n")
    assert ran.code == 0, ran.err
    report = ran.json()
    assert report["task"] == "generation"
    assert [r["model"] for r in report["runs"]] == ["davinci-002", TUNED]
    for run in report["runs"]:
        # Every answer is the published one: right for the three "Say this is a test".
        assert run["answers"] == ["\n\nThis is indeed a test"] * 5
        assert run["metrics"]["exact_match"] == pytest.approx(3 / 5)
        # The published usage (5 prompt, 7 completion tokens) once per prompt.
        assert run["usage"] == {"prompt_tokens": 25, "completion_tokens": 35}
        assert run["backend"] == profile.base_url

    asked = _asked(profile, "completions")
    assert sorted(b["model"] for b in asked) == ["davinci-002", TUNED]  # one request each
    for body in asked:
        assert body["prompt"] == [p + sep for p, _ in rows]  # the prompts, not the answers
        assert body["temperature"] == 0 and body["stop"] == [stop]
    assert not [r for r in profile.account.requests if "chat" in r[1]]

    shown = fttui("eval", TUNED, "--last", "--profile", "fixture")
    assert shown.code == 0, shown.err
    assert "exact_match" in shown.out and "davinci-002" in shown.out


def test_eval_of_a_chat_classifier_on_openai(profile: OpenAIFixture, tmp_path: Path) -> None:
    """Chat models are asked on chat completions, one conversation a request, with the
    first token's top logprobs (binary classes: AUROC/AUPRC need them)."""
    labels = ["Hello", "Hello", "Hi", "Hello", "Hi", "Hello"]
    valid = tmp_path / "greetings.jsonl"
    valid.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "system", "content": "Greet back in one word."},
                        {"role": "user", "content": f"Greeting number {i}"},
                        {"role": "assistant", "content": label},
                    ]
                }
            )
            + "\n"
            for i, label in enumerate(labels)
        )
    )
    ran = fttui(
        "eval", "gpt-4o-mini", "--file", str(valid), "--yes", "--concurrency", "2",
        "--profile", "fixture", "--json",
    )  # fmt: skip
    assert ran.code == 0, ran.err
    report = ran.json()
    assert report["task"] == "classification"
    (run,) = report["runs"]
    metrics = run["metrics"]
    # The published answer "Hello! How can I assist you today?" starts with a class.
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    assert metrics["per_class"]["Hello"]["recall"] == 1.0
    assert metrics["per_class"]["Hi"]["recall"] == 0.0
    assert metrics["confusion"]["matrix"] == [[4, 0], [2, 0]]
    assert "auroc" in metrics

    asked = _asked(profile, "chat")
    assert len(asked) == len(labels)
    for i, body in enumerate(sorted(asked, key=lambda b: b["messages"][1]["content"])):
        assert body["model"] == "gpt-4o-mini"
        # The conversation without its reference answer.
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
        assert body["messages"][1]["content"] == f"Greeting number {i}"
        assert body["logprobs"] is True and body["top_logprobs"] == 5
        assert body["temperature"] == 0
    assert not [r for r in profile.account.requests if r[1].endswith("/v1/completions")]
