"""The installed `fttui` in a real terminal (a private tmux server), keys delivered the way
a link delivers them.

`Terminal.send(keys, link)` types a key sequence over a `Link`: `BURST` writes every key
at once (a fast typist ahead of a laggy SSH link: the app reads them in one go), `SLOW`
one key every half second (a user watching the screen), `ssh(seed)` in chunks of one to
five keys with 20-150 ms between chunks (what an SSH session over a real network
delivers). The same keys over any link must leave the app in the same state.

Keys are tmux key names (`Tab`, `Enter`, `Escape`, `BSpace`, `Down`, `C-s`, `Space`,
...); any other word is typed character by character (`"0.1"` is `0`, `.`, `1`).
An Escape followed at once by another key reads as Alt+key in every terminal, so a
burst never has Escape anywhere but last.

`PtyTerminal` is the other driver: the app on a bare pseudo-terminal, every byte it
writes kept. tmux is a terminal itself (it obeys what the app writes and shows the
result), so a test that must see the bytes (nothing hostile written raw, see
test_hostile_backend.py) reads them there. Both start the app with `app_env`.
"""

from __future__ import annotations

import fcntl
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

KEY_NAMES = frozenset(
    [
        "Tab",
        "BTab",
        "Enter",
        "Escape",
        "BSpace",
        "Space",
        "Up",
        "Down",
        "Left",
        "Right",
        "Home",
        "End",
        "PageUp",
        "PageDown",
    ]
)


def fttui_exe() -> str:
    exe = Path(sys.executable).with_name("fttui")
    return str(exe) if exe.exists() else "fttui"


def app_env(home: Path, config: Path, **extra: str) -> dict[str, str]:
    """The app's environment: its own home and config dir, UTC, a known terminal type,
    and the checkout under test (a worktree on PYTHONPATH), not the venv's install."""
    return {
        "FTTUI_CONFIG_DIR": str(config),
        "TERM": "xterm-256color",
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "TZ": "UTC",
        **({"PYTHONPATH": path} if (path := os.environ.get("PYTHONPATH")) else {}),
        **extra,
    }


def key_tokens(keys: Sequence[str]) -> list[str]:
    """One tmux key per element: names and `C-`/`M-`/`S-` chords kept, words split."""
    out: list[str] = []
    for key in keys:
        if key in KEY_NAMES or re.fullmatch(r"[CMS]-\S+", key) or len(key) == 1:
            out.append(key)
        else:
            out.extend(key)
    return out


@dataclass(frozen=True)
class Link:
    """How keys reach the app: `chunks` splits the keys, `pause` between chunks (s)."""

    name: str
    chunks: Callable[[list[str]], list[list[str]]]
    pause: Callable[[], float]


BURST = Link("burst", lambda keys: [keys], lambda: 0.0)
SLOW = Link("slow", lambda keys: [[k] for k in keys], lambda: 0.5)


def ssh(seed: int = 0) -> Link:
    """Chunks of 1-5 keys, 20-150 ms apart, reproducible from `seed`."""
    rng = random.Random(seed)

    def chunks(keys: list[str]) -> list[list[str]]:
        out, i = [], 0
        while i < len(keys):
            n = rng.randint(1, 5)
            out.append(keys[i : i + n])
            i += n
        return out

    return Link(f"ssh({seed})", chunks, lambda: rng.uniform(0.02, 0.15))


@dataclass
class Terminal:
    """One tmux session running fttui; `screen()` is its text, `send` types into it."""

    socket: Path
    name: str
    home: Path
    log: list[str] = field(default_factory=list)

    def tmux(self, *args: str) -> str:
        return subprocess.run(
            ["tmux", "-S", str(self.socket), *args], check=True, capture_output=True, text=True
        ).stdout

    def start(self, base_url: str, size: tuple[int, int] = (110, 40)) -> None:
        env = app_env(self.home, self.home / "config")
        command = " ".join(
            [
                "env",
                "-u",
                "COLUMNS",
                "-u",
                "LINES",
                *(f"{k}={v}" for k, v in env.items()),
                fttui_exe(),
                "--base-url",
                base_url,
            ]
        )
        width, height = size
        # Started in `home`: paths typed relative to it, downloads saved there.
        self.tmux(
            "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
            "-c", str(self.home), command,
        )  # fmt: skip

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name)

    def wait(self, needle: str | Callable[[str], bool], timeout: float = 30.0) -> str:
        """The screen once it shows `needle` (or `needle(screen)` holds)."""
        check = needle if callable(needle) else (lambda text: needle in text)
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.15)
        raise AssertionError(f"{needle!r} never appeared on {self.name}; screen was:\n{text}")

    def settle(self, quiet: float = 1.0, timeout: float = 30.0) -> str:
        """The screen once it has not changed for `quiet` seconds (keys all handled)."""
        deadline = time.monotonic() + timeout
        last, since = self.screen(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.15)
            text = self.screen()
            if text != last:
                last, since = text, time.monotonic()
            elif time.monotonic() - since >= quiet:
                return text
        return last

    def send(self, keys: Sequence[str], link: Link = BURST) -> None:
        tokens = key_tokens(keys)
        self.log.append(f"{link.name}: {' '.join(tokens)}")
        for i, chunk in enumerate(link.chunks(tokens)):
            if i:
                time.sleep(link.pause())
            self.tmux("send-keys", "-t", self.name, *chunk)

    def alive(self) -> bool:
        try:
            self.tmux("has-session", "-t", self.name)
        except subprocess.CalledProcessError:
            return False
        return True


class PtyTerminal:
    """The app on a bare pseudo-terminal (`cols` x `rows`); keeps every byte it writes."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, cols: int, rows: int):
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        self.proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=cwd, start_new_session=True
        )
        os.close(slave)
        self.output = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        with suppress(OSError):
            while chunk := os.read(self.master, 65536):
                with self._lock:
                    self.output += chunk

    def mark(self) -> int:
        with self._lock:
            return len(self.output)

    def send(self, keys: bytes, pause: float = 0.15) -> None:
        os.write(self.master, keys)
        # A lone ESC is told from an escape sequence by a silence after it (a key
        # sent too soon after it reads as alt+key on a busy machine).
        time.sleep(0.8 if keys == b"\x1b" else pause)

    def press_until(self, key: bytes, needle: bytes, since: int, tries: int = 3) -> int:
        """Press `key` until `needle` is drawn (a key can be lost while a dialog closes)."""
        for attempt in range(tries):
            self.send(key)
            try:
                return self.wait_for(needle, since, timeout=8.0 if attempt < tries - 1 else 20.0)
            except AssertionError:
                if attempt == tries - 1 or self.proc.poll() is not None:
                    raise
        raise AssertionError("unreachable")

    def wait_for(self, needle: bytes, since: int = 0, timeout: float = 20.0) -> int:
        """Wait until `needle` is written after offset `since`; returns the new mark."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if needle in self.output[since:]:
                    return len(self.output)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        with self._lock:
            tail = bytes(self.output[-3000:])
            if os.environ.get("FTTUI_DEBUG_PTY"):
                Path(os.environ["FTTUI_DEBUG_PTY"]).write_bytes(bytes(self.output))
        raise AssertionError(
            f"{needle!r} never drawn (exit {self.proc.poll()}); last output:\n{tail!r}"
        )

    def settle(self, quiet: float = 1.0, timeout: float = 30.0) -> int:
        """Wait until nothing has been written for `quiet` seconds (the app idle: its
        first loads done); returns the mark."""
        deadline = time.monotonic() + timeout
        last, since = self.mark(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.mark()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return last

    def quit(self, timeout: float = 15.0) -> int | None:
        """`q`, then the app's exit status (None if it is still running)."""
        self.send(b"q")
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.proc.returncode

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._reader.join(timeout=5)
        os.close(self.master)
