"""A job cancelled while its files are checked keeps "cancelled" as its last word.

The server validates a job's files in a worker process and polls the job's status at
most twice a second; a cancel that lands after the last poll used to be followed by
"Files validated: ..." events for a job that was no longer going anywhere (the legacy
event stream then ended on that line, not on the cancellation). Real store, real
validation worker, the tiny model's tokenizer.
"""

from __future__ import annotations

from pathlib import Path

from conftest import register_tiny_model

from fttui.server.validation import Validator, validate_job
from fttui.store import Store

MODEL = "tiny-test"
LINES = "".join(
    f'{{"prompt": "cat number {i} says\\n\\n###\\n\\n", "completion": " meow END"}}\n'
    for i in range(20)
)


def _job(store: Store, data_dir: Path, name: str) -> dict[str, object]:
    path = data_dir / "files" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LINES)
    row = store.add_file(
        filename=name, purpose="fine-tune", bytes=path.stat().st_size, path=f"files/{name}"
    )
    job = store.create_job(model=MODEL, base_model=MODEL, training_file=row["id"])
    store.add_event(str(job["id"]), f"Created fine-tuning job: {job['id']}")
    return job


def test_a_job_cancelled_during_validation_gets_no_validated_events(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    register_tiny_model(tmp_path, tiny_model_dir, MODEL)
    store = Store(tmp_path)
    validator = Validator(tmp_path)
    try:
        # A first job warms the worker up, so the next check answers well inside the
        # half second between status polls: the window the cancel used to fall into.
        warm = _job(store, tmp_path, "warm.jsonl")
        validate_job(store, warm, validator)
        assert store.get_job(str(warm["id"]))["status"] == "queued"  # type: ignore[index]

        job = _job(store, tmp_path, "train.jsonl")
        job_id = str(job["id"])
        # Cancelled (as the cancel route does) after the scheduler read the job.
        assert store.transition(job_id, ["validating_files"], "cancelled")
        store.add_event(job_id, "Fine-tuning job cancelled")
        validate_job(store, job, validator)

        assert store.get_job(job_id)["status"] == "cancelled"  # type: ignore[index]
        messages = [e["message"] for e in store.list_events(job_id, limit=50)]
        assert not any("Files validated" in m for m in messages), messages
        assert messages[0] == "Fine-tuning job cancelled", messages  # newest first
    finally:
        validator.close()
        store.close()
