"""`python -m fttui.train.validate`: the worker behind the server's `validating_files` step.

The server validates a job's files completely before it queues the job, with the
same code the trainer later reads them with (`fttui.train.data.check_job_files`):
the data contract, the model's tokenizer and chat template, the token limit and the
job's method. That needs transformers (and, through it, torch) but never the model's
weights. It runs in this separate, long-lived process so the server itself stays
light (no torch imported into it, no interpreter lock shared with its event loop)
and a job is validated in milliseconds once the tokenizer is loaded.

Protocol: one JSON object per line on stdin, one answer per line on stdout.

    request  {"job_id", "training": path, "validation": path | null,
              "model": ModelFiles.as_dict(), "method": "supervised" | "dpo"}
    answer   {"job_id", "ok": true, "format", "n_training", "n_validation", "tokens",
              "warnings": [str]}
          or {"job_id", "ok": false, "code", "message", "param"}

The worker exits when stdin closes, or after `--idle` seconds without a request
(it holds a few hundred MB; the server starts a new one when needed).
"""

from __future__ import annotations

import argparse
import json
import os
import select
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

INSTALL_HINT = "pip install 'fttui[local]'"


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Validate one job's files; the answer says why not, never raises."""
    job_id = request.get("job_id")
    try:
        from fttui.data.tokenizing import ModelFiles, tokenizer_and_limit
        from fttui.train.data import DataError, check_job_files, iter_warnings
    except ImportError as exc:  # pragma: no cover - depends on the installation
        return _refused(job_id, "engine_not_installed", f"{exc}; install it with {INSTALL_HINT}")
    files = ModelFiles(**request["model"])
    try:
        tokenizer, limit = tokenizer_and_limit(files)
    except ImportError as exc:
        return _refused(
            job_id,
            "engine_not_installed",
            f"The local server cannot train without its engine ({exc}); {INSTALL_HINT}",
        )
    except Exception as exc:  # a broken or missing model source
        from fttui.core.hub import hub_problem

        problem = hub_problem(files.id, files.source, files.revision, exc)
        if problem is not None:
            return _refused(job_id, "model_not_available", problem, "model")
        return _refused(
            job_id,
            "model_not_loadable",
            f"Could not load the tokenizer of model {files.id!r} from {files.source}: "
            f"{type(exc).__name__}: {exc}",
            "model",
        )
    validation = request.get("validation")
    try:
        train, valid = check_job_files(
            Path(request["training"]),
            Path(validation) if validation else None,
            tokenizer,
            limit,
            str(request.get("method") or "supervised"),
            grader=request.get("grader"),
        )
    except DataError as exc:
        return _refused(job_id, exc.code, str(exc), exc.param)
    except OSError as exc:
        return _refused(job_id, "invalid_file", f"Could not read the file: {exc}")
    warnings = list(iter_warnings(train)) + (list(iter_warnings(valid)) if valid else [])
    return {
        "job_id": job_id,
        "ok": True,
        "format": train.format,
        "n_training": train.n_examples,
        "n_validation": valid.n_examples if valid else 0,
        "tokens": train.n_tokens,
        "limit": limit,
        "warnings": warnings,
    }


def _refused(job_id: Any, code: str, message: str, param: str = "training_file") -> dict[str, Any]:
    return {"job_id": job_id, "ok": False, "code": code, "message": message, "param": param}


def serve(idle: float) -> int:
    # Answers go to the original stdout; anything else printed (by libraries, even from C)
    # goes to stderr, so it can never corrupt the protocol.
    answers = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    stdin = sys.stdin
    while True:
        ready, _, _ = select.select([stdin], [], [], idle)
        if not ready:
            return 0  # idle: give the memory back
        line = stdin.readline()
        if not line:
            return 0
        request: Any = None
        try:
            request = json.loads(line)
            answer = handle(request)
        except Exception as exc:  # never die on one bad request
            job_id = request.get("job_id") if isinstance(request, dict) else None
            answer = _refused(job_id, "validation_error", f"{type(exc).__name__}: {exc}", "")
        answers.write(json.dumps(answer) + "\n")
        answers.flush()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fttui.train.validate")
    parser.add_argument(
        "--idle", type=float, default=600.0, help="exit after this many idle seconds"
    )
    args = parser.parse_args(argv)
    return serve(args.idle)


if __name__ == "__main__":
    code = main()
    # Without the interpreter's teardown: the worker holds nothing to clean up, and
    # tearing down the tokenizer libraries it loaded took about 1.8 s, which the
    # server's shutdown waited for.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
