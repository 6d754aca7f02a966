"""What the training engine is (the `local` extra's packages) and how a missing one is
said to the user: one wording for the server (job creation 400, inference 503) and for
a trainer that finds the engine missing when it imports it (the job fails with
`engine_not_installed`, never with an import traceback)."""

from __future__ import annotations

# Import names of the `local` extra's packages the trainer and inference need.
ENGINE_MODULES = ("torch", "transformers", "safetensors", "gguf", "peft", "accelerate", "sklearn")
INSTALL_HINT = "pip install 'fttui[local]'"


def engine_message(missing: list[str], action: str) -> str:
    # The fix comes first: a narrow dialog may show only the first line.
    return (
        f"This server cannot {action}. Fix: {INSTALL_HINT} where the server runs, then "
        f"restart `fttui serve` (its training engine is not installed; missing Python "
        f"packages: {', '.join(missing)})."
    )


def missing_engine_module(exc: BaseException) -> str | None:
    """The engine package an import error is about (None for any other module)."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    return top if top in ENGINE_MODULES else None
