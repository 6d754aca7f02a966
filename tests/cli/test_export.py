"""`fttui export`: a LoRA fine-tune of the tiny model, exported through the real
process from the real server, loads in transformers (merged weights, tokenizer,
chat template) and answers a prompt greedily exactly as the server does."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import fttui
from tests.conftest import ServerProcess
from tests.train.conftest import SEPARATOR, create_job, toy_lines, upload, wait_for


def test_exported_hf_directory_answers_like_the_server(
    cli_server: ServerProcess, tmp_path: Path
) -> None:
    train_id = upload(cli_server, "lora.jsonl", toy_lines(16))
    job = create_job(
        cli_server,
        training_file=train_id,
        model="tiny-test",
        hyperparameters={"n_epochs": 1, "batch_size": 4, "training_method": "lora"},
    )
    job = wait_for(cli_server, job["id"], {"succeeded", "failed"}, timeout=240)
    assert job["status"] == "succeeded", job.get("error")
    tuned = job["fine_tuned_model"]

    out = tmp_path / "exported"
    ran = fttui("export", tuned, "--format", "hf", "-o", str(out), base_url=cli_server.base_url)
    assert ran.code == 0, ran.err
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= names
    assert not any("adapter" in n for n in names)  # merged, not a PEFT adapter
    assert "fttui-manifest.json" not in names

    torch = pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prompt = f"dog number 7 says{SEPARATOR}"
    served = httpx.post(
        f"{cli_server.base_url}/completions",
        json={"model": tuned, "prompt": prompt, "max_tokens": 6, "temperature": 0},
        timeout=120,
    ).json()["choices"][0]["text"]
    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    assert tokenizer.chat_template  # chat template travels with the tokenizer
    ids = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        gen = model.generate(**ids, max_new_tokens=6, do_sample=False)
    new = gen[0, ids["input_ids"].shape[1] :].tolist()
    eos = tokenizer.eos_token_id
    new = new[: new.index(eos)] if eos in new else new
    assert tokenizer.decode(new, skip_special_tokens=True) == served


def test_export_refuses_what_it_cannot_do(cli_server: ServerProcess, tmp_path: Path) -> None:
    gguf = fttui("export", "tiny-test", "--format", "gguf", "-o", str(tmp_path / "g"),
                 base_url=cli_server.base_url)  # fmt: skip
    assert gguf.code == 2 and "gguf is not available" in gguf.err
    missing = fttui(
        "export", "no-such-model", "-o", str(tmp_path / "m"), base_url=cli_server.base_url
    )
    assert missing.code == 3 and "no-such-model" in missing.err
