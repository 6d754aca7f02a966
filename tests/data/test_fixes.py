"""`fttui prepare`: exit codes, JSON report, and fixes that round-trip to a clean file."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from fttui.cli import main as cli
from fttui.data import check_file
from tests.data.conftest import WriteJsonl, classification_rows

SEP = "\n\n###\n\n"


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = cli(["prepare", *argv, "--json"])
    return code, json.loads(capsys.readouterr().out)


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def broken_rows() -> list[object]:
    """Two balanced single-token classes, with every fixable problem in it."""
    rows: list[object] = []
    for i in range(120):
        for label in ("yes", "no"):  # no leading space, no stop sequence
            prompt = f"Is review {i} about {label}?"
            if i % 7:
                prompt += SEP  # most prompts have the separator; every 7th lacks it
            rows.append({"prompt": prompt, "completion": label})
    rows[10] = dict(rows[4])  # type: ignore[call-overload]  # duplicate
    rows.append({"prompt": "too long " * 2100, "completion": "yes"})
    rows.append("{not json")
    return rows


def test_exit_codes_and_json_schema(
    write_jsonl: WriteJsonl, capsys: pytest.CaptureFixture[str]
) -> None:
    clean = write_jsonl(classification_rows(), "clean.jsonl")
    code, data = run_json(capsys, str(clean), "--model", "davinci")
    assert code == 0 and data["exit_code"] == 0
    assert data["schema"] == "fttui.prepare/1"
    assert data["summary"]["n_examples"] == 200 and data["summary"]["task"] == "classification"
    assert data["fixes"] == [] and data["outputs"] == [] and data["fixed"] is None

    rows = classification_rows()
    rows[3]["completion"] = "yes\n"
    code, data = run_json(capsys, str(write_jsonl(rows, "warn.jsonl")), "--model", "davinci")
    assert code == 1
    warnings = {i["code"]: i for i in data["issues"] if i["severity"] == "warning"}
    issue = warnings["no_leading_space"]
    assert (issue["lines"], issue["count"]) == ([4], 1)
    assert data["summary"]["errors"] == 0

    code, data = run_json(capsys, str(write_jsonl(["{oops"], "bad.jsonl")))
    assert code == 2
    assert {i["code"]: i["lines"] for i in data["issues"] if i["severity"] == "error"} == {
        "invalid_json": [1],
        "no_examples": [],
    }


def test_human_report_and_clear_errors(
    write_jsonl: WriteJsonl, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = classification_rows()
    rows[4]["prompt"] = "no separator here"
    assert cli(["prepare", str(write_jsonl(rows)), "--model", "davinci"]) == 1
    out = capsys.readouterr().out
    assert "prompts do not end with the separator" in out and "Tokens per epoch" in out

    assert cli(["prepare", str(tmp_path / "missing.jsonl")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli(["prepare", str(write_jsonl(rows)), "--fix", "bogus"]) == 2
    assert "unknown fix 'bogus'" in capsys.readouterr().err


def test_fix_all_round_trips_to_a_clean_file(
    write_jsonl: WriteJsonl, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = write_jsonl(broken_rows(), "broken.jsonl")
    before = hashlib.sha256(src.read_bytes()).hexdigest()
    assert check_file(src, model="davinci").exit_code == 2
    code, data = run_json(
        capsys,
        str(src),
        "--model",
        "davinci",
        "--fix",
        "all",
        "-o",
        str(tmp_path / "out" / "fixed"),
    )
    planned = {f["name"]: f["affected"] for f in data["fixes"]}
    assert planned == {
        "separator": 37,
        "leading-space": 241,
        "stop": 241,
        "dedupe": 1,
        "drop-long": 1,
        "drop-invalid": 1,
    }
    out = tmp_path / "out" / "fixed.jsonl"
    assert data["outputs"] == [str(out)]
    assert code == 0, data["fixed"]["issues"]
    assert hashlib.sha256(src.read_bytes()).hexdigest() == before  # input untouched
    fixed = check_file(out, model="davinci")
    assert fixed.exit_code == 0
    assert fixed.n_examples == 239  # 241 valid examples, less a duplicate and a long one
    assert (fixed.training.separator, fixed.training.stop_sequence) == (SEP, "\n")
    assert fixed.training.classes == {" no": 120, " yes": 119}


def test_each_fix_is_opt_in(
    write_jsonl: WriteJsonl, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = write_jsonl(broken_rows(), "broken.jsonl")
    run_json(
        capsys, str(src), "--model", "davinci", "--fix", "leading-space", "-o", str(tmp_path / "ls")
    )
    lines = (tmp_path / "ls.jsonl").read_text().splitlines()
    assert len(lines) == 242  # nothing dropped: the invalid line is kept verbatim
    assert lines[-1] == "{not json"
    rows = [json.loads(line) for line in lines[:-1]]
    assert all(r["completion"].startswith(" ") for r in rows)
    assert not rows[0]["prompt"].endswith(SEP)  # the separator fix was not asked for
    assert not rows[0]["completion"].endswith("\n")  # nor the stop fix


def test_split_is_stratified_disjoint_and_reproducible(
    write_jsonl: WriteJsonl, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rows = classification_rows(150, (" yes",)) + classification_rows(50, (" no",))
    src = write_jsonl(rows, "data.jsonl")
    args = [str(src), "--model", "davinci", "--split", "0.2", "--seed", "7"]
    code, data = run_json(capsys, *args, "-o", str(tmp_path / "a"))
    train, valid = (Path(p) for p in data["outputs"])
    assert data["fixed"]["validation"]["n_examples"] == 40
    train_rows, valid_rows = read(train), read(valid)
    assert len(train_rows) + len(valid_rows) == 200
    keys = {json.dumps(r, sort_keys=True) for r in train_rows}
    assert not keys & {json.dumps(r, sort_keys=True) for r in valid_rows}
    assert Counter(r["completion"] for r in valid_rows) == {" yes\n": 30, " no\n": 10}
    assert Counter(r["completion"] for r in train_rows) == {" yes\n": 120, " no\n": 40}
    assert not any(i["code"] == "train_valid_overlap" for i in data["fixed"]["issues"])

    run_json(capsys, *args, "-o", str(tmp_path / "b"))
    assert (tmp_path / "b_valid.jsonl").read_bytes() == valid.read_bytes()
    run_json(capsys, *args[:-1], "8", "-o", str(tmp_path / "c"))
    assert (tmp_path / "c_valid.jsonl").read_bytes() != valid.read_bytes()


def test_to_chat(
    write_jsonl: WriteJsonl, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = write_jsonl(classification_rows(), "pc.jsonl")
    code, data = run_json(
        capsys, str(src), "--model", "gpt-4o-mini", "--fix", "to-chat", "-o", str(tmp_path / "chat")
    )
    rows = read(tmp_path / "chat.jsonl")
    assert rows[0] == {
        "messages": [
            {"role": "user", "content": "Is review 0 about yes?"},
            {"role": "assistant", "content": "yes"},
        ]
    }
    assert data["fixed"]["summary"]["format"] == "chat"
    assert data["fixed"]["summary"]["task"] == "classification"
    assert code == 0


def test_refuses_to_overwrite_the_input(
    write_jsonl: WriteJsonl, capsys: pytest.CaptureFixture[str]
) -> None:
    src = write_jsonl(classification_rows(), "same.jsonl")
    before = src.read_bytes()
    code, data = run_json(capsys, str(src), "--fix", "dedupe", "-o", str(src))
    assert code == 2 and "overwrite the input" in data["error"]
    assert src.read_bytes() == before


def test_to_jsonl_converts_what_the_legacy_tool_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CSV, TSV, a JSON array and plain text become JSONL when asked (never otherwise)."""
    sources = {
        "a.csv": 'Prompt,completion,notes\n"x, y ->", yes,n1\n"z ->", no,n2\n',
        "b.tsv": "prompt\tcompletion\nx, y ->\t yes\nz ->\t no\n",
        "c.json": json.dumps(
            [{"prompt": "x, y ->", "completion": " yes"}, {"prompt": "z ->", "completion": " no"}]
        ),
        "d.txt": "first line\n\nsecond line\n",
    }
    expected = [
        {"prompt": "x, y ->", "completion": " yes"},
        {"prompt": "z ->", "completion": " no"},
    ]
    for name, text in sources.items():
        path = tmp_path / name
        path.write_text(text)
        code, data = run_json(capsys, str(path), "--model", "davinci")
        # Reported as not JSONL (a JSON array's one line is also "not an object").
        assert code == 2 and "not_jsonl" in {i["code"] for i in data["issues"]}, data["issues"]
        code, data = run_json(capsys, str(path), "--model", "davinci", "--fix", "to-jsonl")
        out = Path(data["outputs"][0])
        assert out.name == f"{path.stem}_prepared.jsonl" and path.read_text() == text
        assert data["fixes"][0] == {
            "name": "to-jsonl",
            "description": f"convert {name} to JSONL",
            "affected": 2,
        }
        rows = read(out)
        if name == "d.txt":
            assert rows == [
                {"prompt": "", "completion": "first line"},
                {"prompt": "", "completion": "second line"},
            ]
        elif name == "a.csv":  # the header is kept as it is: --fix keys renames and drops
            assert rows[0] == {"Prompt": "x, y ->", "completion": " yes", "notes": "n1"}
            code, data = run_json(capsys, str(path), "--model", "davinci", "--fix", "to-jsonl,keys")
            assert (
                read(Path(data["outputs"][0])) == expected
                and data["fixed"]["summary"]["errors"] == 0
            )
        else:
            assert rows == expected
    sheet = tmp_path / "e.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    code, data = run_json(capsys, str(sheet), "--model", "davinci", "--fix", "to-jsonl")
    assert code == 2 and "save its sheet as CSV" in data["error"]
