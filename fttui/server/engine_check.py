"""Is the training engine (the `local` extra: torch, transformers, ...) installed?

`pip install fttui` alone gives the TUI and a server that stores files and jobs but
cannot train or generate. Rather than a job that fails with "No module named 'torch'"
after it was accepted, or a 500 from inference, the server says so where the user
acts: job creation answers 400, inference 503, both naming the fix.

The check asks the import system whether each module can be found (no import: torch
takes seconds and hundreds of MB to import), so a package that is absent, or hidden
from the import system, counts as missing.
"""

from __future__ import annotations

import importlib.util

from fttui.core.engine import ENGINE_MODULES, INSTALL_HINT, engine_message
from fttui.server.errors import APIError

__all__ = [
    "ENGINE_MODULES",
    "INSTALL_HINT",
    "engine_message",
    "missing_engine_modules",
    "require_engine",
]

_found: set[str] = set()  # found once, found for good (a missing one is asked again)


def missing_engine_modules() -> list[str]:
    """The engine's modules this Python cannot import (empty when all are there)."""
    missing = []
    for name in ENGINE_MODULES:
        if name in _found:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            missing.append(name)
        else:
            _found.add(name)
    return missing


def require_engine(status: int, action: str) -> None:
    """Raise the user-facing error when the engine is missing (`status` 400 or 503)."""
    missing = missing_engine_modules()
    if missing:
        raise APIError(
            status,
            engine_message(missing, action),
            param="model" if status == 400 else None,
            code="engine_not_installed",
            type="invalid_request_error" if status == 400 else "server_error",
            # waiting does not install anything: clients must not retry the 503
            headers={"x-should-retry": "false"},
        )
