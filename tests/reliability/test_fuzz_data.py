"""Property tests: random and adversarial JSONL never crashes the dataset checker, and
random CSV never crashes the results reader; every error names its line."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fttui.data import check_file
from fttui.results import ResultsError, parse_results_csv

# Findings that are about the whole file, not a line (so they carry no line number).
FILE_LEVEL = {"no_examples", "file_too_large", "format_mismatch"}

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
good_pc = st.builds(lambda p, c: {"prompt": p + " ->", "completion": " " + c}, text, text)
good_chat = st.builds(
    lambda u, a: {
        "messages": [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    },
    text,
    text,
)
odd_object = st.dictionaries(
    st.sampled_from(["prompt", "completion", "messages", "role", "x"]), json_value, max_size=3
)
line = st.one_of(
    good_pc.map(json.dumps),
    good_chat.map(json.dumps),
    odd_object.map(json.dumps),
    json_value.map(json.dumps),
    text,  # not JSON at all
    good_pc.map(lambda o: json.dumps(o)[:-3]),  # truncated
    st.just(""),
)
raw_bytes = st.binary(max_size=200)


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines=st.lists(line, max_size=15), tail=raw_bytes, ending=st.sampled_from(["\n", "\r\n"]))
def test_checker_never_crashes_and_errors_name_lines(
    lines: list[str], tail: bytes, ending: str
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "train.jsonl"
        path.write_bytes(ending.join(lines).encode("utf-8", "surrogatepass") + tail)
        report = check_file(path)
    for issue in report.errors:
        assert issue.message, issue
        if issue.code not in FILE_LEVEL:
            assert issue.lines and all(n >= 1 for n in issue.lines), issue


csv_cell = st.one_of(
    st.floats(allow_nan=True).map(str), st.integers().map(str), text, st.just(""), st.just('"')
)


@settings(max_examples=150, deadline=None)
@given(
    header=st.lists(st.sampled_from(["step", "training_loss", "train_loss", "x", ""]), max_size=5),
    rows=st.lists(st.lists(csv_cell, max_size=6), max_size=8),
    junk=st.text(max_size=30),
)
def test_results_reader_never_crashes_and_errors_name_lines(
    header: list[str], rows: list[list[str]], junk: str
) -> None:
    body = "\n".join([",".join(header), *(",".join(r) for r in rows)]) + junk
    try:
        frame = parse_results_csv(body, source="results.csv")
    except ResultsError as exc:
        message = str(exc)
        assert message.startswith("results.csv")
        assert "line " in message or "empty" in message, message
        return
    assert "step" in frame.columns


@pytest.mark.parametrize(
    "body",
    ["", "\x00\x00", "step\n1\n" + "\x00" * 10, "step,loss\n1,2\n3\n", 'step\n"unterminated\n'],
)
def test_results_reader_adversarial_cases(body: str) -> None:
    try:
        parse_results_csv(body)
    except ResultsError as exc:
        assert "results.csv" in str(exc)
