"""server.log rotates by size, and the redirected stdout/stderr follow the live file."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import ServerProcess, free_port

from .helpers import client

MAX_BYTES = 20_000


def test_server_log_rotates_by_size_and_keeps_a_bounded_history(tmp_path: Path) -> None:
    srv = ServerProcess(
        data_dir=tmp_path,
        port=free_port(),
        # the fixture redirects the server's stdout and stderr into server.log, as the
        # TUI's launcher does
        env={"FTTUI_LOG_MAX_BYTES": str(MAX_BYTES), "FTTUI_LOG_BACKUPS": "2"},
    )
    srv.start()
    try:
        with client(srv) as api:
            for i in range(600):  # ~100 bytes of access log each: several rotations
                assert api.get("/fine_tuning/jobs", params={"after": f"ftjob-{i}"}).is_success
            last = "ftjob-last-request-marker"
            api.get("/fine_tuning/jobs", params={"after": last})
        assert srv.proc is not None
        logs = sorted(p.name for p in tmp_path.glob("server.log*"))
        assert logs == ["server.log", "server.log.1", "server.log.2"], logs
        for name in logs:
            assert (tmp_path / name).stat().st_size <= MAX_BYTES, name
        assert last in (tmp_path / "server.log").read_text()
        # what the process writes to stdout/stderr goes to the live file, not a rotated one
        for fd in (1, 2):
            target = os.readlink(f"/proc/{srv.proc.pid}/fd/{fd}")
            assert target == str(tmp_path / "server.log"), target
    finally:
        srv.stop()
