"""Money before create against OpenAI: the cost shown is tokens x epochs x price.

The price comes from fttui's table (fttui/core/openai_prices.json, dated, sources
named) or the config's [prices]; the tokens are the training file's, counted with
the chosen model's tokenizer (o200k_base for gpt-4o-mini, as OpenAI counts them).
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from conftest import OpenAIFixture
from textual.widgets import Input, Select, Static

from fttui.core.prices import price_table, usd
from fttui.data import check_file
from fttui.screens.upload import UploadScreen

from .conftest import wait_for
from .test_app_flow import shown as drawn
from .test_openai_backend import _form, fixture_app

MODEL = "gpt-4o-mini-2024-07-18"


def _chat_file(tmp_path: Path) -> Path:
    lines = [
        {"messages": [{"role": "system", "content": "You answer briefly."},
                      {"role": "user", "content": f"What is {i} plus {i}?"},
                      {"role": "assistant", "content": f"{2 * i}."}]}
        for i in range(40)
    ]  # fmt: skip
    path = tmp_path / "chat.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def _tokens(path: Path) -> int:
    return check_file(path, model=MODEL, n_epochs=1).tokens_per_epoch


async def test_the_form_shows_tokens_times_epochs_times_price(
    openai_fixture: OpenAIFixture, tmp_path: Path
) -> None:
    path = _chat_file(tmp_path)
    with httpx.Client(base_url=openai_fixture.base_url) as http:
        file_id = http.post(
            "/files", files={"file": path.open("rb")}, data={"purpose": "fine-tune"}
        ).json()["id"]
    tokens = _tokens(path)
    price = price_table()["per_million_training_tokens"][MODEL]
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(160, 48)) as pilot:
        form = await _form(pilot, app)
        form.query_one("#model", Select).value = MODEL
        form.query_one("#training_file", Select).value = file_id
        form.query_one("#n_epochs", Input).value = "3"
        expected = usd(tokens * 3 * price / 1_000_000)
        await wait_for(
            pilot,
            lambda: form.cost_text.startswith(f"Cost ≈ {expected}: {tokens:,} tokens × 3 epochs"),
            what=lambda: f"{expected} in {form.cost_text!r}",
        )
        assert f"${price:,.2f} per 1M training tokens" in form.cost_text
        # A price from the config wins over the table.
        app.backend.prices = {MODEL: 10.0}
        form.query_one("#n_epochs", Input).value = "2"
        again = usd(tokens * 2 * 10.0 / 1_000_000)
        await wait_for(pilot, lambda: form.cost_text.startswith(f"Cost ≈ {again}:"), what=again)
        assert "config.toml [prices]" in form.cost_text
        # Reinforcement is billed by time: the rate, said as such, no invented figure.
        form.query_one("#model", Select).value = "o4-mini"
        form.query_one("#method_type", Select).value = "reinforcement"
        await wait_for(pilot, lambda: "billed by training time" in form.cost_text)
        assert "$100.00 per hour" in form.cost_text


async def test_the_upload_check_counts_a_chat_file_for_a_chat_model(
    openai_fixture: OpenAIFixture, tmp_path: Path
) -> None:
    path = _chat_file(tmp_path)
    tokens = _tokens(path)
    price = price_table()["per_million_training_tokens"][MODEL]
    app = fixture_app(openai_fixture)
    async with app.run_test(size=(160, 48)) as pilot:
        await app.client.detect()
        screen = UploadScreen(app.client, str(path))
        await app.push_screen(screen)
        await pilot.pause()
        screen.check()
        await wait_for(pilot, lambda: screen.report is not None, timeout=30, what="report")
        assert screen.report.model == MODEL  # not davinci-002 for a chat file
        report = screen.query_one("#upload-report", Static)
        expected = usd(tokens * screen.report.n_epochs * price / 1_000_000)
        await pilot.pause(0.2)
        shown = drawn(report)
        assert (
            f"Cost ≈ {expected}: {tokens:,} tokens × {screen.report.n_epochs} epochs"
            in " ".join(shown.split())
        ), shown
