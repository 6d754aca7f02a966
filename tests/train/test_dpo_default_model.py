"""DPO on the default model (SmolLM2-135M-Instruct, converted from its GGUF by the
trainer) through the real server: on held-out pairs the fine-tuned model prefers the
preferred output more often than the base model did, and the held-out reward accuracy
ends above 0.8.

The task (`fttui.train.tiny.preference_task(kind="exclaim")`): both outputs are the same
sentence about the question's subject, the preferred one ends with "!", the other with
"."; held-out pairs use sentences (predicates) the training pairs never had.

Long (several minutes on 2 cores): `pytest -m long tests/train/test_dpo_default_model.py -s`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from conftest import ServerProcess, free_port

from fttui.core.models import DEFAULT_MODEL
from fttui.train.tiny import preference_task

from .conftest import create_job, events, upload, wait_for


@pytest.fixture(scope="module")
def default_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(data_dir=tmp_path_factory.mktemp("dpo-e2e"), port=free_port())
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.mark.long
@pytest.mark.timeout(1800)
def test_default_model_learns_a_preference_by_dpo(default_server: ServerProcess) -> None:
    train_rows = preference_task(100, seed=1, kind="exclaim")
    # Held out: other sentences; no input may repeat a training input (the server
    # refuses a validation file that overlaps the training file).
    seen = {json.dumps(r["input"], sort_keys=True) for r in train_rows}
    valid_rows = [
        r
        for r in preference_task(80, offset=400, seed=2, kind="exclaim")
        if json.dumps(r["input"], sort_keys=True) not in seen
    ][:30]
    assert len(valid_rows) >= 15
    train_id = upload(default_server, "dpo-train.jsonl", [json.dumps(r) for r in train_rows])
    valid_id = upload(default_server, "dpo-valid.jsonl", [json.dumps(r) for r in valid_rows])
    started = time.monotonic()
    job = create_job(
        default_server,
        model=DEFAULT_MODEL,
        training_file=train_id,
        validation_file=valid_id,
        method={
            "type": "dpo",
            "dpo": {"hyperparameters": {"beta": "auto", "n_epochs": 2, "batch_size": 8}},
        },
        suffix="exclaim",
        seed=5,
    )
    done = wait_for(default_server, job["id"], {"succeeded", "failed", "cancelled"}, timeout=1700)
    took = time.monotonic() - started
    assert done["status"] == "succeeded", done["error"]
    evs = events(default_server, job["id"])
    step0 = next(e for e in evs if e["message"].startswith("Before training (step 0)"))["data"]
    after = next(e["message"] for e in evs if e["message"].startswith("After training"))
    metrics = [e["data"] for e in evs if e["type"] == "metrics"]
    final = [m for m in metrics if "validation_reward_accuracy" in m][-1]
    share_before = step0["validation_preferred_share"]
    share_after = float(after.split(" on ")[1].split("%")[0]) / 100
    print(
        f"\nDPO on {DEFAULT_MODEL}: {len(train_rows)} training / {len(valid_rows)} held-out "
        f"pairs, {final['step']} steps in {took:.0f} s (job created to succeeded); "
        f"hyperparameters {done['method']['dpo']['hyperparameters']}; "
        f"held-out: reward accuracy 0 -> {final['validation_reward_accuracy']:.2f}, "
        f"margin {final['validation_reward_margin']:.3f}, loss {step0['validation_loss']:.4f} "
        f"-> {final['validation_loss']:.4f}; model prefers the preferred output on "
        f"{share_before:.0%} -> {share_after:.0%} of held-out pairs"
    )
    assert final["validation_reward_accuracy"] > 0.8
    assert share_after > share_before
