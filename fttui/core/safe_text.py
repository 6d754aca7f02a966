"""The one rule for text fttui did not write itself: it reaches a terminal as data.

Any backend (a shared team server, a third-party "OpenAI-compatible" service) and
any data file can carry terminal control sequences in a file name, a model id, an
event message, an error body, a completion or a dataset label. Written raw, ESC
sequences clear the screen or move the cursor (CSI), set the window title (OSC 0/2)
or write the user's clipboard (OSC 52), even through SSH and tmux; their 8-bit C1
forms (U+009B is CSI) do the same on some terminals; bidi overrides and isolates
reorder what is shown ("Trojan Source"); a lone surrogate cannot even be encoded.
So every such string passes `safe_text` before it is drawn or printed, and the
server refuses such characters in what it stores (`find_unsafe`).

The rule, in one place:

- UNSAFE characters are the C0 controls (U+0000-001F, tab and newline included),
  DEL (U+007F), the C1 controls (U+0080-009F), the bidi controls (U+061C ALM,
  U+200E LRM, U+200F RLM, U+202A-202E embeddings/overrides, U+2066-2069
  isolates), the line and paragraph separators U+2028/U+2029 (Python and Rich
  split lines on them) and lone surrogates (U+D800-DFFF).
- `safe_text` shows each one as its Python escape, exactly as `repr()` would:
  `\\x1b`, `\\x9b`, `\\x7f`, `\\t`, `\\n`, `\\r`, `\\u202e`, `\\udc80`. The text stays readable
  and the control is visible instead of obeyed; printable text (any script,
  emoji, zero-width joiners) is left exactly as it is.
- `multiline=True` is for widgets that show several lines (event log, error
  messages, file previews): `\\n` is kept (`\\r\\n` becomes `\\n`) and tabs become
  spaces; everything else is shown as above.
- `safe_json` is for machine-readable output: the same characters are written as
  JSON `\\uXXXX` escapes, so the JSON decodes to the exact original data while the
  printed bytes carry no control character.

Markup is a separate matter: the result is plain text and must be drawn as
plain text (Rich `Text`, Textual `Content`, `markup=False`), never as markup.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["UNSAFE", "find_unsafe", "safe_json", "safe_text"]

_BIDI = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_REST = r"\x7f-\x9f" + _BIDI + r"\u2028\u2029\ud800-\udfff"
#: Every character the rule makes visible (single-line use).
UNSAFE = re.compile(r"[\x00-\x1f" + _REST + "]")
# Multi-line use: newline kept (tabs are expanded before this applies).
_UNSAFE_MULTILINE = re.compile(r"[\x00-\x09\x0b-\x1f" + _REST + "]")
# What json.dumps(ensure_ascii=False) leaves raw (it escapes C0 itself).
_UNSAFE_JSON = re.compile(r"[" + _REST + "]")

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: str, *, multiline: bool = False, tabsize: int = 4) -> str:
    """`text` with every UNSAFE character shown as its escape (see the module doc).

    Single-line by default (table cells, ids, titles): tabs and newlines are
    escaped too. `multiline=True` keeps newlines and expands tabs to `tabsize`.
    """
    if text.isprintable():  # the common case, checked in C: nothing to do
        return text
    if multiline:
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        if "\t" in text:
            text = text.expandtabs(tabsize)
        return _UNSAFE_MULTILINE.sub(_visible, text)
    return UNSAFE.sub(_visible, text)


def find_unsafe(text: str) -> str | None:
    """Where `text` breaks the rule, for an error message (None when it does not).

    E.g. "U+001B (a control character) at position 5". Positions count from 1.
    """
    match = UNSAFE.search(text)
    if match is None:
        return None
    code = ord(match.group())
    if code < 0x20 or 0x7F <= code <= 0x9F:
        kind = "a control character"
    elif 0xD800 <= code <= 0xDFFF:
        kind = "a lone surrogate"
    elif code in (0x2028, 0x2029):
        kind = "a line separator"
    else:
        kind = "a bidirectional text control"
    return f"U+{code:04X} ({kind}) at position {match.start() + 1}"


def safe_json(value: Any, **kwargs: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, **kwargs)` with no raw UNSAFE character.

    json.dumps escapes C0 controls but leaves C1 controls, bidi controls, U+2028/9
    and lone surrogates raw; those become `\\uXXXX` escapes here, which is still
    valid JSON that decodes to exactly `value`.
    """
    text = json.dumps(value, ensure_ascii=False, **kwargs)
    return _UNSAFE_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
