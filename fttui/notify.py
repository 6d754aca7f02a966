"""Desktop notifications through the terminal: the bell, OSC 9 and OSC 777.

When a job the app watched ends, the app rings the bell and writes a notification
escape sequence; iTerm2, kitty, WezTerm, Windows Terminal and Ghostty show OSC 9
(`ESC ] 9 ; text BEL`), foot and urxvt OSC 777 (`ESC ] 777 ; notify ; title ;
body BEL`), also over SSH. Inside tmux the sequence is wrapped for its passthrough
(`set -g allow-passthrough on` lets it out). These are the only escape sequences
fttui writes on purpose, so their text gets the strictest treatment: it quotes a
job id and a model name that a backend chose, and a BEL, ESC or ST (U+009C) in
them would end the sequence early and let the rest reach the terminal as commands.
`safe_text` shows every control character as its escape (`\\x07`, `\\x1b`,
`\\x9c`), and `;` (the field separator of OSC 777) becomes `,`.
"""

from __future__ import annotations

from collections.abc import Mapping

from fttui.core.safe_text import safe_text

__all__ = ["MAX_CHARS", "notification_sequences", "osc_text"]

BEL = "\x07"
ESC = "\x1b"
#: Longer texts are cut: a notification is a line, and terminals cap OSC lengths.
MAX_CHARS = 200


def osc_text(text: str) -> str:
    """`text` made safe inside an OSC string: controls visible, no `;`, one line."""
    clean = safe_text(text).replace(";", ",")
    return clean if len(clean) <= MAX_CHARS else clean[: MAX_CHARS - 1] + "…"


def _which(env: Mapping[str, str]) -> tuple[bool, bool]:
    """(OSC 9, OSC 777) for this terminal: 777 for foot and urxvt, else 9."""
    term = env.get("TERM", "")
    osc777 = term.startswith(("foot", "rxvt"))
    return not osc777, osc777


def _tmux(sequence: str) -> str:
    """Wrapped for tmux's passthrough: DCS tmux; <sequence, ESC doubled> ST."""
    return f"{ESC}Ptmux;" + sequence.replace(ESC, ESC + ESC) + f"{ESC}\\"


def notification_sequences(title: str, body: str, env: Mapping[str, str]) -> str:
    """The bytes to write for one notification: BEL, then the OSC the terminal shows."""
    title, body = osc_text(title), osc_text(body)
    osc9, osc777 = _which(env)
    sequences = []
    if osc9:
        sequences.append(f"{ESC}]9;{title}: {body}{BEL}")
    if osc777:
        sequences.append(f"{ESC}]777;notify;{title};{body}{BEL}")
    if env.get("TMUX"):
        sequences = [_tmux(s) for s in sequences]
    return BEL + "".join(sequences)
