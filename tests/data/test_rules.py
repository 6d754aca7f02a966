"""Each rule of the checker, on a small file that breaks it: the exact lines reported."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from fttui.data import check_file
from fttui.data.encodings import get_encoding
from tests.data.conftest import WriteJsonl, classification_rows

SEP = "\n\n###\n\n"


def pc(prompt: str, completion: str) -> dict[str, str]:
    return {"prompt": prompt, "completion": completion}


def lines_of(report, code: str, file: str = "training") -> list[int]:  # type: ignore[no-untyped-def]
    issue = report.issue(code, file)
    assert issue is not None, f"{code} not reported; got {[i.code for i in report.issues]}"
    return issue.lines


def generation_rows(n: int) -> list[dict[str, str]]:
    # Varied starts: a text every prompt (or completion) begins with is reported too.
    verbs = ("Rewrite", "Soften", "Rephrase", "Polish")
    return [
        pc(
            f"{verbs[i % 4]} sentence number {i} politely{SEP}",
            f" {verbs[i % 3]}d {i}, please. END",
        )
        for i in range(n)
    ]


def test_file_following_the_seed_passes_clean(write_jsonl: WriteJsonl) -> None:
    report = check_file(write_jsonl(classification_rows()), model="davinci")
    assert [i.code for i in report.errors + report.warnings] == []
    assert report.exit_code == 0
    assert (report.format, report.task, report.n_examples) == (
        "prompt_completion",
        "classification",
        200,
    )
    assert (report.training.separator, report.training.stop_sequence) == (SEP, "\n")
    assert report.training.classes == {" yes": 100, " no": 100}


def test_chat_file_following_the_advice_passes_clean(write_jsonl: WriteJsonl) -> None:
    rows = [
        {
            "messages": [
                {"role": "system", "content": "You rewrite sentences."},
                {"role": "user", "content": f"Rewrite sentence {i}"},
                {"role": "assistant", "content": f"Here is sentence {i}, rewritten."},
            ]
        }
        for i in range(500)
    ]
    report = check_file(write_jsonl(rows), model="gpt-4o-mini")
    assert report.exit_code == 0, [i.message for i in report.issues]
    assert (report.format, report.task) == ("chat", "chat")


def test_format_errors_with_line_numbers(write_jsonl: WriteJsonl) -> None:
    rows: list[object] = generation_rows(3)  # lines 1-3 valid
    rows += [
        '{"prompt": "x",',  # 4 invalid JSON
        "[1, 2]",  # 5 not an object
        {"prompt": "only a prompt"},  # 6 missing completion
        {"prompt": 3, "completion": " x"},  # 7 wrong type
        pc("  ", " x END"),  # 8 empty prompt: valid (open-ended generation), a warning here
        pc(f"p{SEP}", ""),  # 9 empty completion
        {  # 10 a (valid) chat example in a prompt/completion file
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
        },
    ]
    path = write_jsonl(rows)
    with path.open("ab") as out:
        out.write(b'{"prompt": "caf\xe9", "completion": " x"}\n')  # 11 not UTF-8
    report = check_file(path)
    assert report.exit_code == 2
    expected = {
        "invalid_json": [4],
        "not_an_object": [5],
        "missing_keys": [6],
        "wrong_type": [7],
        "empty_completion": [9],
        "mixed_format": [10],
        "invalid_utf8": [11],
    }
    for code, lines in expected.items():
        assert lines_of(report, code) == lines, code
        assert report.issue(code).severity == "error"  # type: ignore[union-attr]
    assert "'completion'" in report.issue("missing_keys").message  # type: ignore[union-attr]
    # The column named is on the line itself (the line ending is not part of it).
    assert "at column 16" in report.issue("invalid_json").message  # type: ignore[union-attr]
    # An empty prompt trains (open-ended generation); only some prompts empty is a warning.
    assert lines_of(report, "empty_prompt") == [8]
    assert report.issue("empty_prompt").severity == "warning"  # type: ignore[union-attr]
    assert report.n_examples == 4


def test_chat_format_errors(write_jsonl: WriteJsonl) -> None:
    ok = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    rows = [
        ok,
        {"messages": [{"role": "user", "content": "hi"}, {"role": "robot", "content": "x"}]},
        {"messages": [{"role": "user", "content": "hi"}]},
        {"messages": []},
        {"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "x"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": " "}]},
        pc(f"p{SEP}", " x"),
    ]
    report = check_file(write_jsonl(rows), model="gpt-4o-mini")
    assert lines_of(report, "unknown_role") == [2]
    assert "'robot'" in report.issue("unknown_role").message  # type: ignore[union-attr]
    assert lines_of(report, "missing_assistant") == [3]
    assert lines_of(report, "invalid_messages") == [4]
    assert lines_of(report, "wrong_type") == [5]
    assert lines_of(report, "empty_content") == [6]
    assert lines_of(report, "mixed_format") == [7]


def test_separator_missing_and_inside(write_jsonl: WriteJsonl) -> None:
    rows = classification_rows()
    rows[4]["prompt"] = "Is this about yes?"  # line 5: no separator
    rows[9]["prompt"] = f"First part{SEP}second part{SEP}"  # line 10: separator inside
    report = check_file(write_jsonl(rows), model="davinci")
    assert report.training.separator == SEP
    assert lines_of(report, "separator_missing") == [5]
    assert lines_of(report, "separator_inside") == [10]
    assert report.exit_code == 1


def test_no_common_separator(write_jsonl: WriteJsonl) -> None:
    rows = [
        pc(f"Is this review good: number {i}", f" {'yes' if i % 2 else 'no'}\n") for i in range(300)
    ]
    report = check_file(write_jsonl(rows), model="davinci")
    assert report.issue("no_separator") is not None
    assert report.training.separator is None
    assert report.training.suggested_separator == SEP


def test_completion_leading_whitespace(write_jsonl: WriteJsonl) -> None:
    rows = classification_rows()
    rows[2]["completion"] = "yes\n"
    rows[7]["completion"] = "no\n"
    report = check_file(write_jsonl(rows), model="davinci")
    assert lines_of(report, "no_leading_space") == [3, 8]


def test_stop_sequence_missing_and_inside(write_jsonl: WriteJsonl) -> None:
    rows = generation_rows(600)
    rows[10]["completion"] = " Sentence ten, please."  # line 11: no stop
    rows[20]["completion"] = " Sentence END twenty. END"  # line 21: stop inside
    report = check_file(write_jsonl(rows), model="davinci")
    assert report.training.stop_sequence == " END"
    assert lines_of(report, "stop_missing") == [11]
    assert lines_of(report, "stop_inside") == [21]


def test_no_common_stop_sequence(write_jsonl: WriteJsonl) -> None:
    rows = [pc(f"Rewrite {i}{SEP}", f" Sentence {i} rewritten {'!?.'[i % 3]}") for i in range(600)]
    report = check_file(write_jsonl(rows), model="davinci")
    assert report.issue("no_stop") is not None
    assert report.training.suggested_stop == "\n"


def test_too_long_for_the_seed_models_counts_the_separator(write_jsonl: WriteJsonl) -> None:
    enc = get_encoding("r50k_base")
    completion = " yes\n"

    def tokens(prompt: str) -> int:
        return len(enc.encode_ordinary(prompt)) + len(enc.encode_ordinary(completion))

    # The longest body that fits 2048 without the separator but not with it.
    body = next(
        b
        for k in range(2060, 2000, -1)
        if tokens(b := "hello" + " world" * k) <= 2048 < tokens(b + SEP)
    )
    rows = classification_rows()
    rows[5] = pc(body + SEP, completion)  # line 6
    rows[6] = pc(body, completion)  # line 7: same text, no separator: within the limit
    report = check_file(write_jsonl(rows), model="davinci")
    assert lines_of(report, "too_long") == [6]
    assert report.issue("too_long").severity == "error"  # type: ignore[union-attr]
    # The same example fits davinci-002's 16k window.
    assert check_file(write_jsonl(rows), model="davinci-002").issue("too_long") is None


def test_token_totals_and_billed_estimate(write_jsonl: WriteJsonl) -> None:
    rows = classification_rows()
    enc = get_encoding("cl100k_base")
    expected = sum(
        len(enc.encode_ordinary(r["prompt"])) + len(enc.encode_ordinary(r["completion"]))
        for r in rows
    )
    report = check_file(write_jsonl(rows), model="davinci-002", n_epochs=3)
    assert report.tokens_per_epoch == expected
    assert report.billed_tokens == 3 * expected
    data = report.to_json()
    assert data["summary"]["billed_tokens"] == 3 * expected
    assert data["training"]["total_tokens"] == expected
    json.dumps(data)  # serialisable


def test_classification_advice(write_jsonl: WriteJsonl) -> None:
    rows = classification_rows(100, (" yes", " no"))
    rows += [pc(f"Is review {i} unclear?{SEP}", " absolutely unclear\n") for i in range(12)]
    report = check_file(write_jsonl(rows), model="davinci")
    assert report.task == "classification"
    # ' absolutely unclear' first appears on line 201: two tokens, 12 examples, imbalanced.
    assert lines_of(report, "multi_token_classes") == [201]
    assert lines_of(report, "few_examples_per_class") == [201]
    assert report.issue("class_imbalance") is not None


def test_generation_needs_500_examples(write_jsonl: WriteJsonl) -> None:
    report = check_file(write_jsonl(generation_rows(120)), model="davinci")
    assert report.task == "conditional_generation"
    issue = report.issue("few_examples")
    assert issue is not None and "120 examples" in issue.message
    assert check_file(write_jsonl(generation_rows(500)), model="davinci").exit_code == 0


def test_duplicates(write_jsonl: WriteJsonl) -> None:
    rows = classification_rows()
    rows[50] = dict(rows[3])  # line 51 repeats line 4
    rows[80] = dict(rows[3])  # line 81 too
    report = check_file(write_jsonl(rows), model="davinci")
    assert lines_of(report, "duplicates") == [51, 81]
    assert report.training.n_duplicates == 2


def test_validation_overlap_and_consistency(write_jsonl: WriteJsonl) -> None:
    train = classification_rows()
    valid = [
        pc(f"A fresh question?{SEP}", " yes\n"),
        dict(train[7]),  # line 2: also in training
        pc("Missing separator", " no\n"),  # line 3
    ]
    report = check_file(
        write_jsonl(train), validation=write_jsonl(valid, "valid.jsonl"), model="davinci"
    )
    assert lines_of(report, "train_valid_overlap", "validation") == [2]
    assert lines_of(report, "separator_missing", "validation") == [3]
    assert report.exit_code == 2
    assert report.validation is not None and report.validation.n_examples == 3


def test_validation_format_must_match(write_jsonl: WriteJsonl) -> None:
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    report = check_file(
        write_jsonl(classification_rows()),
        validation=write_jsonl([chat], "valid.jsonl"),
        model="davinci",
    )
    assert lines_of(report, "format_mismatch", "validation") == [1]


def test_file_size_limit(write_jsonl: WriteJsonl) -> None:
    path = write_jsonl(classification_rows())
    size = path.stat().st_size
    assert check_file(path, max_file_bytes=size).issue("file_too_large") is None
    issue = check_file(path, max_file_bytes=size - 1).issue("file_too_large")
    assert issue is not None and f"{size:,} bytes" in issue.message


def test_blank_lines_and_empty_file(write_jsonl: WriteJsonl, tmp_path: Path) -> None:
    rows: list[object] = list(classification_rows())
    rows.insert(3, "")
    report = check_file(write_jsonl(rows), model="davinci")
    assert lines_of(report, "blank_lines") == [4]
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert check_file(empty).issue("no_examples") is not None
    assert check_file(empty).exit_code == 2


def test_a_reinforcement_file_is_not_taken_for_a_classifier(write_jsonl: WriteJsonl) -> None:
    """A reinforcement file's prompts have no answers: its examples are not one class
    of '' (the try view would then ask a classifier's single token), and the legacy
    guide's classification advice does not apply."""
    rows = [
        {"messages": [{"role": "user", "content": f"say {i}"}], "want": "aaaa"} for i in range(12)
    ]
    report = check_file(write_jsonl(rows), model="davinci")
    assert report.training.format == "reinforcement"
    assert report.task == "reinforcement"
    assert report.training.classes == {}
    assert report.issue("few_examples_per_class") is None
    assert report.exit_code == 0
    # OpenAI bills reinforcement fine-tuning by training time: no token bill shown.
    out = Console(width=100, file=io.StringIO(), color_system=None)
    out.print(report.to_rich())
    shown = out.file.getvalue()
    assert "by training time, not tokens" in shown
    assert "Billed tokens" not in shown
