"""What the server keeps of a job's checkpoints, and the checkpoint a resume starts from.

A trainer uploads a checkpoint at the end of every epoch and one where the user
paused (docs/cluster.md). Each holds the weights (what a user may want to keep),
`training_state.pt` (step, counters, the schedule's position, random states: a few
kilobytes) and `optimizer.pt` (AdamW's two moments per weight: twice the weights,
1.1 GB of the default model's 1.6 GB checkpoint), which only resuming needs.
Kept on disk, per job:

- the last `keep` epoch checkpoints (3 by default, as OpenAI keeps; `--keep-checkpoints`,
  `FTTUI_KEEP_CHECKPOINTS`, 0 keeps them all); older ones are deleted, row and files;
- a pause checkpoint until a later checkpoint exists (it is then superseded);
- the optimizer state only on the latest checkpoint of a job that can still go on
  (running or paused): a resume needs nothing older, and a job that is final
  (succeeded, failed, cancelled) can never resume, so it keeps none.

So a finished default-model job keeps 3 x 540 MB of weights, never 3 x 1.6 GB, and a
running or paused one at most 1.1 GB more.

A job's weights are stored once: its final model is the weights of its last epoch
checkpoint (a full fine-tune saves the same bytes twice, at the last epoch's end and
as the model), so when the model is committed each of its files that a checkpoint of
the job (or the converted base model in `models/base/`) holds byte for byte becomes a
hard link to that copy (`link_duplicates`). Either can then be deleted without the
other losing anything (a link is counted by the file system), a resume still reads the
checkpoint's own files, and nothing ever writes a stored file in place (every write is
a new file renamed over). The model's recorded `bytes` are its files no checkpoint
shares, so models + checkpoints add up to what the disk holds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any

from fttui.core.checkpoint_files import MANIFEST, OPTIMIZER_FILE, STATE_FILE
from fttui.store.db import FINAL_STATUSES, Store

log = logging.getLogger("fttui.server.checkpoints")

DEFAULT_KEEP = 3


def directory_bytes(directory: Path) -> int:
    """Bytes of the regular files directly in `directory` (0 when it is gone)."""
    try:
        return sum(p.stat().st_size for p in directory.iterdir() if p.is_file())
    except OSError:
        return 0


# Files of a base model's converted copy compared by content when their size matches
# (tokenizer and config files); its weights never match a fine-tuned model's.
_BASE_COMPARE_MAX = 64 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _same_copy(store: Store, job_id: str, name: str, size: int, sha256: str) -> Path | None:
    """A stored file with these bytes: in one of the job's checkpoints (by manifest) or
    in a converted base model under `models/base/` (hashed when the size matches)."""
    for row in store.job_checkpoints(job_id):
        directory = store.data_dir / row["path"]
        for f in _files(directory):
            if f["name"] == name and f.get("sha256") == sha256 and (directory / name).is_file():
                return directory / name
    if size > _BASE_COMPARE_MAX:
        return None
    for base in sorted((store.models_dir / "base").glob("*/")):
        path = base / name
        try:
            if path.is_file() and path.stat().st_size == size and _sha256(path) == sha256:
                return path
        except OSError:
            continue
    return None


def link_duplicates(store: Store, job_id: str, directory: Path, files: list[dict[str, Any]]) -> int:
    """Make each file of `directory` (a just committed model, `files` its manifest)
    that the job's checkpoints or a converted base model already hold a hard link to
    that copy; returns the bytes now shared. Best effort: a file system without hard
    links keeps the two copies."""
    shared = 0
    for f in files:
        name, sha256 = str(f["name"]), str(f.get("sha256"))
        target = directory / name
        try:
            size = target.stat().st_size
            copy = _same_copy(store, job_id, name, size, sha256)
            if copy is None:
                continue
            if not os.path.samefile(copy, target):
                link = directory / f".{name}.link"
                link.unlink(missing_ok=True)
                os.link(copy, link)
                os.replace(link, target)
            shared += size
        except OSError as exc:
            log.info("kept a second copy of %s: %s", target, exc)
    return shared


def _rounded_copy(narrow: Path, wide: Path) -> bool:
    """Whether safetensors file `wide` (float32) holds the same tensors as `narrow`
    once each is rounded to `narrow`'s narrower float format, bit for bit.

    The formats are read from the files' headers first: a model stored as float32
    (most small and test models) is answered without importing torch, which costs the
    server a second or more of its first finished job."""
    from safetensors import safe_open

    with safe_open(str(narrow), "numpy") as small, safe_open(str(wide), "numpy") as big:
        small_keys, big_keys = list(small.keys()), list(big.keys())
        if {small.get_slice(k).get_dtype() for k in small_keys} - {"BF16", "F16"}:
            return False
        if {big.get_slice(k).get_dtype() for k in big_keys} != {"F32"}:
            return False
    import torch

    with safe_open(str(narrow), "pt") as small, safe_open(str(wide), "pt") as big:
        keys = list(small.keys())
        if set(keys) != set(big.keys()):
            return False
        for key in keys:
            a, b = small.get_tensor(key), big.get_tensor(key)
            if b.dtype != torch.float32 or a.dtype not in (torch.bfloat16, torch.float16):
                return False
            if a.shape != b.shape or not torch.equal(b.to(a.dtype), a):
                return False
    return True


def _config_but_dtype(a: Path, b: Path) -> bool:
    """Whether two config.json files say the same but for the weights' format."""
    try:
        one, two = json.loads(a.read_text()), json.loads(b.read_text())
    except (OSError, ValueError):
        return False
    for config in (one, two):
        config.pop("dtype", None)
        config.pop("torch_dtype", None)
    return bool(one == two)


def share_rounded_weights(
    store: Store, job_id: str, directory: Path, files: list[dict[str, Any]]
) -> int:
    """A final model stored narrower than float32 (its `stored_dtype`) is its last
    checkpoint's float32 weights rounded. Once the model is committed the job has
    trained its last step: no resume needs that checkpoint's float32 weights (a
    resume from the last step trains nothing and saves the same model), so the
    checkpoint's weights (and its config, which differs only in the format) become
    hard links to the model's, proved equal tensor by tensor after rounding. The job
    then holds one copy of its weights, in the narrower format; serving or
    downloading that checkpoint gives the final model's answers. Earlier checkpoints
    keep their float32 weights. Returns the bytes freed."""
    freed = 0
    by_name = {str(f["name"]): f for f in files}
    weights = [n for n in by_name if n.endswith(".safetensors")]
    if not weights:
        return 0
    for row in store.job_checkpoints(job_id):
        ckpt = store.data_dir / row["path"]
        manifest = _files(ckpt)
        names = {str(f["name"]) for f in manifest}
        if not set(weights) <= names:
            continue
        try:
            if any(os.path.samefile(ckpt / n, directory / n) for n in weights):
                continue
            if not all(_rounded_copy(directory / n, ckpt / n) for n in weights):
                continue
            linked = list(weights)
            if "config.json" in names and _config_but_dtype(
                ckpt / "config.json", directory / "config.json"
            ):
                linked.append("config.json")
            for name in linked:
                freed += (ckpt / name).stat().st_size
                link = ckpt / f".{name}.link"
                link.unlink(missing_ok=True)
                os.link(directory / name, link)
                os.replace(link, ckpt / name)
        except (OSError, ValueError) as exc:
            log.info("kept the float32 weights of %s: %s", ckpt, exc)
            continue
        updated = [
            {**f, "bytes": by_name[f["name"]]["bytes"], "sha256": by_name[f["name"]]["sha256"]}
            if f["name"] in linked
            else f
            for f in manifest
        ]
        _write_manifest(ckpt, updated)
        store.update_checkpoint(row["id"], bytes=directory_bytes(ckpt))
        log.info("checkpoint %s now shares the model's %s weights", ckpt, ", ".join(linked))
    return freed


def own_bytes(store: Store, job_id: str | None, directory: Path) -> int:
    """Bytes of a model's files that none of its job's checkpoints shares."""
    shared: set[tuple[int, int]] = set()
    if job_id:
        for row in store.job_checkpoints(job_id):
            try:
                for p in (store.data_dir / row["path"]).iterdir():
                    st = p.stat()
                    shared.add((st.st_dev, st.st_ino))
            except OSError:
                continue
    total = 0
    try:
        for p in directory.iterdir():
            if p.is_file():
                st = p.stat()
                if (st.st_dev, st.st_ino) not in shared:
                    total += st.st_size
    except OSError:
        return 0
    return total


def _files(directory: Path) -> list[dict[str, Any]]:
    try:
        return list(json.loads((directory / MANIFEST).read_text())["files"])
    except (OSError, ValueError, KeyError):
        return []


def _write_manifest(directory: Path, files: list[dict[str, Any]]) -> None:
    tmp = directory / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps({"files": files}, indent=1))
    os.replace(tmp, directory / MANIFEST)


def state_bytes(files: list[dict[str, Any]]) -> int:
    """Bytes of optimizer state among a checkpoint's files (0: it cannot resume)."""
    names = {f["name"]: int(f.get("bytes") or 0) for f in files}
    if STATE_FILE not in names or OPTIMIZER_FILE not in names:
        return 0
    return names[OPTIMIZER_FILE]


def _drop_state(store: Store, row: dict[str, Any]) -> None:
    """Delete a checkpoint's optimizer state; its weights and counters stay."""
    directory = store.data_dir / row["path"]
    files = [f for f in _files(directory) if f["name"] != OPTIMIZER_FILE]
    (directory / OPTIMIZER_FILE).unlink(missing_ok=True)
    if directory.is_dir():
        _write_manifest(directory, files)
    store.update_checkpoint(row["id"], state_bytes=0, bytes=directory_bytes(directory))


def _delete(store: Store, row: dict[str, Any]) -> None:
    directory = (store.data_dir / row["path"]).resolve()
    store.delete_checkpoint(row["id"])
    # Only ever remove directories inside the jobs area.
    if directory.is_relative_to(store.jobs_dir.resolve()) and directory.is_dir():
        shutil.rmtree(directory, ignore_errors=True)


def apply_retention(store: Store, job_id: str, keep: int) -> list[int]:
    """Enforce what the module docstring says for one job; returns the deleted steps."""
    job = store.get_job(job_id)
    final = job is None or job["status"] in FINAL_STATUSES
    rows = store.job_checkpoints(job_id)  # latest step first
    deleted: list[int] = []
    epochs = 0
    kept: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        if row["kind"] == "pause" and i > 0:
            superseded = True  # a later checkpoint exists
        elif row["kind"] != "pause":
            epochs += 1
            superseded = keep > 0 and epochs > keep
        else:
            superseded = False
        if superseded:
            _delete(store, row)
            deleted.append(int(row["step_number"]))
        else:
            kept.append(row)
    holder = None if final else next((r for r in kept if r["state_bytes"] > 0), None)
    for row in kept:
        if row["state_bytes"] > 0 and row is not holder:
            _drop_state(store, row)
    return deleted


def drop_state_of_final_jobs(store: Store) -> int:
    """Optimizer state of jobs that can no longer resume; run on every scheduler tick
    (whatever made the job final: its trainer, a cancel, a failure, a restart)."""
    rows = store.checkpoints_with_state(FINAL_STATUSES)
    for row in rows:
        try:
            _drop_state(store, row)
        except OSError as exc:
            log.warning("could not drop the optimizer state of %s: %s", row["path"], exc)
    return len(rows)


def resume_point(store: Store, job_id: str) -> dict[str, Any] | None:
    """The latest checkpoint a resume can start from (it holds the optimizer state)."""
    for row in store.job_checkpoints(job_id):
        if row["state_bytes"] > 0:
            return row
    return None


def resume_from(store: Store, job_id: str) -> dict[str, Any] | None:
    """The spec's `resume_from`: the checkpoint's step, name and files with sha256."""
    row = resume_point(store, job_id)
    if row is None:
        return None
    files = _files(store.data_dir / row["path"])
    canonical = json.dumps(sorted((f["name"], f["sha256"]) for f in files))
    return {
        "step": int(row["step_number"]),
        "checkpoint": row["fine_tuned_model_checkpoint"],
        "files": files,
        "checksum": hashlib.sha256(canonical.encode()).hexdigest(),
    }


def backfill_artifact_bytes(store: Store) -> None:
    """Sizes of models and checkpoints recorded before sizes were recorded (their rows
    say 0 bytes): measured once on disk."""
    for row in store.unsized("checkpoints"):
        size = directory_bytes(store.data_dir / row["path"])
        if size:
            store.set_bytes("checkpoints", row["id"], size)
    for row in store.unsized("models"):
        size = own_bytes(store, row.get("job_id"), store.data_dir / row["path"])
        if size:
            store.set_bytes("models", row["id"], size)


def checkpoint_file(store: Store, job_id: str, step: int, name: str) -> Path | None:
    """A file of the job's checkpoint at `step`, if it is one of its manifest's files."""
    for row in store.job_checkpoints(job_id):
        if int(row["step_number"]) == step:
            directory = store.data_dir / row["path"]
            if name in {f["name"] for f in _files(directory)}:
                return directory / name
            return None
    return None
