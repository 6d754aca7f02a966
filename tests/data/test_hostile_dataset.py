"""`fttui prepare` on a dataset (and a file name) carrying terminal escape sequences:
everything it prints shows them as text, the JSON still holds the exact data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SEP = "\n\n###\n\n"
# CSI clear screen, OSC 0 title, OSC 52 clipboard, 8-bit CSI, a bidi override, markup.
EVIL = "\x1b[2J\x1b]0;pwned\x07\x1b]52;c;cHduZWQ=\x07\x9b6n\u202e[reverse]MK[/reverse]"
RAW = (b"\x1b", b"\x07", b"\xc2\x9b", b"\xe2\x80\xae")


def _prepare(*argv: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "COLUMNS": "400", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "fttui", "prepare", *argv],
        capture_output=True,
        env=env,
        cwd=cwd,
        timeout=120,
    )


def _assert_no_raw(blob: bytes) -> None:
    for raw in RAW:
        assert raw not in blob, f"{raw!r} printed raw:\n{blob.decode(errors='replace')[:2000]}"


def test_prepare_shows_escapes_in_labels_prompts_and_names(tmp_path: Path) -> None:
    labels = [f" good{EVIL}", f" bad{EVIL}"]
    rows = [
        {"prompt": f"Review {i} says {EVIL}{SEP}", "completion": labels[i % 2] + "\n"}
        for i in range(20)
    ]
    rows.append({"messages": [{"role": f"boss{EVIL}", "content": "x"}]})  # a bad role, quoted
    name_evil = EVIL.replace("[/reverse]", "")  # no "/" in a file name
    path = tmp_path / f"data{name_evil}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    # The human report (Rich tables).
    human = _prepare(str(path), "--model", "davinci", cwd=tmp_path)
    assert human.returncode == 2, human.stderr.decode(errors="replace")
    blob = human.stdout + human.stderr
    _assert_no_raw(blob)
    text = blob.decode()
    shown = "\\x1b[2J\\x1b]0;pwned\\x07\\x1b]52;c;cHduZWQ=\\x07\\x9b6n\\u202e[reverse]MK[/reverse]"
    shown_name = shown.replace("[/reverse]", "")
    assert f"training: data{shown_name}.jsonl" in text  # the file name, markup left literal
    assert f"good{shown}" in text  # a class label, in the per-class message
    assert "boss\\x1b[2J" in text  # the refused role, quoted

    # The JSON report: no raw control byte, and it decodes to the exact labels.
    as_json = _prepare(str(path), "--model", "davinci", "--json", cwd=tmp_path)
    _assert_no_raw(as_json.stdout)
    report = json.loads(as_json.stdout)
    assert report["training"]["path"] == str(path)
    assert {label.strip() for label in labels} <= {k.strip() for k in report["training"]["classes"]}

    # Fixing writes new files and prints their names: shown, not obeyed.
    fixed = _prepare(str(path), "--model", "davinci", "--fix", "all", cwd=tmp_path)
    _assert_no_raw(fixed.stdout + fixed.stderr)
    assert f"data{shown_name}" in (fixed.stdout + fixed.stderr).decode()
