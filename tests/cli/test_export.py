"""`fttui export`: a LoRA fine-tune of the tiny model, exported through the real
process from the real server, loads in transformers (merged weights, tokenizer,
chat template) and answers a prompt greedily exactly as the server does.

The default model exported as GGUF: CI checks the file with gguf's reader (metadata,
chat template, and every tensor equal to the model's own GGUF's, dequantised: what
llama.cpp loads is the model the server serves); the `long` version (run by hand:
`python -m pytest -m long tests/cli/test_export.py`) has the server convert the model
itself and loads the export in transformers (and llama.cpp where installed) to compare
answers with the server's."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import fttui
from tests.conftest import ServerProcess, running_server
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
        timeout=300,
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
    assert gguf.code == 2 and "needs a model whose base came from a GGUF" in gguf.err
    odd = fttui("export", "tiny-test", "--format", "onnx", "-o", str(tmp_path / "o"),
                base_url=cli_server.base_url)  # fmt: skip
    assert odd.code == 2 and "'format' must be one of hf, gguf" in odd.err
    missing = fttui(
        "export", "no-such-model", "-o", str(tmp_path / "m"), base_url=cli_server.base_url
    )
    assert missing.code == 3 and "no-such-model" in missing.err


def _export_default_gguf(srv: ServerProcess, out: Path) -> None:
    """`fttui export` of the default model as GGUF into `out`: the two files."""
    from fttui.core.models import DEFAULT_MODEL

    ran = fttui("export", DEFAULT_MODEL, "--format", "gguf", "-o", str(out),
                base_url=srv.base_url, timeout=400)  # fmt: skip
    assert ran.code == 0, ran.err
    assert sorted(p.name for p in out.iterdir()) == ["Modelfile", "model.gguf"]
    assert "FROM ./model.gguf" in (out / "Modelfile").read_text()


def test_default_model_exports_as_gguf_holding_its_own_weights(
    tmp_path: Path, default_model_converted: Path
) -> None:
    """The default model as model.gguf + Modelfile, from a server that holds it converted
    (as after its first use): the GGUF keeps the model's metadata and chat template, in
    float32, and under each of llama.cpp's tensor names the very numbers of the model's
    own GGUF (dequantised): names, shapes and the q/k row order all as llama.cpp reads
    them."""
    gguf = pytest.importorskip("gguf")
    import numpy as np

    from fttui.core.models import DEFAULT_MODEL, load_registry, resolve_model

    out = tmp_path / "gguf"
    with running_server(tmp_path / "data", default_model=default_model_converted) as srv:
        _export_default_gguf(srv, out)

    spec = resolve_model(load_registry(srv.data_dir), DEFAULT_MODEL)
    assert spec is not None and spec.gguf_file
    source = gguf.GGUFReader(str(Path(spec.source) / spec.gguf_file))
    exported = gguf.GGUFReader(str(out / "model.gguf"))
    assert exported.fields["general.architecture"].contents() == "llama"
    assert exported.fields["general.file_type"].contents() == gguf.LlamaFileType.ALL_F32
    template = exported.fields["tokenizer.chat_template"].contents()
    assert template == source.fields["tokenizer.chat_template"].contents() and template
    assert exported.fields["tokenizer.ggml.tokens"].contents() == (
        source.fields["tokenizer.ggml.tokens"].contents()
    )
    tensors = {t.name: t for t in exported.tensors}
    assert len(tensors) == len(source.tensors) == 272
    for original in source.tensors:
        mine = tensors[original.name]
        assert mine.tensor_type == gguf.GGMLQuantizationType.F32, original.name
        want = gguf.quants.dequantize(original.data, original.tensor_type)
        assert np.array_equal(np.asarray(mine.data), want), original.name


@pytest.mark.long
@pytest.mark.timeout(600)
def test_default_model_exports_as_gguf_that_answers_like_the_server(
    tmp_path: Path,
) -> None:
    """The default model (its base is a GGUF) as model.gguf + Modelfile: gguf's reader
    loads it, transformers loading the GGUF answers greedily as the server does, and
    llama-cpp-python too where it is installed."""
    gguf = pytest.importorskip("gguf")
    torch = pytest.importorskip("torch")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from fttui.core.models import DEFAULT_MODEL

    out = tmp_path / "gguf"
    with running_server(tmp_path / "data") as srv:
        _export_default_gguf(srv, out)
        reader = gguf.GGUFReader(str(out / "model.gguf"))
        assert reader.fields["general.architecture"].contents() == "llama"
        assert len(reader.tensors) == 272 and "tokenizer.chat_template" in reader.fields

        prompt = "The capital of France is"
        served = httpx.post(
            f"{srv.base_url}/completions",
            json={"model": DEFAULT_MODEL, "prompt": prompt, "max_tokens": 8, "temperature": 0},
            timeout=300,
        ).json()["choices"][0]["text"]
    model = AutoModelForCausalLM.from_pretrained(out, gguf_file="model.gguf").eval()
    tokenizer = AutoTokenizer.from_pretrained(out, gguf_file="model.gguf")
    ids = tokenizer(prompt, return_tensors="pt")
    with torch.no_grad():
        gen = model.generate(**ids, max_new_tokens=8, do_sample=False)
    text = tokenizer.decode(gen[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert text == served

    # llama.cpp itself: llama-cpp-python has no wheel on PyPI (it compiles llama.cpp, ~10
    # minutes here), so it is used where it is importable or from another Python that has
    # it (FTTUI_TEST_LLAMA_CPP_PYTHON), e.g. a venv it was built into once.
    other = os.environ.get("FTTUI_TEST_LLAMA_CPP_PYTHON")
    if importlib.util.find_spec("llama_cpp") is None and not other:
        pytest.skip(
            "llama-cpp-python is not installed (no wheel here; it compiles llama.cpp): "
            "set FTTUI_TEST_LLAMA_CPP_PYTHON to a Python that has it"
        )
    script = (
        "import json, sys, llama_cpp\n"
        "llm = llama_cpp.Llama(model_path=sys.argv[1], verbose=False)\n"
        "out = llm(sys.argv[2], max_tokens=8, temperature=0)\n"
        "print(json.dumps(out['choices'][0]['text']))\n"
    )
    python = sys.executable if importlib.util.find_spec("llama_cpp") else str(other)
    ran_cpp = subprocess.run(
        [python, "-c", script, str(out / "model.gguf"), prompt],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert ran_cpp.returncode == 0, ran_cpp.stderr[-2000:]
    assert json.loads(ran_cpp.stdout.strip().splitlines()[-1]) == served
