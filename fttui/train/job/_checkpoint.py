"""A checkpoint's files, written and read back in one place (docs/training.md).

`step-N/` holds the weights (the whole model, or the LoRA adapters) and, where a
resume may need them, `optimizer.pt` (AdamW's moments), `training_state.pt` (step,
counters, schedule, random state, DPO's reference log-probabilities, RFT's step
count) and `results.csv` (the rows up to step N, so a resumed job's file goes on
with none missing and none twice). The server reads the same names to decide what
to keep (fttui/server/checkpoints.py); the names are fttui.core.checkpoint_files'.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fttui.core.checkpoint_files import OPTIMIZER_FILE, RESULTS_FILE, STATE_FILE
from fttui.train.results import ResultsCsv

if TYPE_CHECKING:
    from fttui.train.engine import Resume


def write_checkpoint(
    path: Path, model: Any, state: dict[str, Any] | None, csv: ResultsCsv | None
) -> None:
    """Write `path` (weights; with `state`, the optimizer in `optimizer.pt` and the rest
    in `training_state.pt`; the results rows so far)."""
    model.save_pretrained(path)
    if state is not None:
        import torch

        small = {k: v for k, v in state.items() if k != "optimizer"}
        torch.save(state["optimizer"], path / OPTIMIZER_FILE)
        torch.save(small, path / STATE_FILE)
    if csv is not None:
        csv.flush()
        shutil.copyfile(csv.path, path / RESULTS_FILE)


@dataclass
class Resumed:
    """What a checkpoint gives back: the engine's `Resume` and what the objectives keep."""

    resume: Resume
    # DPO: the reference model's log-probabilities, computed before step 1 from
    # weights that have trained since (fttui.train.dpo).
    dpo_reference: dict[str, Any] | None
    rft_steps: int  # reinforcement: the steps its evaluation cadence counts from


def read_checkpoint(directory: Path) -> Resumed:
    """The training state of a downloaded checkpoint, to continue exactly after it."""
    import torch

    from fttui.train.engine import Resume

    saved = torch.load(directory / STATE_FILE, map_location="cpu", weights_only=True)
    optimizer = torch.load(directory / OPTIMIZER_FILE, map_location="cpu", weights_only=True)
    lora = (directory / "adapter_config.json").exists()
    dpo_reference = saved.get("dpo_reference")
    rft_steps = int(saved.get("rft_steps") or 0)
    resume = Resume(
        step=int(saved["step"]),
        optimizer=optimizer,
        scheduler=saved["scheduler"],
        elapsed_tokens=int(saved["elapsed_tokens"]),
        elapsed_examples=int(saved["elapsed_examples"]),
        epoch_losses=[float(x) for x in saved.get("epoch_losses") or []],
        rng=saved.get("rng") or {},
        adapter_dir=str(directory) if lora else None,
    )
    return Resumed(resume, dpo_reference, rft_steps)
