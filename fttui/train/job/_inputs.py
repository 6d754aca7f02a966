"""What a job reads from the server, over HTTP only: the base model, the files, the resume point.

The spec (`GET /spec`, fttui/train/client.py) names the base model as the server
resolved it, the fine-tuned model a job continues from, the training and validation
files and, for a resumed job, the checkpoint to continue after. Everything is
downloaded into the run's work directory or the node's cache (models, by checksum),
so the same code reads on the server's machine and on a Ray node.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from fttui.core.job_spec import JobSpec
from fttui.core.models import BaseModelSpec, default_model_spec
from fttui.train.client import ServerClient, cache_dir
from fttui.train.data import DataError, check_job_files
from fttui.train.job._checkpoint import Resumed, read_checkpoint
from fttui.train.models import UnknownModel, base_location


class JobInputs:
    """Reads of one run; `event` tells the job's events (download progress)."""

    def __init__(self, client: ServerClient, work: Path, event: Callable[[str], None]) -> None:
        self.client = client
        self.work = work
        self.event = event

    def base_spec(self, spec: dict[str, Any]) -> BaseModelSpec:
        """The base model as this node resolves it (the default from its own package)."""
        base = spec.get("base_model")
        if not isinstance(base, dict):
            raise UnknownModel(f"model {spec['job']['model']!r} does not exist on the server")
        if base.get("default"):
            return default_model_spec()
        fields = {k: v for k, v in base.items() if k in BaseModelSpec.__dataclass_fields__}
        fields["aliases"] = tuple(fields.get("aliases") or ())
        return BaseModelSpec(**fields)

    def model_location(self, spec: dict[str, Any], base: BaseModelSpec) -> str:
        """The directory of the weights to start from: the fine-tuned model the job
        continues from, else the base model, converted or downloaded into the cache."""
        source = spec.get("continue_from")
        if source:
            return str(self.client.fetch_model(source, cache_dir()))
        # Download progress (hub models) goes to the job's events; only rank 0 reports.
        return base_location(base, cache_dir(), self.event)

    def file_path(self, file_id: str, param: str) -> Path:
        """The job's file, downloaded over HTTP into the trainer's work directory."""
        try:
            return self.client.download(f"/files/{file_id}", self.work / "files" / file_id)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 404:
                raise DataError(f"{param} {file_id} no longer exists", param) from None
            raise

    def read_files(self, job: JobSpec, tokenizer: Any, limit: int) -> tuple[list[Any], list[Any]]:
        """The job's examples (PreferenceExample for DPO), read by the same code the
        server's validation ran."""
        valid_id = job.validation_file
        train, valid = check_job_files(
            self.file_path(job.training_file, "training_file"),
            self.file_path(valid_id, "validation_file") if valid_id else None,
            tokenizer,
            limit,
            job.method,
            keep=True,
        )
        plw = job.options.prompt_loss_weight or 0.0
        if plw and train.format != "prompt_completion":
            # The server refuses this at creation (400); a file row without a recorded
            # format (older uploads) ends here, before any step, never silently ignored.
            raise DataError(
                f"prompt_loss_weight {plw:g} applies to prompt/completion files only; "
                f"training_file is in the {train.format} format (chat examples choose "
                "trained messages with each assistant message's `weight`)",
                "prompt_loss_weight",
                "invalid_hyperparameter",
            )
        return train.examples, valid.examples if valid else []

    def resume(self, point: dict[str, Any]) -> tuple[Path, Resumed]:
        """The checkpoint to resume from, downloaded (sha256 checked) into the work dir
        (used once, so it is not kept in the node's cache), and its training state."""
        target = self.work / "resume"
        for f in point["files"]:
            self.client.download(
                f"/checkpoints/{int(point['step'])}/{f['name']}", target / f["name"], f["sha256"]
            )
        return target, read_checkpoint(target)
