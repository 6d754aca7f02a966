"""Trainer commands for the protocol tests (`FTTUI_TRAINER_COMMAND=python this.py MODE`).

Each runs the real trainer (`fttui.train.run`) with the arguments the server appends,
after one change a test needs:

- `leak`: also writes the job's token to `$FTTUI_TEST_TOKEN_DIR/<job id>`, so a test
  can call the internal API as that trainer (and as the wrong one);
- `sandbox`: runs from another working directory with its own node cache, and
  refuses (an audit hook raising PermissionError) every open or listing of a path
  under `$FTTUI_TEST_FORBIDDEN_DIR` (the server's data dir): the trainer must train
  over HTTP alone;
- `slow`: each training step takes `$FTTUI_TEST_STEP_S` seconds longer (after its
  row is written), so a test can act between steps of the tiny model, whose steps
  take milliseconds. Nothing else changes: the numbers trained are the same.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path
from typing import Any


def _job_id(argv: list[str]) -> str:
    return argv[argv.index("--job-id") + 1]


def leak(argv: list[str]) -> None:
    folder = Path(os.environ["FTTUI_TEST_TOKEN_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / _job_id(argv)).write_text(os.environ["FTTUI_TRAINER_TOKEN"])


def sandbox(argv: list[str]) -> None:
    forbidden = os.path.realpath(os.environ["FTTUI_TEST_FORBIDDEN_DIR"])
    os.environ["FTTUI_CACHE_DIR"] = os.environ["FTTUI_TEST_CACHE_DIR"]
    os.chdir(os.environ["FTTUI_TEST_CWD"])

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in ("open", "os.listdir", "os.scandir", "os.chdir") or not args:
            return
        target = args[0]
        if isinstance(target, int) or target is None:
            return
        try:
            path = os.path.realpath(os.fsdecode(target))
        except (TypeError, ValueError):
            return
        if path == forbidden or path.startswith(forbidden + os.sep):
            raise PermissionError(f"the trainer touched the server's data dir: {path}")

    sys.addaudithook(hook)


def slow(argv: list[str]) -> None:
    import time

    from fttui.train.results import ResultsCsv

    delay = float(os.environ["FTTUI_TEST_STEP_S"])
    write = ResultsCsv.write

    def write_then_wait(self: ResultsCsv, row: dict[str, Any]) -> None:
        write(self, row)
        time.sleep(delay)

    ResultsCsv.write = write_then_wait  # type: ignore[method-assign]


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    {"leak": leak, "sandbox": sandbox, "slow": slow}[mode](args)
    sys.argv = ["fttui.train.run", *args]
    runpy.run_module("fttui.train.run", run_name="__main__", alter_sys=True)
