"""The sanitiser: every control a terminal could obey is shown, nothing else changes."""

from __future__ import annotations

import json
import unicodedata

import pytest

from fttui.core.safe_text import UNSAFE, find_unsafe, safe_json, safe_text

C0 = [chr(c) for c in range(0x20)]
C1 = [chr(c) for c in range(0x80, 0xA0)]
DEL = "\x7f"
BIDI = [chr(c) for c in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))]
SEPARATORS = ["\u2028", "\u2029"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udc80", "\udfff"]
EVERY_UNSAFE = [*C0, DEL, *C1, *BIDI, *SEPARATORS, *SURROGATES]


def _is_terminal_safe(text: str) -> bool:
    """No character a terminal could act on or that reorders/ends a line."""
    return not any(
        unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in BIDI for ch in text
    )


@pytest.mark.parametrize("char", EVERY_UNSAFE, ids=lambda c: f"U+{ord(c):04X}")
def test_each_unsafe_character_is_shown_as_its_escape(char: str) -> None:
    shown = safe_text(f"a{char}b")
    # The same escape repr() writes: readable, and a reader can tell which control.
    assert shown == "a" + repr(char)[1:-1] + "b"
    assert shown.isascii() and shown.isprintable()
    assert find_unsafe(f"a{char}b") is not None
    assert f"U+{ord(char):04X}" in (find_unsafe(f"a{char}b") or "")


def test_every_c0_c1_del_bidi_surrogate_at_once() -> None:
    text = "".join(EVERY_UNSAFE)
    shown = safe_text(text)
    assert _is_terminal_safe(shown)
    assert shown.isascii()
    assert UNSAFE.search(shown) is None
    # Nothing is dropped: every character is there as an escape.
    assert shown.count("\\") == len(EVERY_UNSAFE)


def test_attack_sequences_become_visible_text() -> None:
    clear = "\x1b[2J"
    title = "\x1b]0;owned\x07"
    clipboard = "\x1b]52;c;ZWNobyBwd25lZA==\x07"
    csi8 = "\x9b31m"
    rlo = "evil\u202egpj.exe"
    shown = safe_text(clear + title + clipboard + csi8 + rlo)
    assert shown == (
        "\\x1b[2J\\x1b]0;owned\\x07\\x1b]52;c;ZWNobyBwd25lZA==\\x07\\x9b31mevil\\u202egpj.exe"
    )


def test_printable_text_is_left_alone() -> None:
    for text in (
        "",
        "file-abc123",
        "davinci:ft-local:reviews-2024-01-02-03-04-05",
        "[link=https://example.com]markup stays literal[/link]",  # markup is not our job here
        "数据集.jsonl",
        "café — naïve",
        "👩‍💻 emoji with a zero-width joiner",
        "שלום",  # right-to-left text itself is fine: only the controls are shown
        "non\u00a0breaking",
    ):
        assert safe_text(text) == text
        assert safe_text(text, multiline=True) == text


def test_multiline_keeps_newlines_expands_tabs_and_shows_the_rest() -> None:
    text = "line one\r\n\tindented\x1b[2J\nthree\rfour\x85five"
    assert safe_text(text, multiline=True) == (
        "line one\n    indented\\x1b[2J\nthree\\rfour\\x85five"
    )
    # Single-line: the newline and tab are escaped as well.
    assert safe_text("a\tb\nc") == "a\\tb\\nc"


def test_find_unsafe_names_the_character_and_position() -> None:
    assert find_unsafe("plain name.jsonl") is None
    assert find_unsafe("ab\x1bc") == "U+001B (a control character) at position 3"
    assert find_unsafe("x\u202e") == "U+202E (a bidirectional text control) at position 2"
    assert find_unsafe("\udc80") == "U+DC80 (a lone surrogate) at position 1"
    assert find_unsafe("a\u2028") == "U+2028 (a line separator) at position 2"


def test_safe_json_round_trips_and_carries_no_raw_control() -> None:
    value = {
        # Lone surrogates apart: an adjacent high+low pair decodes as one character.
        "label": " ".join(EVERY_UNSAFE) + " positive 数据",
        "list": ["\x9b", "\u202e", "ok"],
        "\x1bkey": 1,
    }
    text = safe_json(value)
    assert _is_terminal_safe(text)
    assert UNSAFE.search(text) is None
    assert json.loads(text) == value
    assert "数据" in text  # readable: non-ASCII text is not escaped
    # Lone surrogates would not even encode as UTF-8 raw; escaped, they do.
    text.encode("utf-8")


# Every code point the rule covers, from the module's documented list (not from its
# regexes): C0, DEL, C1, the bidi controls, U+2028/9 and every lone surrogate.
ALL_UNSAFE = [
    *C0,
    DEL,
    *C1,
    *BIDI,
    *SEPARATORS,
    *(chr(c) for c in range(0xD800, 0xE000)),
]


@pytest.mark.parametrize("multiline", [False, True], ids=["single-line", "multiline"])
def test_every_unsafe_code_point_in_both_modes(multiline: bool) -> None:
    """Each of the 2,114 code points alone, between text, and at the ends: shown as
    its escape (multi-line: a newline kept, a tab as spaces to the next stop), never
    raw."""
    wrong = []
    for char in ALL_UNSAFE:
        expected = "\n" if multiline and char == "\n" else repr(char)[1:-1]
        for text, want in (
            (char, expected),
            (f"a{char}b", f"a{expected}b"),
            (f"{char}é{char}", f"{expected}é{expected}"),
        ):
            if multiline and char == "\t":
                want = text.expandtabs(4)  # to the next tab stop
            shown = safe_text(text, multiline=multiline)
            raw = [c for c in shown if c in ALL_UNSAFE and not (multiline and c == "\n")]
            if shown != want or raw:
                wrong.append(f"U+{ord(char):04X} in {text!r}: {shown!r}")
    assert wrong == []


@pytest.mark.parametrize("multiline", [False, True], ids=["single-line", "multiline"])
def test_no_other_code_point_of_the_bmp_is_changed(multiline: bool) -> None:
    unsafe = set(ALL_UNSAFE)
    changed = [
        f"U+{c:04X}"
        for c in range(0x10000)
        if chr(c) not in unsafe and safe_text(chr(c), multiline=multiline) != chr(c)
    ]
    assert changed == []
