"""The upload dialog on the local server shows, under the check report, what the model
will be trained on: the first examples rendered by the model's own chat template with
the trained tokens marked and counted (as `fttui prepare --show-trained` does)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ServerProcess, free_port, register_tiny_model
from rich.console import Group
from rich.text import Text
from textual.widgets import Button, Input, Static
from transformers import AutoTokenizer

from fttui.core.models import DEFAULT_MODEL
from fttui.data.preview import TRAINED_STYLE
from fttui.screens.upload import UploadScreen

from .conftest import make_app, wait_for

pytestmark = pytest.mark.slow

CHAT = {
    "messages": [
        {"role": "system", "content": "Answer with a city."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris"},
    ]
}


async def test_the_upload_check_shows_the_trained_tokens_of_the_first_examples(
    tmp_path: Path, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    # The local server's default model, pointed at the tiny model's directory; the
    # app and the server share the data directory (as they do by default).
    register_tiny_model(data, tiny_model_dir, DEFAULT_MODEL)
    monkeypatch.setenv("FTTUI_DATA_DIR", str(data))
    path = tmp_path / "chat.jsonl"
    path.write_text((json.dumps(CHAT) + "\n") * 3)
    srv = ServerProcess(data_dir=data, port=free_port())
    srv.start()
    try:
        app = make_app(srv, frozen=False)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("u")
            await wait_for(pilot, lambda: isinstance(app.screen, UploadScreen), what="dialog")
            upload = app.screen
            upload.query_one("#upload-path", Input).value = str(path)
            await pilot.press("enter")
            go = upload.query_one("#upload-go", Button)
            await wait_for(pilot, lambda: not go.disabled, timeout=60, what="check report")
            shown = upload.query_one("#upload-report", Static).content
            assert isinstance(shown, Group)
            preview = shown.renderables[-1]
            assert isinstance(preview, Text)
            text = preview.plain
            assert f"What {DEFAULT_MODEL} is trained on" in text
            trained = [
                preview.plain[s.start : s.end] for s in preview.spans if s.style == TRAINED_STYLE
            ]
            # the legend, then each example's reply and its end of turn: nothing else
            assert trained[1:] == ["Paris<|im_end|>\n", "Paris<|im_end|>\n"], trained
            assert "Capital of France?" in text  # the context is shown, untrained
            tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
            n_trained = len(tok("Paris<|im_end|>\n", add_special_tokens=False)["input_ids"])
            assert text.count(f"tokens, {n_trained} trained") == 2  # the first two lines
    finally:
        srv.stop()
