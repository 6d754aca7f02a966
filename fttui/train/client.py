"""The trainer's side of the trainer protocol: reads over HTTP, ordered idempotent reports.

A trainer knows three things: the server's URL, its job id and a per-job token (from
`FTTUI_TRAINER_TOKEN`, so `ps` never shows it). It runs wherever the server is
reachable: on the server's machine (the local runner, over loopback) or on a Ray
node. It never opens the server's data directory.

- `ServerClient` reads the job spec, the job's files and, when continuing from a
  fine-tuned model, that model's files (cached on the node by checksum), and uploads
  artifacts file by file with their sha256. Transient failures (connection refused
  or dropped, 5xx, 429) are retried with exponential backoff for up to
  `FTTUI_TRAINER_OFFLINE_S` seconds (default 900): a server restart costs a pause,
  not the job.
- `Reports` is an ordered outbox drained by one thread. Each report gets a
  client-side id (`<run id>-<sequence>`), so a batch re-sent after a lost answer is
  applied once; an upload sits in the same queue, so a checkpoint's files always
  arrive before the report that commits them, and everything reaches the server in
  the order it happened. While the server is down, training goes on and reports
  wait; they are flushed in order when it is back. Every answer (and a poll each
  second when idle) carries `control`, which is how cancel reaches a trainer that
  no signal can reach (a Ray worker).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import secrets
import shutil
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential_jitter

from fttui import __version__
from fttui.core.checkpoint_files import MANIFEST

log = logging.getLogger("fttui.train.client")

TOKEN_ENV = "FTTUI_TRAINER_TOKEN"
OFFLINE_ENV = "FTTUI_TRAINER_OFFLINE_S"
CACHE_ENV = "FTTUI_CACHE_DIR"
DEFAULT_OFFLINE_S = 900.0
POLL_S = 1.0
BATCH = 100
_T = TypeVar("_T")


class TokenRefused(Exception):
    """The server no longer accepts this trainer (job final, token revoked or wrong)."""


class ServerGone(Exception):
    """The server stayed unreachable longer than the offline limit."""


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, httpx.TransportError):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code in (408, 429, 500, 502, 503, 504)
    return False


def _error_message(resp: httpx.Response) -> str:
    try:
        return str(resp.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return resp.text[:300]


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_dir() -> Path:
    """The node's cache: converted base models and fine-tuned models by checksum."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("fttui"))


class ServerClient:
    """HTTP calls of one job's trainer, each retried while the failure is transient."""

    def __init__(self, url: str, job_id: str, token: str, offline_s: float | None = None) -> None:
        self.url = url.rstrip("/")
        self.job_id = job_id
        if offline_s is None:
            offline_s = float(os.environ.get(OFFLINE_ENV) or DEFAULT_OFFLINE_S)
        self.offline_s = offline_s
        self.http = httpx.Client(
            base_url=f"{self.url}/internal/v1/jobs/{job_id}",
            # The version: the server refuses a trainer of another fttui version.
            headers={"Authorization": f"Bearer {token}", "X-Fttui-Version": __version__},
            timeout=httpx.Timeout(60.0, connect=5.0),
        )

    def close(self) -> None:
        self.http.close()

    # -- plumbing ---------------------------------------------------------------------
    def _retrying(self, what: str, call: Callable[[], _T]) -> _T:
        """`call()` until it succeeds, a permanent error, or `offline_s` of failures."""

        def before_sleep(state: Any) -> None:
            exc = state.outcome.exception() if state.outcome else None
            print(
                f"[fttui trainer] {what}: {type(exc).__name__}: {exc}; retrying",
                file=sys.stderr,
                flush=True,
            )

        try:
            for attempt in Retrying(
                retry=retry_if_exception(_transient),
                wait=wait_exponential_jitter(initial=0.2, max=5.0),
                stop=stop_after_delay(self.offline_s),
                before_sleep=before_sleep,
                reraise=True,
            ):
                with attempt:
                    return call()
        except (httpx.TransportError, httpx.HTTPStatusError) as exc:
            if _transient(exc):
                raise ServerGone(
                    f"{what}: the server at {self.url} was unreachable for "
                    f"{self.offline_s:.0f} s ({exc})"
                ) from exc
            raise
        raise AssertionError("unreachable")

    def _check(self, resp: httpx.Response) -> httpx.Response:
        if resp.status_code == 401:
            raise TokenRefused(_error_message(resp))
        if resp.status_code >= 400:
            resp.read()
            raise httpx.HTTPStatusError(
                f"{resp.status_code}: {_error_message(resp)}", request=resp.request, response=resp
            )
        return resp

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        def call() -> Any:
            return self._check(self.http.request(method, path, **kwargs)).json()

        return self._retrying(f"{method} {path or '/'}", call)

    # -- reads --------------------------------------------------------------------------
    def spec(self) -> dict[str, Any]:
        return dict(self._json("GET", "/spec"))

    def control(self) -> dict[str, Any] | None:
        """One poll, no retry: None when the server does not answer right now."""
        try:
            return dict(self._check(self.http.get("/control", timeout=10.0)).json())
        except (httpx.TransportError, httpx.HTTPStatusError, ValueError):
            return None

    def download(self, path: str, dest: Path, sha256: str | None = None) -> Path:
        """Stream `path` to `dest` (via `dest.part`, renamed when complete and checked)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")

        def call() -> Path:
            digest = hashlib.sha256()
            with self.http.stream("GET", path) as resp, open(part, "wb") as out:
                self._check(resp)
                for chunk in resp.iter_bytes(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            if sha256 is not None and digest.hexdigest() != sha256:
                part.unlink(missing_ok=True)
                raise httpx.TransportError(f"{path}: checksum mismatch, downloading again")
            os.replace(part, dest)
            return dest

        return self._retrying(f"download {path}", call)

    def fetch_model(self, source: dict[str, Any], cache: Path) -> Path:
        """The fine-tuned model to continue from, cached on this node by checksum."""
        root = cache / "checksum"
        target = root / str(source["checksum"])
        if (target / MANIFEST).exists():
            return target
        root.mkdir(parents=True, exist_ok=True)
        with open(root / f".{target.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if (target / MANIFEST).exists():
                return target
            tmp = root / f".{target.name}.tmp-{os.getpid()}"
            shutil.rmtree(tmp, ignore_errors=True)
            for f in source["files"]:
                self.download(f"/source-model/{f['name']}", tmp / f["name"], f["sha256"])
            (tmp / MANIFEST).write_text(json.dumps({"files": source["files"]}))
            os.replace(tmp, target)
        return target

    # -- writes -------------------------------------------------------------------------
    def post_reports(self, reports: list[dict[str, Any]]) -> dict[str, Any]:
        return dict(self._json("POST", "/reports", json={"reports": reports}))

    def upload(self, upload_id: str, files: list[tuple[Path, dict[str, Any]]]) -> None:
        """PUT each file with its sha256; files the server already holds are skipped."""

        def have() -> dict[str, str]:
            listed = self._json("GET", f"/uploads/{upload_id}")["files"]
            return {f["name"]: f["sha256"] for f in listed}

        held = have()
        for path, meta in files:
            if held.get(meta["name"]) == meta["sha256"]:
                continue

            def put(path: Path = path, meta: dict[str, Any] = meta) -> None:
                with open(path, "rb") as body:
                    resp = self.http.put(
                        f"/uploads/{upload_id}/{meta['name']}",
                        content=body,
                        headers={
                            "X-Content-SHA256": meta["sha256"],
                            "Content-Length": str(meta["bytes"]),
                        },
                    )
                self._check(resp)

            self._retrying(f"upload {upload_id}/{meta['name']}", put)


@dataclass
class _Upload:
    """An artifact directory to upload, then commit with `report`."""

    upload_id: str
    directory: Path
    report: dict[str, Any]
    remove_after: bool


@dataclass
class Reports:
    """The ordered outbox of one trainer (rank 0); see the module docstring."""

    client: ServerClient
    run_id: str = field(default_factory=lambda: secrets.token_hex(6))
    action: str = "continue"
    refused: str | None = None
    gone: str | None = None
    _seq: int = 0
    _queue: deque[dict[str, Any] | _Upload] = field(default_factory=deque)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _busy: bool = False
    _closed: bool = False
    _thread: threading.Thread | None = None

    def start(self) -> Reports:
        self._thread = threading.Thread(target=self._run, name="fttui-reports", daemon=True)
        self._thread.start()
        return self

    def _next_id(self) -> str:
        self._seq += 1
        return f"{self.run_id}-{self._seq:07d}"

    def add(self, kind: str, **fields: Any) -> None:
        with self._cond:
            if self.refused or self.gone:
                return  # nobody to tell any more
            self._queue.append({"id": self._next_id(), "kind": kind, **fields})
            self._cond.notify_all()

    def add_upload(
        self, kind: str, directory: Path, *, remove_after: bool = True, **fields: Any
    ) -> None:
        """Upload every file of `directory`, then commit it with a `kind` report."""
        with self._cond:
            if self.refused or self.gone:
                return
            report_id = self._next_id()
            report = {"id": report_id, "kind": kind, "upload": report_id, **fields}
            self._queue.append(_Upload(report_id, directory, report, remove_after))
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been delivered (or can never be)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while (self._queue or self._busy) and not (self.refused or self.gone):
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._cond.wait(timeout=left if left is not None else 1.0)
        return not (self.refused or self.gone)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # -- the sender thread ------------------------------------------------------------
    def _run(self) -> None:
        last_poll = 0.0
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    if time.monotonic() - last_poll >= POLL_S:
                        break
                    self._cond.wait(timeout=POLL_S)
                if self._closed and not self._queue:
                    return
                head: list[dict[str, Any] | _Upload] = []
                if self._queue and isinstance(self._queue[0], _Upload):
                    head = [self._queue[0]]
                else:
                    for item in self._queue:
                        if isinstance(item, _Upload) or len(head) >= BATCH:
                            break
                        head.append(item)
                self._busy = bool(head)
            try:
                if not head:
                    last_poll = time.monotonic()
                    answer = self.client.control()
                    if answer is not None:
                        self._apply_control(answer)
                    continue
                if isinstance(head[0], _Upload):
                    self._send_upload(head[0])
                else:
                    reports = [h for h in head if isinstance(h, dict)]
                    self._apply_answer(self.client.post_reports(reports))
                with self._cond:
                    for _ in head:
                        self._queue.popleft()
            except TokenRefused as exc:
                self._give_up(refused=str(exc))
            except ServerGone as exc:
                self._give_up(gone=str(exc))
            except Exception as exc:  # a permanent error: drop the item, say so, go on
                print(f"[fttui trainer] report dropped: {exc}", file=sys.stderr, flush=True)
                with self._cond:
                    for _ in head:
                        self._queue.popleft()
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _send_upload(self, upload: _Upload) -> None:
        report = dict(upload.report)
        if "files" not in report:
            report["files"] = [
                {"name": p.name, "bytes": p.stat().st_size, "sha256": sha256_file(p)}
                for p in sorted(upload.directory.iterdir())
                if p.is_file()
            ]
            upload.report = report  # hashed once, even if the upload is retried
        pairs = [(upload.directory / f["name"], f) for f in report["files"]]
        self.client.upload(upload.upload_id, pairs)
        self._apply_answer(self.client.post_reports([report]))
        if upload.remove_after:
            shutil.rmtree(upload.directory, ignore_errors=True)

    def _apply_answer(self, answer: dict[str, Any]) -> None:
        for rejected in answer.get("rejected") or []:
            print(
                f"[fttui trainer] the server refused report {rejected.get('id')}: "
                f"{rejected.get('message')}",
                file=sys.stderr,
                flush=True,
            )
        if isinstance(answer.get("control"), dict):
            self._apply_control(answer["control"])

    def _apply_control(self, control: dict[str, Any]) -> None:
        action = control.get("action")
        if isinstance(action, str) and action != "continue":
            self.action = action

    def _give_up(self, *, refused: str | None = None, gone: str | None = None) -> None:
        print(
            f"[fttui trainer] giving up reporting: {refused or gone}", file=sys.stderr, flush=True
        )
        with self._cond:
            self.refused, self.gone = refused, gone
            self.action = "cancel"
            self._queue.clear()
            self._cond.notify_all()


def token_from_env() -> str:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise SystemExit(
            f"fttui trainer: no token: set {TOKEN_ENV} (the server passes it to the trainer it starts)"
        )
    return token
