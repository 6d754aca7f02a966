"""Security: auth off loopback, upload names never become paths, request limits, rate limit,
and the API key never leaking into logs, events or error messages."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import free_port

from fttui.server import auth

from .helpers import StartServer, all_events, api, create_job, toy_jsonl, upload, wait_status

KEY = "sk-fttui-SECRET-7f3a9c"


def test_non_loopback_bind_without_key_refuses_to_start(tmp_path: Path) -> None:
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "fttui",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(free_port()),
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert run.returncode == 2
    assert "without an API key" in run.stderr and "Traceback" not in run.stderr


def test_with_a_key_every_request_needs_the_bearer(start_server: StartServer) -> None:
    srv = start_server("--host", "0.0.0.0", env={"FTTUI_API_KEY": KEY})
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": KEY},
        {"Authorization": f"Basic {KEY}"},
        {"Authorization": f"Bearer {KEY}x"},
    ):
        for method, path in (
            ("GET", "/files"),
            ("GET", "/fine_tuning/jobs"),
            ("POST", "/fine_tuning/jobs"),
            ("GET", "/models"),
        ):
            resp = httpx.request(method, srv.base_url + path, headers=headers, timeout=10)
            assert resp.status_code == 401, (headers, path, resp.text)
            assert resp.json()["error"]["code"] == "invalid_api_key"
            assert KEY not in resp.text
    with api(srv, KEY) as c:
        assert c.get("/files").status_code == 200


def _gap_ns(fn: Callable[[Any], object], early: Any, late: Any, rounds: int = 200) -> float:
    """How much longer fn(late) takes than fn(early), in ns: min over interleaved batches.

    Interleaving cancels drift from other load on the box; the minimum of many short
    batches is each call's own cost without preemption or cache misses in it.
    """
    clock = time.perf_counter_ns
    best = {False: math.inf, True: math.inf}
    for i in range(rounds):
        for is_late in (i % 2 == 0, i % 2 == 1):
            arg = late if is_late else early
            t0 = clock()
            for _ in range(5):
                fn(arg)
            best[is_late] = min(best[is_late], (clock() - t0) / 5)
    return best[True] - best[False]


def _naive_key_matches(header: str, api_key: str) -> bool:
    """What the test must catch: `key_matches` with `==` instead of a constant-time compare."""
    return header.partition(" ")[2].strip().encode() == api_key.encode()


def test_key_comparison_is_constant_time() -> None:
    """Measured, not read from the source: a wrong key that differs in its last byte
    takes as long to refuse as one that differs in its first.

    A comparison that stops at the first differing byte (`==`) leaks where a guess
    goes wrong. Each attempt measures that leak on this machine with `_naive_key_matches`
    (and checks the measurement sees it), then requires `key_matches` to show less than
    half of it. A leak is systematic, noise is not: one clean attempt in three suffices.
    """
    key = "k" * 64_000  # long, so a position-dependent compare shows in the timing
    early, late = f"Bearer x{key[1:]}", f"Bearer {key[:-1]}x"
    assert auth.key_matches(f"Bearer {key}", key)
    assert not auth.key_matches(early, key) and not auth.key_matches(late, key)
    seen = []
    for _ in range(3):
        leak = _gap_ns(lambda header: _naive_key_matches(header, key), early, late)
        gap = _gap_ns(lambda header: auth.key_matches(header, key), early, late)
        seen.append((round(gap), round(leak)))
        assert leak > 300, f"the measurement cannot see a naive compare's leak: {seen}"
        if abs(gap) < 0.5 * leak:
            return
    raise AssertionError(
        f"refusing a key wrong at its end takes longer than one wrong at its start "
        f"(gap ns, a naive compare's gap ns): {seen}"
    )


HOSTILE_NAMES = [
    "../../etc/passwd",
    "/etc/passwd",
    "..\\..\\windows\\system32\\x.jsonl",
    "a\x00b.jsonl",
    "x" * 10_000,
    "данные 🚀 ümlaut.jsonl",
    "..",
    "",
]


def test_upload_names_never_become_paths(start_server: StartServer, tmp_path: Path) -> None:
    srv = start_server("--concurrency", "0")
    before = {p for p in tmp_path.rglob("*")}
    with api(srv) as c:
        for name in HOSTILE_NAMES:
            resp = upload(c, toy_jsonl(6), name=name)
            assert resp.status_code < 500, (name[:40], resp.text)
            if resp.status_code != 200:
                assert resp.json()["error"]["message"]
                continue
            body = resp.json()
            listed = body["filename"]
            assert "/" not in listed and "\\" not in listed and "\x00" not in listed
            assert c.get(f"/files/{body['id']}/content").content == toy_jsonl(6)
        stored = sorted(p.name for p in (srv.data_dir / "files").iterdir())
        ids = sorted(f["id"] for f in c.get("/files").json()["data"])
    assert stored == ids  # bytes live only under files/<id>, whatever the name said
    created = {p for p in tmp_path.rglob("*")} - before
    outside = [p for p in created if srv.data_dir not in p.parents and p != srv.data_dir]
    assert outside == []
    assert not Path("/etc/passwd.jsonl").exists()


def test_oversize_json_body_is_413(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0")
    with api(srv) as c:
        big = {"model": "x", "training_file": "f", "metadata": {"k": "v" * 2_000_000}}
        resp = c.post("/fine_tuning/jobs", json=big)
        assert resp.status_code == 413
        assert resp.json()["error"]["code"] == "request_too_large"
        # streamed without a Content-Length the limit holds too
        chunks = (b'{"model": "' + b"a" * 500_000 for _ in range(4))
        resp = c.post(
            "/fine_tuning/jobs", content=chunks, headers={"Content-Type": "application/json"}
        )
        assert resp.status_code == 413


def test_deeply_nested_json_is_400_not_a_crash(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0")
    with api(srv) as c:
        for body in (b"[" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
            resp = c.post(
                "/fine_tuning/jobs", content=body, headers={"Content-Type": "application/json"}
            )
            assert resp.status_code == 400, resp.text[:200]
            assert resp.json()["error"]["code"] == "json_too_deep"
        # brackets inside strings are data, not nesting
        resp = c.post("/fine_tuning/jobs", json={"model": "nope", "training_file": "[" * 100})
        assert resp.status_code in (400, 404) and resp.json()["error"]["code"] != "json_too_deep"
        assert c.get("/files").status_code == 200


def test_events_limit_is_capped(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0")
    with api(srv) as c:
        file_id = upload(c, toy_jsonl(6)).json()["id"]
        job_id = create_job(c, file_id, model="ada")
        resp = c.get(f"/fine_tuning/jobs/{job_id}/events", params={"limit": 1_000_000})
        assert resp.status_code == 400 and resp.json()["error"]["param"] == "limit"
        assert (
            c.get(f"/fine_tuning/jobs/{job_id}/events", params={"limit": 1000}).status_code == 200
        )


def test_rate_limit_answers_429_with_retry_after(start_server: StartServer) -> None:
    srv = start_server("--concurrency", "0", env={"FTTUI_RATE_LIMIT": "2", "FTTUI_RATE_BURST": "5"})
    with api(srv) as c:
        codes = [c.get("/fine_tuning/jobs") for _ in range(12)]
        limited = [r for r in codes if r.status_code == 429]
        assert limited, [r.status_code for r in codes]
        assert all(r.status_code in (200, 429) for r in codes)
        retry = int(limited[0].headers["Retry-After"])
        assert 1 <= retry <= 5
        assert limited[0].json()["error"]["type"] == "rate_limit_error"
        time.sleep(retry)
        assert c.get("/fine_tuning/jobs").status_code == 200  # it recovers by itself


def test_api_key_never_leaks(
    start_server: StartServer, tiny_model_dir: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    srv = start_server("--host", "0.0.0.0", env={"FTTUI_API_KEY": KEY}, tiny_model=tiny_model_dir)
    seen: list[str] = []  # (the key is sent only as the bearer: echoing a body is no leak)
    with api(srv, KEY) as c:
        seen.append(c.get("/files", headers={"Authorization": f"Bearer {KEY}-nope"}).text)
        seen.append(
            c.post("/fine_tuning/jobs", json={"model": "no-such", "training_file": "f"}).text
        )
        seen.append(c.get("/fine_tuning/jobs/job-nope").text)
        seen.append(c.post("/fine_tuning/jobs", content=b"{not json").text)
        file_id = upload(c, toy_jsonl(12)).json()["id"]
        job_id = create_job(c, file_id, hyperparameters={"n_epochs": 1, "batch_size": 4})
        job = wait_status(c, job_id, {"succeeded", "failed", "cancelled"}, timeout=120)
        assert job["status"] == "succeeded", job
        seen.extend(e["message"] for e in all_events(c, job_id))
        seen.append(c.get(f"/fine_tuning/jobs/{job_id}").text)
    srv.stop()
    assert not any(KEY in text for text in seen)
    logs = [p for p in srv.data_dir.rglob("*") if p.is_file()]
    assert any(p.name == "server.log" for p in logs)
    assert any(p.suffix == ".log" and p.name != "server.log" for p in logs), logs
    for path in logs:
        assert KEY.encode() not in path.read_bytes(), path
    out, err = capfd.readouterr()
    assert KEY not in out and KEY not in err
