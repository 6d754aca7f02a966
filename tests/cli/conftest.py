"""The real `fttui` process against the real local server (one per module, tiny model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess, running_server


@dataclass
class Run:
    """One finished `fttui` process."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def fttui(
    *args: str,
    base_url: str | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
) -> Run:
    """Run `python -m fttui ARGS` (the console script's code) and wait for it; `stdin`
    is typed on its stdin."""
    extra = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "FTTUI_API_KEY"))}
    env.update(extra)
    env["COLUMNS"] = "200"  # Rich wraps tables to the terminal: keep ids on one line
    env["FTTUI_CONFIG_DIR"] = env.get("FTTUI_CONFIG_DIR", "/nonexistent-fttui-config")
    argv = [sys.executable, "-m", "fttui", *args]
    if base_url is not None:
        argv += ["--base-url", base_url]
    proc = subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        input=stdin,
    )
    return Run(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope="module")
def cli_server(
    tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path
) -> Iterator[ServerProcess]:
    """A real local server with the tiny model registered, shared by a module's tests."""
    with running_server(tmp_path_factory.mktemp("cli-data"), tiny_model_dir=tiny_model_dir) as srv:
        yield srv
