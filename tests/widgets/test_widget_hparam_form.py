"""HyperparamForm: each bad value gets a message next to its field; live suffix
counter and model-name preview; pre-fill; values(); server errors verbatim."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Checkbox, Input, Label, Select, Static
from widget_host import Host

from widgets import HyperparamForm

WHEN = datetime(2024, 2, 15, 4, 21, 4, tzinfo=UTC)


def host() -> Host:
    def make() -> list:
        scroll = VerticalScroll()
        scroll.compose_add_child(HyperparamForm(preview_time=WHEN))
        return [scroll]

    return Host(make)


async def ready(app: Host) -> HyperparamForm:
    form = app.query_one(HyperparamForm)
    form.set_models(["babbage-002", "davinci-002"])
    form.set_files([("train.jsonl (file-a)", "file-a"), ("valid.jsonl (file-b)", "file-b")])
    return form


def error_of(form: HyperparamForm, field: str) -> str:
    label = form.query_one(f"#{field}-error", Label)
    return str(label.content) if label.display and label.has_class("-shown") else ""


def fill(form: HyperparamForm, **values: str) -> None:
    for name, value in values.items():
        form.query_one(f"#{name}", Input).value = value


BAD_VALUES = [
    ("n_epochs", "0", "n_epochs must be in [1, 50]"),
    ("n_epochs", "2.5", "n_epochs must be an integer"),
    ("n_epochs", "many", "n_epochs must be an integer or 'auto', got 'many'"),
    ("batch_size", "300", "batch_size must be in [1, 256]"),
    ("learning_rate_multiplier", "0", "learning_rate_multiplier must be in (0, 10]"),
    ("learning_rate_multiplier", "fast", "learning_rate_multiplier must be a number"),
    ("suffix", "x" * 41, "at most 40 are allowed"),
    ("suffix", "my/model", "found '/'"),
    ("seed", "abc", "seed must be a whole number"),
    ("seed", "-1", "seed must be in [0,"),
]


@pytest.mark.parametrize(("field", "value", "expected"), BAD_VALUES)
async def test_each_bad_value_gets_a_message_next_to_its_field(
    field: str, value: str, expected: str
) -> None:
    app = host()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await ready(app)
        form.query_one("#model", Select).value = "babbage-002"
        form.query_one("#training_file", Select).value = "file-a"
        fill(form, **{field: value})
        await pilot.pause()
        # Shown live while typing, and reported by validate().
        assert expected in error_of(form, field)
        errors = form.validate()
        assert set(errors) == {field}
        assert expected in errors[field]
        # "Next to": the message is drawn right under its input, in the same column.
        label = form.query_one(f"#{field}-error", Label)
        control = form.query_one(f"#{field}")
        gap = label.region.y - control.region.bottom
        assert gap == 0, (label.region, control.region)
        assert label.region.x == control.region.x
        # Fixing the value removes the message.
        fill(form, **{field: ""})
        await pilot.pause()
        assert error_of(form, field) == ""
        assert form.validate() == {}


async def test_missing_choices_and_classification_rules() -> None:
    app = host()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await ready(app)
        errors = form.validate()
        assert errors == {"model": "choose a model", "training_file": "choose a training file"}
        assert error_of(form, "model") == "choose a model"

        form.query_one("#model", Select).value = "babbage-002"
        form.query_one("#training_file", Select).value = "file-a"
        form.query_one("#compute_classification_metrics", Checkbox).value = True
        fill(form, classification_n_classes="1", classification_betas="1, -2")
        await pilot.pause()
        errors = form.validate()
        assert "needs a validation file" in errors["compute_classification_metrics"] or (
            "need a validation file" in errors["compute_classification_metrics"]
        )
        assert "at least 2" in errors["classification_n_classes"]
        assert errors["classification_betas"] == "beta 2 ('-2') must be a positive number"

        form.query_one("#validation_file", Select).value = "file-b"
        fill(form, classification_n_classes="2", classification_betas="0.5, 1")
        await pilot.pause()
        errors = form.validate()
        assert list(errors) == ["classification_positive_class"]
        fill(form, classification_positive_class=" positive")
        await pilot.pause()
        assert form.validate() == {}
        values = form.values()
        assert values["extra"] == {
            "compute_classification_metrics": True,
            "classification_n_classes": 2,
            "classification_positive_class": " positive",
            "classification_betas": [0.5, 1.0],
        }

        # A DPO or reinforcement job has no classification metrics (the server would
        # refuse them): said under the box before anything is sent.
        for method in ("dpo", "reinforcement"):
            form.query_one("#method_type", Select).value = method
            await pilot.pause()
            assert form.validate()["compute_classification_metrics"] == (
                "classification metrics apply to supervised jobs only: untick them"
            ), method
        form.query_one("#method_type", Select).value = "supervised"
        await pilot.pause()
        # Validation file equal to the training file is refused.
        form.query_one("#validation_file", Select).value = "file-a"
        await pilot.pause()
        assert "differ" in form.validate()["validation_file"]


async def test_suffix_counter_and_model_name_preview_update_live() -> None:
    app = host()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await ready(app)
        form.org = "org-acme"
        form.query_one("#model", Select).value = "davinci-002"
        suffix = form.query_one("#suffix", Input)
        suffix.focus()
        await pilot.press(*"Custom model")
        await pilot.pause()
        counter = form.query_one("#suffix-counter", Label)
        preview = form.query_one("#model-preview", Label)
        assert str(counter.content) == "12/40"
        assert str(preview.content) == "→ davinci-002:ft-acme:custom-model-2024-02-15-04-21-04"
        suffix.value = "y" * 41
        await pilot.pause()
        assert str(counter.content) == "41/40" and counter.has_class("-over")
        form.query_one("#model", Select).value = "babbage-002"
        suffix.value = ""
        await pilot.pause()
        assert str(preview.content) == "→ babbage-002:ft-acme:2024-02-15-04-21-04"


async def test_values_turn_blank_and_auto_into_auto_and_numbers_into_numbers() -> None:
    app = host()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await ready(app)
        form.query_one("#model", Select).value = "babbage-002"
        form.query_one("#training_file", Select).value = "file-a"
        fill(
            form,
            n_epochs="3",
            batch_size="auto",
            learning_rate_multiplier="",
            seed="42",
            suffix="s1",
        )
        form.query_one("#method", Select).value = "lora"
        await pilot.pause()
        assert form.validate() == {}
        assert form.values() == {
            "model": "babbage-002",
            "training_file": "file-a",
            "validation_file": None,
            "method_type": "supervised",
            "hyperparameters": {
                "n_epochs": 3,
                "batch_size": "auto",
                "learning_rate_multiplier": "auto",
            },
            "suffix": "s1",
            "seed": 42,
            "method": "lora",
            "extra": {},
        }


async def test_load_prefills_every_field_even_unlisted_models() -> None:
    app = host()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await ready(app)
        values = {
            "model": "babbage-002:ft-acme:old-2024-01-01-00-00-00",
            "training_file": "file-a",
            "validation_file": "file-b",
            "method_type": "supervised",
            "hyperparameters": {
                "n_epochs": 2,
                "batch_size": "auto",
                "learning_rate_multiplier": 0.1,
            },
            "suffix": "again",
            "seed": 7,
            "method": "full",
            "extra": {
                "compute_classification_metrics": True,
                "classification_n_classes": 3,
                "classification_betas": [1.0, 2.0],
            },
        }
        form.load(values)
        await pilot.pause()
        assert form.validate() == {}
        assert form.values() == values
        assert form.query_one("#classification-options").has_class("-shown")
        assert "old-2024" not in str(form.query_one("#model-preview", Label).content)
        assert str(form.query_one("#model-preview", Label).content).startswith(
            "→ babbage-002:ft-local:again-"
        )
        # Loading a job without validation file or classification clears both.
        plain = {
            **values,
            "validation_file": None,
            "suffix": None,
            "seed": None,
            "extra": {},
        }
        form.load(plain)
        await pilot.pause()
        assert form.values() == plain
        assert not form.query_one("#classification-options").has_class("-shown")


async def test_server_error_is_shown_verbatim_on_top() -> None:
    app = host()
    async with app.run_test(size=(80, 24)) as pilot:
        form = await ready(app)
        message = "Invalid file [file-a]: status is 'error' (line 3: not JSON)"
        form.show_server_error(message)
        await pilot.pause()
        box = form.query_one("#server-error", Static)
        assert box.has_class("-shown") and str(box.content) == message
        assert box.region.y <= form.query_one("#model").region.y
        form.clear_server_error()
        await pilot.pause()
        assert not box.has_class("-shown")
