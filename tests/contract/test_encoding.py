"""How the trainer (and the validation that runs its code) reads each format with a real
tokenizer: developer and tool turns, tool calls, weights, empty prompts, preference
pairs, and a model without a chat template."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fttui.data import check_file
from fttui.train.data import (
    IGNORE,
    DataError,
    PreferenceExample,
    check_job_files,
    load_examples,
)


@pytest.fixture(scope="module")
def tok(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def write(tmp_path: Path, rows: list[Any], name: str = "data.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def trained(tok: Any, ex: Any) -> str:
    return str(tok.decode([t for t in ex.labels if t != IGNORE]))


def test_developer_tool_calls_and_weights(tok: Any, tmp_path: Path) -> None:
    row = {
        "messages": [
            {"role": "developer", "content": "use tools"},
            {"role": "user", "content": "cat?"},
            {"role": "assistant", "content": "wrong", "weight": 0},
            {"role": "user", "content": "again"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "sound_of", "arguments": '{"animal": "cat"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "meow"},
            {"role": "assistant", "content": "it says meow"},
        ]
    }
    (ex,) = load_examples(write(tmp_path, [row]), tok, 512)
    text = tok.decode(ex.input_ids)
    # The tiny ChatML template does not name `developer`: it becomes the system turn.
    assert text.startswith("<|im_start|>system\nuse tools<|im_end|>")
    # It renders tool calls (as Qwen does): the call is the template's own rendering.
    call = '<tool_call>\n{"name": "sound_of", "arguments": {"animal": "cat"}}\n</tool_call>'
    assert call in text and "<tool_response>\nmeow\n</tool_response>" in text
    learned = trained(tok, ex)
    assert "wrong" not in learned  # weight 0: in the context, not trained
    assert call in learned and "it says meow" in learned
    assert "<tool_response>" not in learned  # the tool's reply is context


def test_a_template_without_tool_calls_refuses_them_naming_the_limit(
    tok: Any, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    plain = AutoTokenizer.from_pretrained(tok.name_or_path)
    plain.chat_template = (
        "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] "
        "+ '<|im_end|>\\n' }}{% endfor %}"
    )
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    row = {
        "messages": [
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
        ]
    }
    with pytest.raises(DataError, match=r"line 1: messages\[1\] has tool calls, and this model's"):
        load_examples(write(tmp_path, [row]), plain, 64)
    tools = {"type": "function", "function": {"name": "f"}}
    chat = {"messages": [{"role": "user", "content": "go"}, {"role": "assistant", "content": "ok"}]}
    with pytest.raises(DataError, match="cannot render tool definitions"):
        load_examples(write(tmp_path, [{**chat, "tools": [tools]}]), plain, 64)


def test_empty_prompt_starts_from_bos_so_every_completion_token_is_trained(
    tok: Any, tmp_path: Path
) -> None:
    (ex,) = load_examples(write(tmp_path, [{"prompt": "", "completion": " meow END"}]), tok, 64)
    assert ex.input_ids[0] == tok.bos_token_id and ex.labels[0] == IGNORE
    assert trained(tok, ex) == " meow END"


def test_preference_pairs_share_the_rendered_input(tok: Any, tmp_path: Path) -> None:
    row = {
        "input": {"messages": [{"role": "user", "content": "what does a cat say?"}]},
        "preferred_output": [{"role": "assistant", "content": "meow"}],
        "non_preferred_output": [{"role": "assistant", "content": "woof woof"}],
    }
    (ex,) = load_examples(write(tmp_path, [row]), tok, 256, method="dpo")
    assert isinstance(ex, PreferenceExample)
    assert tok.decode(ex.prompt_ids).endswith("<|im_start|>assistant\n")
    assert tok.decode(ex.chosen_ids) == "meow<|im_end|>\n"
    assert tok.decode(ex.rejected_ids) == "woof woof<|im_end|>\n"
    assert ex.n_tokens == len(ex.prompt_ids) + len(ex.rejected_ids)
    # A supervised job cannot train it, and says which method can.
    with pytest.raises(DataError, match="create a dpo job") as err:
        load_examples(write(tmp_path, [row]), tok, 256)
    assert err.value.code == "method_mismatch"


def test_a_model_without_chat_template_trains_prompt_completion_only(
    tok: Any, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer

    bare = AutoTokenizer.from_pretrained(tok.name_or_path)
    bare.chat_template = None
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    with pytest.raises(DataError, match="line 1: this model's tokenizer has no chat template"):
        load_examples(write(tmp_path, [chat]), bare, 64)
    assert load_examples(write(tmp_path, [{"prompt": "a", "completion": " b"}]), bare, 64)


def test_errors_name_every_bad_line_and_the_file(tok: Any, tmp_path: Path) -> None:
    rows: list[Any] = [
        {"prompt": "ok", "completion": " fine"},
        {"prompt": "long " * 80, "completion": " x"},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
    ]
    valid = write(tmp_path, [{"prompt": "ok", "completion": " fine"}], "valid.jsonl")
    with pytest.raises(DataError) as err:
        check_job_files(write(tmp_path, rows), valid, tok, 64)
    message = str(err.value)
    assert message.startswith("training_file has invalid examples: line 3: this example is in chat")
    assert "limit of 64 tokens (prompt + completion) on lines 2 (" in message
    # The training file is fine alone; the validation file repeats one of its examples.
    with pytest.raises(DataError, match=r"validation_file: 1 examples also appear .* \(lines 1\)"):
        check_job_files(write(tmp_path, rows[:1]), valid, tok, 64)


def test_prepare_reports_preference_token_counts_and_problems(write_jsonl: Any) -> None:
    def pair(i: int, chosen: str = "meow", rejected: str = "woof") -> dict[str, Any]:
        return {
            "input": {"messages": [{"role": "user", "content": f"what does cat {i} say?"}]},
            "preferred_output": [{"role": "assistant", "content": chosen}],
            "non_preferred_output": [{"role": "assistant", "content": rejected}],
        }

    rows: list[Any] = [pair(i) for i in range(4)]
    rows.append(pair(1))  # 5: a duplicate
    rows.append(pair(5, rejected="meow"))  # 6: identical outputs
    rows.append({**pair(6), "preferred_output": []})  # 7: no preferred message
    rows.append(pair(7, chosen="meow " * 3000))  # 8: too long for davinci
    report = check_file(write_jsonl(rows), model="davinci", method="dpo")
    by_code = {i.code: i for i in report.issues}
    assert by_code["identical_outputs"].lines == [6]
    assert by_code["invalid_output"].lines == [7]
    assert by_code["duplicates"].lines == [5] and by_code["too_long"].lines == [8]
    stats = report.training
    assert (stats.format, stats.task, stats.n_examples) == ("preference", "preference", 6)
    assert stats.prompt_tokens > 0 and stats.preferred_tokens > stats.non_preferred_tokens
    assert stats.total_tokens == (
        stats.prompt_tokens + stats.preferred_tokens + stats.non_preferred_tokens
    )
    wrong = check_file(write_jsonl(rows[:4]), model="davinci", method="supervised")
    assert wrong.issue("method_mismatch") is not None and wrong.exit_code == 2
    # Validation pairs must not repeat training pairs; the human report shows the counts.
    valid = write_jsonl([pair(9), pair(2)], "valid.jsonl")
    split = check_file(write_jsonl(rows[:4]), validation=valid, model="davinci", method="dpo")
    assert split.issue("train_valid_overlap", "validation").lines == [2]  # type: ignore[union-attr]
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(report.to_rich())
    assert "preference tokens: inputs" in console.export_text()
