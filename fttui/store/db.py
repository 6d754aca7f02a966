"""The local server's job store: SQLite in WAL mode plus plain files on disk.

One database file (`fttui.db`) in the data directory, used by the server process
alone: trainers (local subprocesses or Ray workers) never open it; they report over
the server's internal HTTP API, which applies their reports here
(fttui/server/trainer_service.py; an import-linter contract keeps fttui.train from
importing this package). WAL mode lets the server's request threads read while the
scheduler and the report handlers write. Rows come back as plain dicts with JSON
columns already decoded; turning them into OpenAI-shaped objects is the server's
web layer's job (fttui/server/serialize.py).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
ACTIVE_STATUSES = frozenset({"validating_files", "queued", "running", "paused"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    created_at INTEGER NOT NULL,
    filename TEXT NOT NULL,
    purpose TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'processed',
    status_details TEXT,
    path TEXT NOT NULL,
    meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    created_at INTEGER NOT NULL,
    model TEXT NOT NULL,
    base_model TEXT NOT NULL,
    training_file TEXT NOT NULL,
    validation_file TEXT,
    hyperparameters TEXT NOT NULL DEFAULT '{}',
    resolved TEXT NOT NULL DEFAULT '{}',
    method TEXT NOT NULL DEFAULT '{}',
    suffix TEXT,
    seed INTEGER,
    status TEXT NOT NULL,
    fine_tuned_model TEXT,
    trained_tokens INTEGER,
    result_files TEXT NOT NULL DEFAULT '[]',
    error TEXT,
    started_at INTEGER,
    finished_at INTEGER,
    estimated_finish INTEGER,
    organization_id TEXT NOT NULL DEFAULT 'org-local',
    metadata TEXT,
    legacy INTEGER NOT NULL DEFAULT 0,
    pid INTEGER,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    extra TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status, seq);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    job_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    level TEXT NOT NULL DEFAULT 'info',
    message TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT 'message',
    data TEXT
);
CREATE INDEX IF NOT EXISTS events_job ON events(job_id, seq);
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    job_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    step_number INTEGER NOT NULL,
    fine_tuned_model_checkpoint TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    path TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_job ON checkpoints(job_id, seq);
CREATE TABLE IF NOT EXISTS trainer_reports (
    job_id TEXT NOT NULL,
    report_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (job_id, report_id)
);
CREATE TABLE IF NOT EXISTS models (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    created_at INTEGER NOT NULL,
    owned_by TEXT NOT NULL,
    job_id TEXT,
    base_model TEXT NOT NULL,
    path TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
);
"""

# Columns added after version 1, created on open when an older database lacks them:
# the trainer's token (sha256 hex, NULL once revoked), where and how the job runs
# (`runtime`), and the fine-tuned model name the server claimed for the job at start.
_ADDED_JOB_COLUMNS = {
    "trainer_token": "TEXT",
    "runtime": "TEXT",
    "model_name": "TEXT",
    # 1 from the user's pause until the trainer reported `paused` (or was seen gone):
    # the job shows `paused` at once, but resuming must wait for its checkpoint.
    "pause_requested": "INTEGER NOT NULL DEFAULT 0",
    # The job as asked for: `JobSpec.stored()` (fttui/core/job_spec.py), what the
    # trainer trains; older rows have none and are read from the columns above.
    "spec": "TEXT",
}
# Checkpoints: `kind` is `epoch` (one per epoch) or `pause` (saved where the user
# paused); `bytes` is what the directory holds on disk, `state_bytes` the part of it
# that is optimizer state (`optimizer.pt`, needed only to resume; 0 once dropped).
_ADDED_CHECKPOINT_COLUMNS = {
    "kind": "TEXT NOT NULL DEFAULT 'epoch'",
    "bytes": "INTEGER NOT NULL DEFAULT 0",
    "state_bytes": "INTEGER NOT NULL DEFAULT 0",
}
# Models: bytes on disk (the files pane's usage line counts them).
_ADDED_MODEL_COLUMNS = {"bytes": "INTEGER NOT NULL DEFAULT 0"}

_JSON_COLUMNS = {
    "spec",
    "runtime",
    "meta",
    "hyperparameters",
    "resolved",
    "method",
    "result_files",
    "error",
    "metadata",
    "extra",
    "data",
    "metrics",
}


def new_id(prefix: str) -> str:
    """An OpenAI-style id: `prefix-` plus 24 random url-safe characters."""
    return f"{prefix}-{secrets.token_hex(12)}"


def now() -> int:
    return int(time.time())


def _decode(row: sqlite3.Row | None) -> dict[str, Any] | None:
    if row is None:
        return None
    out: dict[str, Any] = {}
    for key in row.keys():  # noqa: SIM118 - iterating a sqlite3.Row yields values
        value = row[key]
        if key in _JSON_COLUMNS and isinstance(value, str):
            value = json.loads(value)
        out[key] = value
    return out


def _encode(key: str, value: Any) -> Any:
    if key in _JSON_COLUMNS and value is not None and not isinstance(value, str):
        return json.dumps(value, separators=(",", ":"))
    return value


class Store:
    """Thread-safe access to the data directory's database and file area.

    Each thread gets its own connection (sqlite3 connections must not be shared
    across threads); writes are short transactions so the request threads, the
    scheduler and the trainer reports' handlers never hold the write lock for long.
    """

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.files_dir = self.data_dir / "files"
        self.files_dir.mkdir(exist_ok=True)
        self.tmp_dir = self.data_dir / "tmp"
        self.tmp_dir.mkdir(exist_ok=True)
        self.jobs_dir = self.data_dir / "jobs"
        self.jobs_dir.mkdir(exist_ok=True)
        self.models_dir = self.data_dir / "models"
        self.models_dir.mkdir(exist_ok=True)
        self.db_path = self.data_dir / "fttui.db"
        self._local = threading.local()
        # executescript() commits on its own, so it cannot run inside _tx().
        conn = self._conn()
        conn.executescript(_SCHEMA)
        for table, added in (
            ("jobs", _ADDED_JOB_COLUMNS),
            ("checkpoints", _ADDED_CHECKPOINT_COLUMNS),
            ("models", _ADDED_MODEL_COLUMNS),
        ):
            have = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
            for column, kind in added.items():
                if column not in have:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        # Checkpoints that still hold optimizer state: few, looked up every scheduler tick.
        conn.execute(
            "CREATE INDEX IF NOT EXISTS checkpoints_state ON checkpoints(job_id) "
            "WHERE state_bytes > 0"
        )
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- connections ---------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested uses join the outer one (see `once`)."""
        conn = self._conn()
        if getattr(self._local, "depth", 0):
            self._local.depth += 1
            try:
                yield conn
            finally:
                self._local.depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")
        finally:
            self._local.depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Every write inside the block commits together, or none does.

        A status change and the event that tells it go in one transaction, so a reader
        never sees the one without the other, and an event is only written when the
        change it tells really happened (a job cancelled while its files were checked
        gets no "Files validated" after "cancelled").
        """
        with self._tx():
            yield

    @contextmanager
    def once(self, job_id: str, report_id: str) -> Iterator[bool]:
        """Apply a trainer report at most once: yields True the first time `report_id`
        is seen for the job, False for a retry.

        The report's id and every store write made inside the block commit in one
        transaction, so a crash either keeps both or neither: a trainer that retries
        after a lost answer never duplicates an event, a checkpoint or a model.
        """
        with self._tx() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO trainer_reports (job_id, report_id, created_at) "
                "VALUES (?, ?, ?)",
                (job_id, report_id, now()),
            )
            yield cur.rowcount == 1

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        return _decode(self._conn().execute(sql, params).fetchone())

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        rows = self._conn().execute(sql, params).fetchall()
        return [r for r in (_decode(row) for row in rows) if r is not None]

    def _insert(self, table: str, values: dict[str, Any]) -> None:
        cols = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        with self._tx() as conn:
            conn.execute(
                f"INSERT INTO {table} ({cols}) VALUES ({marks})",
                [_encode(k, v) for k, v in values.items()],
            )

    def _page(
        self,
        table: str,
        where: str,
        params: list[Any],
        after: str | None,
        limit: int | None,
        descending: bool = True,
    ) -> list[dict[str, Any]]:
        """Cursor pagination by id, in seq order (newest first by default), as OpenAI does."""
        op, order = ("<", "DESC") if descending else (">", "ASC")
        clauses = [where] if where else []
        if after is not None:
            clauses.append(f"seq {op} COALESCE((SELECT seq FROM {table} WHERE id = ?), -1)")
            params = [*params, after]
        sql = f"SELECT * FROM {table}"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += f" ORDER BY seq {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params = [*params, limit]
        return self._all(sql, params)

    # -- files ---------------------------------------------------------------
    def add_file(
        self,
        *,
        filename: str,
        purpose: str,
        bytes: int,
        path: str,
        meta: dict[str, Any] | None = None,
        file_id: str | None = None,
        status: str = "processed",
    ) -> dict[str, Any]:
        """Record a file whose bytes already sit, complete, at `path` (relative to data_dir)."""
        fid = file_id or new_id("file")
        self._insert(
            "files",
            {
                "id": fid,
                "created_at": now(),
                "filename": filename,
                "purpose": purpose,
                "bytes": bytes,
                "status": status,
                "path": path,
                "meta": meta or {},
            },
        )
        row = self.get_file(fid)
        assert row is not None
        return row

    def get_file(self, file_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM files WHERE id = ?", (file_id,))

    def list_files(
        self,
        purpose: str | None = None,
        after: str | None = None,
        limit: int | None = None,
        descending: bool = True,
    ) -> list[dict[str, Any]]:
        where, params = ("purpose = ?", [purpose]) if purpose else ("", [])
        return self._page("files", where, params, after, limit, descending)

    def delete_file(self, file_id: str) -> dict[str, Any] | None:
        """Forget a file and remove its bytes; returns the row it removed."""
        row = self.get_file(file_id)
        if row is None:
            return None
        with self._tx() as conn:
            conn.execute("DELETE FROM files WHERE id = ?", (file_id,))
        (self.data_dir / row["path"]).unlink(missing_ok=True)
        return row

    def file_path(self, row: dict[str, Any]) -> Path:
        return self.data_dir / row["path"]

    def total_bytes(self) -> int:
        (total,) = self._conn().execute("SELECT COALESCE(SUM(bytes), 0) FROM files").fetchone()
        return int(total)

    def file_count(self) -> int:
        (count,) = self._conn().execute("SELECT COUNT(*) FROM files").fetchone()
        return int(count)

    # -- jobs ----------------------------------------------------------------
    def create_job(self, **fields: Any) -> dict[str, Any]:
        """Insert a job; `fields` are column values (`id` optional, `status` defaults)."""
        fields.setdefault("id", new_id("ftjob"))
        fields.setdefault("created_at", now())
        fields.setdefault("status", "validating_files")
        self._insert("jobs", fields)
        row = self.get_job(fields["id"])
        assert row is not None
        return row

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM jobs WHERE id = ?", (job_id,))

    def list_jobs(
        self,
        after: str | None = None,
        limit: int | None = None,
        statuses: Iterable[str] | None = None,
        legacy: bool | None = None,
    ) -> list[dict[str, Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if statuses is not None:
            wanted = list(statuses)
            clauses.append(f"status IN ({', '.join('?' for _ in wanted)})")
            params.extend(wanted)
        if legacy is not None:
            clauses.append("legacy = ?")
            params.append(int(legacy))
        return self._page("jobs", " AND ".join(clauses), params, after, limit)

    def job_count(self, statuses: Iterable[str]) -> int:
        """How many jobs are in one of `statuses` (the scheduler asks every tick: a
        count, not the rows)."""
        wanted = list(statuses)
        marks = ", ".join("?" for _ in wanted)
        sql = f"SELECT COUNT(*) FROM jobs WHERE status IN ({marks})"
        (count,) = self._conn().execute(sql, wanted).fetchone()
        return int(count)

    def update_job(self, job_id: str, **fields: Any) -> dict[str, Any] | None:
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            with self._tx() as conn:
                conn.execute(
                    f"UPDATE jobs SET {sets} WHERE id = ?",
                    [*(_encode(k, v) for k, v in fields.items()), job_id],
                )
        return self.get_job(job_id)

    def transition(
        self,
        job_id: str,
        from_statuses: Iterable[str],
        to_status: str,
        *,
        require: dict[str, Any] | None = None,
        **fields: Any,
    ) -> bool:
        """Atomically move a job to `to_status` only if it is in one of `from_statuses`
        (and, with `require`, only if those columns hold those values).

        This is how the routes, the scheduler and the trainer reports (applied by the
        server) avoid overwriting each other: e.g. a trainer's `succeeded` report cannot
        turn a `cancelled` job into `succeeded`.
        """
        wanted = list(from_statuses)
        values = {"status": to_status, **fields}
        sets = ", ".join(f"{k} = ?" for k in values)
        marks = ", ".join("?" for _ in wanted)
        extra = "".join(f" AND {k} = ?" for k in require or {})
        with self._tx() as conn:
            cur = conn.execute(
                f"UPDATE jobs SET {sets} WHERE id = ? AND status IN ({marks}){extra}",
                [
                    *(_encode(k, v) for k, v in values.items()),
                    job_id,
                    *wanted,
                    *(_encode(k, v) for k, v in (require or {}).items()),
                ],
            )
            return cur.rowcount == 1

    def delete_job(self, job_id: str, *, only_statuses: Iterable[str]) -> bool:
        """Forget a job with its events and checkpoint rows, only if its status is one of
        `only_statuses` (so a job that started meanwhile is never deleted under its trainer).

        Its files, result files and fine-tuned model are separate objects and stay.
        """
        wanted = list(only_statuses)
        marks = ", ".join("?" for _ in wanted)
        with self._tx() as conn:
            cur = conn.execute(
                f"DELETE FROM jobs WHERE id = ? AND status IN ({marks})", [job_id, *wanted]
            )
            if cur.rowcount != 1:
                return False
            conn.execute("DELETE FROM events WHERE job_id = ?", (job_id,))
            conn.execute("DELETE FROM checkpoints WHERE job_id = ?", (job_id,))
            return True

    def next_queued_job(self) -> dict[str, Any] | None:
        """The oldest queued job (FIFO scheduling)."""
        return self._one("SELECT * FROM jobs WHERE status = 'queued' ORDER BY seq ASC LIMIT 1")

    # -- events --------------------------------------------------------------
    def add_event(
        self,
        job_id: str,
        message: str,
        *,
        level: str = "info",
        type: str = "message",
        data: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        eid = new_id("ftevent")
        self._insert(
            "events",
            {
                "id": eid,
                "job_id": job_id,
                "created_at": now(),
                "level": level,
                "message": message,
                "type": type,
                "data": data,
            },
        )
        row = self._one("SELECT * FROM events WHERE id = ?", (eid,))
        assert row is not None
        return row

    def list_events(
        self, job_id: str, after: str | None = None, limit: int | None = 20
    ) -> list[dict[str, Any]]:
        """Events newest first; `after` is the last id of the previous page (OpenAI order)."""
        return self._page("events", "job_id = ?", [job_id], after, limit, descending=True)

    def events_since(
        self, job_id: str, after_seq: int = 0, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Events oldest first with seq > after_seq: for streaming (SSE) and followers."""
        sql = "SELECT * FROM events WHERE job_id = ? AND seq > ? ORDER BY seq ASC"
        params: list[Any] = [job_id, after_seq]
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._all(sql, params)

    # -- checkpoints ---------------------------------------------------------
    def add_checkpoint(
        self,
        job_id: str,
        *,
        step_number: int,
        fine_tuned_model_checkpoint: str,
        metrics: dict[str, Any],
        path: str,
        kind: str = "epoch",
        bytes: int = 0,
        state_bytes: int = 0,
    ) -> dict[str, Any]:
        """Record a committed checkpoint; one row per step (a re-commit replaces it)."""
        cid = new_id("ftckpt")
        with self._tx() as conn:
            conn.execute(
                "DELETE FROM checkpoints WHERE job_id = ? AND step_number = ?",
                (job_id, step_number),
            )
            self._insert(
                "checkpoints",
                {
                    "id": cid,
                    "job_id": job_id,
                    "created_at": now(),
                    "step_number": step_number,
                    "fine_tuned_model_checkpoint": fine_tuned_model_checkpoint,
                    "metrics": metrics,
                    "path": path,
                    "kind": kind,
                    "bytes": bytes,
                    "state_bytes": state_bytes,
                },
            )
        row = self._one("SELECT * FROM checkpoints WHERE id = ?", (cid,))
        assert row is not None
        return row

    def list_checkpoints(
        self, job_id: str, after: str | None = None, limit: int | None = 10
    ) -> list[dict[str, Any]]:
        return self._page("checkpoints", "job_id = ?", [job_id], after, limit)

    def job_checkpoints(self, job_id: str) -> list[dict[str, Any]]:
        """Every checkpoint of a job, latest step first."""
        return self._all(
            "SELECT * FROM checkpoints WHERE job_id = ? ORDER BY step_number DESC, seq DESC",
            (job_id,),
        )

    def update_checkpoint(self, checkpoint_id: str, **fields: Any) -> None:
        if fields:
            sets = ", ".join(f"{k} = ?" for k in fields)
            with self._tx() as conn:
                conn.execute(
                    f"UPDATE checkpoints SET {sets} WHERE id = ?",
                    [*(_encode(k, v) for k, v in fields.items()), checkpoint_id],
                )

    def delete_checkpoint(self, checkpoint_id: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM checkpoints WHERE id = ?", (checkpoint_id,))

    def checkpoints_with_state(self, statuses: Iterable[str]) -> list[dict[str, Any]]:
        """Checkpoints still holding optimizer state whose job is in one of `statuses`."""
        wanted = list(statuses)
        marks = ", ".join("?" for _ in wanted)
        return self._all(
            "SELECT c.* FROM checkpoints c JOIN jobs j ON j.id = c.job_id "
            f"WHERE c.state_bytes > 0 AND j.status IN ({marks})",
            wanted,
        )

    def unsized(self, table: str) -> list[dict[str, Any]]:
        """Models or checkpoints whose size was never recorded (rows of older versions)."""
        assert table in ("models", "checkpoints")
        deleted = " AND deleted = 0" if table == "models" else ""
        return self._all(f"SELECT id, path, job_id FROM {table} WHERE bytes = 0{deleted}")

    def set_bytes(self, table: str, row_id: str, size: int) -> None:
        assert table in ("models", "checkpoints")
        with self._tx() as conn:
            conn.execute(f"UPDATE {table} SET bytes = ? WHERE id = ?", (size, row_id))

    def artifact_bytes(self) -> tuple[int, int]:
        """(fine-tuned models, checkpoints): bytes on disk, as recorded at commit."""
        conn = self._conn()
        (models,) = conn.execute(
            "SELECT COALESCE(SUM(bytes), 0) FROM models WHERE deleted = 0"
        ).fetchone()
        (checkpoints,) = conn.execute("SELECT COALESCE(SUM(bytes), 0) FROM checkpoints").fetchone()
        return int(models), int(checkpoints)

    def disk_bytes_by_job(self, job_id: str | None = None) -> dict[str, int]:
        """Bytes each job's checkpoints and fine-tuned model hold on disk (a model's
        bytes are those its checkpoints do not share: fttui/server/checkpoints.py);
        one job's with `job_id`. Jobs that hold nothing are absent."""
        where = "" if job_id is None else "WHERE job_id = ?"
        rows = self._conn().execute(
            "SELECT job_id, SUM(bytes) FROM ("
            "SELECT job_id, bytes FROM checkpoints UNION ALL "
            "SELECT job_id, bytes FROM models WHERE deleted = 0 AND job_id IS NOT NULL"
            f") {where} GROUP BY job_id",
            () if job_id is None else (job_id,),
        )
        return {str(job): int(total or 0) for job, total in rows}

    # -- models --------------------------------------------------------------
    def add_model(
        self,
        model_id: str,
        *,
        base_model: str,
        path: str,
        job_id: str | None = None,
        owned_by: str = "org-local",
        bytes: int = 0,
    ) -> dict[str, Any]:
        self._insert(
            "models",
            {
                "id": model_id,
                "created_at": now(),
                "owned_by": owned_by,
                "job_id": job_id,
                "base_model": base_model,
                "path": path,
                "bytes": bytes,
            },
        )
        row = self.get_model(model_id)
        assert row is not None
        return row

    def get_model(self, model_id: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM models WHERE id = ? AND deleted = 0", (model_id,))

    def list_models(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM models WHERE deleted = 0 ORDER BY seq ASC")

    def model_name_taken(self, name: str) -> bool:
        """Whether a model (deleted ones included) or a started job holds `name`."""
        row = (
            self._conn()
            .execute(
                "SELECT 1 FROM models WHERE id = ? UNION ALL SELECT 1 FROM jobs WHERE model_name = ?",
                (name, name),
            )
            .fetchone()
        )
        return row is not None

    def delete_model(self, model_id: str) -> bool:
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE models SET deleted = 1 WHERE id = ? AND deleted = 0", (model_id,)
            )
            return cur.rowcount == 1
