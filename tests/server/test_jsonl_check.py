"""The streaming checker gives the same verdict however the bytes are split into chunks
(uploads arrive in arbitrary pieces; a line may straddle many of them)."""

from __future__ import annotations

import pytest

from fttui.server.jsonl_check import JsonlChecker

from .helpers import CHAT, PROMPT_COMPLETION

SAMPLES = [
    PROMPT_COMPLETION,
    CHAT,
    PROMPT_COMPLETION[:500]
    + b"\n"
    + b"[1]\r\n"
    + '{"prompt": "caf\u00e9", "completion": " \u2713"}\n'.encode(),
    b'{"prompt": "' + b"y" * 300 + b'", "completion": " a"}\n{"prompt": "a", "completion": " b"}',
    b"\xef\xbb\xbf" + PROMPT_COMPLETION,
]


def verdict(data: bytes, chunk: int) -> tuple[bool, int, str | None, str]:
    checker = JsonlChecker(max_line_bytes=256)
    for start in range(0, len(data), chunk):
        checker.feed(data[start : start + chunk])
    checker.finish()
    return checker.ok, checker.examples, checker.format, checker.summary()


@pytest.mark.parametrize("data", SAMPLES, ids=["pc", "chat", "mixed errors", "long line", "bom"])
def test_chunking_does_not_change_the_verdict(data: bytes) -> None:
    whole = verdict(data, len(data) or 1)
    for size in (1, 2, 3, 7, 64, 255, 256, 257, 4096):
        assert verdict(data, size) == whole


def test_verdicts() -> None:
    assert verdict(PROMPT_COMPLETION, 64)[:3] == (True, 40, "prompt_completion")
    assert verdict(CHAT, 64)[:3] == (True, 12, "chat")
    ok, _, _, summary = verdict(SAMPLES[2], 64)
    assert not ok and "line 11: expected a JSON object, got an array" in summary
    ok, examples, _, summary = verdict(SAMPLES[3], 64)
    assert (
        not ok and examples == 1 and summary.startswith("line 1: the line is longer than 256 bytes")
    )


def test_refusal_echoes_file_text_without_control_characters() -> None:
    """A key or role carrying terminal escapes is named in the refusal as visible text."""
    from fttui.core.safe_text import UNSAFE

    evil = "\\u001b]0;pwned\\u0007\\u009b6n\\u202e"  # OSC title, 8-bit CSI, bidi override
    data = (
        f'{{"{evil}text": "a"}}\n{{"messages": [{{"role": "boss{evil}", "content": "x"}}]}}\n'
    ).encode()
    ok, _, _, summary = verdict(data, 64)
    assert not ok
    assert UNSAFE.search(summary) is None, summary
    assert "found keys: '\\x1b]0;pwned\\x07\\x9b6n\\u202etext'" in summary
    assert "line 2:" in summary and "boss\\x1b]0;pwned" in summary
