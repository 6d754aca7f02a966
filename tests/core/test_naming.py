"""Fine-tuned model names as OpenAI's legacy fine-tuning guide forms them."""

from __future__ import annotations

from datetime import UTC, datetime

from fttui.core.naming import fine_tuned_model_name

WHEN = datetime(2022, 2, 15, 4, 21, 4, tzinfo=UTC)


def test_the_legacy_guides_example() -> None:
    name = fine_tuned_model_name("ada", "org-your-org", "custom model name", WHEN)
    assert name == "ada:ft-your-org:custom-model-name-2022-02-15-04-21-04"


def test_an_org_a_name_cannot_hold_is_made_one_word() -> None:
    # The TUI's preview for a remote backend whose organisation is not known.
    assert fine_tuned_model_name("curie", "default org", None, WHEN) == (
        "curie:ft-default-org:2022-02-15-04-21-04"
    )
    assert fine_tuned_model_name("curie", "org-a:b", "x", WHEN).startswith("curie:ft-a-b:x-")
    assert fine_tuned_model_name("curie", "org-", None, WHEN).startswith("curie:ft-local:")
    # a fine-tuned model trained further keeps its base
    again = fine_tuned_model_name("curie:ft-local:x-2022-01-01-00-00-00", "org-local", "y", WHEN)
    assert again == "curie:ft-local:y-2022-02-15-04-21-04"
