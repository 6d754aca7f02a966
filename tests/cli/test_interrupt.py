"""Ctrl-C ends a command even when the first cancel is absorbed on its way.

`fttui jobs follow` twice went on polling for a minute after one Ctrl-C in CI: a
cancel that lands inside the HTTP stack's own cancel scopes can be absorbed there.
`run_interruptible` (every backend command's event loop) sends the cancel again
until the command has ended. Here the command is a real process whose coroutine
absorbs the first cancel the way such a scope does."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

SCRIPT = """
import asyncio, sys
from fttui.commands._backend import run_interruptible

async def absorbs_one_cancel():
    try:
        print("ready", flush=True)
        await asyncio.sleep(3600)
    except asyncio.CancelledError:
        asyncio.current_task().uncancel()  # as a cancel scope that keeps its task going
    await asyncio.sleep(3600)  # and polls on

try:
    run_interruptible(absorbs_one_cancel())
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def test_one_ctrl_c_ends_a_command_whose_first_cancel_is_absorbed() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in out and "Traceback" not in err
    assert took < 10, took
