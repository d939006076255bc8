"""The workspace state database: ``state/state.sqlite`` (the audit log's head; later jobs and
runs), and the file locks that serialise writers across processes.

The schema grows by migrations. To add tables, append a migration to ``MIGRATIONS``; never
edit or reorder one that has shipped, because a workspace records how many it has applied.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from workbench.workspace import Workspace

STATE_DIR = "state"
STATE_DB = "state.sqlite"
BUSY_TIMEOUT_MS = 30_000

# Each migration is a tuple of SQL statements, applied in one transaction.
MIGRATIONS: list[tuple[str, ...]] = [
    (
        "CREATE TABLE audit_head("
        "id INTEGER PRIMARY KEY CHECK(id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)",
    ),
    # Migration jobs: one row per job, its parked records.
    (
        "CREATE TABLE jobs(id TEXT PRIMARY KEY, snapshot TEXT NOT NULL, "
        "snapshot_fingerprint TEXT NOT NULL, template_ref TEXT NOT NULL, "
        "template_sha256 TEXT NOT NULL, target TEXT NOT NULL, status TEXT NOT NULL, "
        "batch_size INTEGER NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL, "
        "updated_at TEXT NOT NULL, pause_requested INTEGER NOT NULL DEFAULT 0, "
        "facts TEXT NOT NULL DEFAULT '{}')",
        "CREATE TABLE parked(job_id TEXT NOT NULL, mapping TEXT NOT NULL, "
        "source_table TEXT NOT NULL, source_key TEXT NOT NULL, target_table TEXT, "
        "stage TEXT NOT NULL, rule TEXT NOT NULL, reason TEXT, batch INTEGER, "
        "status TEXT NOT NULL DEFAULT 'parked', note TEXT, decided_by TEXT, decided_at TEXT, "
        "PRIMARY KEY (job_id, mapping, source_table, source_key))",
    ),
    # Checklist runs (dress rehearsals, go-lives): the run ledger and its acknowledgements.
    (
        "CREATE TABLE runs(id TEXT PRIMARY KEY, checklist TEXT NOT NULL, "
        "checklist_sha256 TEXT, kind TEXT NOT NULL, target TEXT NOT NULL, "
        "status TEXT NOT NULL, operator TEXT NOT NULL, parameters TEXT NOT NULL DEFAULT '{}', "
        "started_at TEXT NOT NULL, ended_at TEXT, reason TEXT, decision TEXT)",
        "CREATE TABLE run_steps(run_id TEXT NOT NULL REFERENCES runs(id), seq INTEGER NOT NULL, "
        "step TEXT NOT NULL, title TEXT NOT NULL, kind TEXT NOT NULL, planned_s REAL, "
        "optional INTEGER NOT NULL DEFAULT 0, started_at TEXT, ended_at TEXT, duration_s REAL, "
        "waiting_s REAL, status TEXT NOT NULL DEFAULT 'pending', operator TEXT, "
        "counts TEXT NOT NULL DEFAULT '{}', outputs TEXT NOT NULL DEFAULT '{}', error TEXT, "
        "artefact TEXT, PRIMARY KEY (run_id, seq), UNIQUE (run_id, step))",
        "CREATE TABLE acks(run_id TEXT NOT NULL REFERENCES runs(id), step TEXT NOT NULL, "
        "user TEXT NOT NULL, at TEXT NOT NULL, verdict TEXT NOT NULL, note TEXT, "
        "via TEXT NOT NULL, PRIMARY KEY (run_id, step))",
    ),
]


def state_dir(ws: Workspace) -> Path:
    path = ws.root / STATE_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def open_state(ws: Workspace) -> sqlite3.Connection:
    """A connection to the state database, migrated to the current schema.

    Autocommit (``isolation_level=None``): callers open their own ``BEGIN IMMEDIATE`` when
    several statements must commit together.
    """
    con = sqlite3.connect(state_dir(ws) / STATE_DB, isolation_level=None, timeout=30)
    try:
        # busy_timeout first: switching to WAL itself waits on other processes' locks.
        con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _use_wal(con)
        migrate(con)
    except BaseException:
        con.close()
        raise
    return con


def _use_wal(con: sqlite3.Connection) -> None:
    """WAL is a property of the database file: set it once. Switching needs a moment of
    exclusive access, which SQLite's busy handler does not wait for, so retry briefly."""
    for attempt in range(50):
        try:
            if con.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            con.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or attempt == 49:
                raise
            time.sleep(0.1)


def _version(con: sqlite3.Connection) -> int | None:
    try:
        return con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
    except sqlite3.OperationalError:  # a new database: no schema_version table yet
        return None


def migrate(con: sqlite3.Connection) -> int:
    """Apply the migrations this database lacks; returns the schema version."""
    if _version(con) == len(MIGRATIONS):
        return len(MIGRATIONS)  # the common case: no write lock taken just to open
    con.execute("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)")
    # IMMEDIATE takes the write lock before reading the version, so two processes opening a
    # new workspace at once cannot both apply the same migration.
    con.execute("BEGIN IMMEDIATE")
    try:
        row = con.execute("SELECT max(version) FROM schema_version").fetchone()
        current = row[0] or 0
        for version, statements in enumerate(MIGRATIONS[current:], start=current + 1):
            for sql in statements:
                con.execute(sql)
            con.execute("INSERT INTO schema_version(version) VALUES (?)", (version,))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return len(MIGRATIONS)


@contextmanager
def connection(ws: Workspace) -> Iterator[sqlite3.Connection]:
    """``open_state`` that closes the connection on exit."""
    with closing(open_state(ws)) as con:
        yield con


@contextmanager
def file_lock(ws: Workspace, name: str) -> Iterator[None]:
    """Hold an exclusive lock on ``state/NAME.lock`` (blocking) across processes.

    flock locks are released by the kernel when a process dies, so a crash never leaves
    a stale lock behind.
    """
    fd = os.open(state_dir(ws) / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
