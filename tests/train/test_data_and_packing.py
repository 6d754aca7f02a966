"""Loss masking for both formats, bad lines named by number, and packed batches that
give exactly the loss of unpacked examples (no cross-talk, no padding)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from fttui.train.data import IGNORE, DataError, load_examples
from fttui.train.engine import _forward, batch_schedule, pack
from fttui.train.models import load_for_training


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> tuple[Any, Any]:
    return load_for_training(str(tiny_model_dir), torch.device("cpu"))


def _write(tmp_path: Path, rows: list[Any]) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def _trained_text(tokenizer: Any, ex: Any) -> str:
    return str(tokenizer.decode([lab for lab in ex.labels if lab != IGNORE]))


def test_legacy_format_trains_on_the_completion_only(tiny: tuple[Any, Any], tmp_path: Path) -> None:
    _, tok = tiny
    path = _write(tmp_path, [{"prompt": "cat says\n\n###\n\n", "completion": " meow END"}])
    (ex,) = load_examples(path, tok, 256)
    assert _trained_text(tok, ex) == " meow END"
    assert tok.decode(ex.input_ids) == "cat says\n\n###\n\n meow END"


def test_chat_format_trains_on_assistant_turns_only(tiny: tuple[Any, Any], tmp_path: Path) -> None:
    _, tok = tiny
    messages = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "yes"},
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "no no"},
    ]
    (ex,) = load_examples(_write(tmp_path, [{"messages": messages}]), tok, 256)
    assert _trained_text(tok, ex) == "yes<|im_end|>\nno no<|im_end|>\n"
    assert ex.completion == "no no"


def test_bad_lines_are_reported_by_number(tiny: tuple[Any, Any], tmp_path: Path) -> None:
    _, tok = tiny
    rows: list[Any] = [
        {"prompt": "a", "completion": " b"},
        "{not json",
        {"prompt": "a"},
        {"messages": [{"role": "system", "content": "no answer"}]},  # (user-last: RFT)
    ]
    with pytest.raises(DataError) as err:
        load_examples(_write(tmp_path, rows), tok, 256)
    message = str(err.value)
    assert "line 2:" in message and "line 3:" in message and "line 4: no assistant" in message
    assert "line 2: not valid JSON" in message and "line 1" not in message


def test_packed_batch_loss_equals_separate_losses(tiny: tuple[Any, Any], tmp_path: Path) -> None:
    model, tok = tiny
    rows = [
        {"prompt": "cat says\n\n###\n\n", "completion": " meow END"},
        {"prompt": "what colour is the sky?\n\n###\n\n", "completion": " blue END"},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yes"}]},
    ]
    # One format per file (the data contract): load the chat example on its own.
    (tmp_path / "chat").mkdir()
    examples = load_examples(_write(tmp_path, rows[:2]), tok, 256)
    examples += load_examples(_write(tmp_path / "chat", rows[2:]), tok, 256)
    cpu = torch.device("cpu")
    with torch.no_grad():
        packed = pack(examples, cpu)
        together = F.cross_entropy(_forward(model, packed), packed.targets, reduction="sum")
        apart = sum(
            F.cross_entropy(_forward(model, p), p.targets, reduction="sum")
            for p in (pack([ex], cpu) for ex in examples)
        )
    assert packed.n_tokens == sum(ex.n_tokens for ex in examples)  # no padding at all
    assert float(together) == pytest.approx(float(apart), rel=1e-4)


def test_every_step_has_a_full_batch_and_every_example_is_seen_each_epoch() -> None:
    batches = batch_schedule(n_examples=10, n_epochs=3, batch_size=4, seed=1)
    assert [len(b) for b in batches] == [4] * 7 + [2]
    stream = [i for b in batches for i in b]
    assert all(sorted(stream[k * 10 : (k + 1) * 10]) == list(range(10)) for k in range(3))
