"""A job: one snapshot through one template version into one target environment.

Its row in the state database is the job's memory between commands (and processes): status,
what it was created from, and the facts each stage found (gates, counts, checksums).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from workbench import state
from workbench.audit import AuditLog
from workbench.errors import WorkbenchError
from workbench.roles import Actor
from workbench.workspace import Workspace

STATUSES = (
    "created",
    "validated",
    "gates_failed",
    "committing",
    "paused",
    "committed",
    "reconciled",
    "unbalanced",
    "rolled_back",
    "failed",
)
DEFAULT_BATCH_SIZE = 50_000


class JobError(WorkbenchError):
    """A job cannot do what was asked in its current state."""


@dataclass
class Job:
    id: str
    snapshot: str
    snapshot_fingerprint: str
    template_ref: str
    template_sha256: str
    target: str
    status: str
    batch_size: int
    created_by: str
    created_at: str
    updated_at: str
    pause_requested: bool = False
    facts: dict[str, Any] = field(default_factory=dict)

    def audit_context(self) -> dict[str, Any]:
        return {
            "job": self.id,
            "template": {"ref": self.template_ref, "sha256": self.template_sha256},
            "snapshot": {"name": self.snapshot, "fingerprint": self.snapshot_fingerprint},
        }

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def insert(ws: Workspace, job: Job) -> Job:
    with state.connection(ws) as con, state.file_lock(ws, "jobs"):
        (count,) = con.execute("SELECT count(*) FROM jobs").fetchone()
        job.id = f"J{count + 1:04d}"
        con.execute(
            "INSERT INTO jobs(id, snapshot, snapshot_fingerprint, template_ref, template_sha256, "
            "target, status, batch_size, created_by, created_at, updated_at, facts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.snapshot,
                job.snapshot_fingerprint,
                job.template_ref,
                job.template_sha256,
                job.target,
                job.status,
                job.batch_size,
                job.created_by,
                job.created_at,
                job.updated_at,
                json.dumps(job.facts),
            ),
        )
    return job


def get(ws: Workspace, job_id: str) -> Job:
    with state.connection(ws) as con:
        con.row_factory = _row
        found = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if found is None:
        known = ", ".join(j.id for j in list_all(ws)[-5:]) or "none"
        raise JobError(f"no job {job_id} in {ws.root} (latest: {known})")
    return found


def list_all(ws: Workspace) -> list[Job]:
    with state.connection(ws) as con:
        con.row_factory = _row
        return con.execute("SELECT * FROM jobs ORDER BY id").fetchall()


def _row(cursor, values) -> Job:
    data = {d[0]: v for d, v in zip(cursor.description, values, strict=True)}
    data["facts"] = json.loads(data["facts"])
    data["pause_requested"] = bool(data["pause_requested"])
    return Job(**data)


def update(ws: Workspace, job: Job, *, status: str | None = None, **facts: Any) -> Job:
    """Set the status and merge facts; both are stored at once."""
    if status:
        if status not in STATUSES:
            raise ValueError(status)
        job.status = status
    job.facts.update(facts)
    job.updated_at = now()
    with state.connection(ws) as con:
        con.execute(
            "UPDATE jobs SET status = ?, facts = ?, updated_at = ?, template_ref = ?, "
            "template_sha256 = ? WHERE id = ?",
            (
                job.status,
                json.dumps(job.facts, default=str),
                job.updated_at,
                job.template_ref,
                job.template_sha256,
                job.id,
            ),
        )
    return job


def set_pause(ws: Workspace, job_id: str, requested: bool) -> None:
    with state.connection(ws) as con:
        con.execute("UPDATE jobs SET pause_requested = ? WHERE id = ?", (int(requested), job_id))


def pause_requested(ws: Workspace, job_id: str) -> bool:
    with state.connection(ws) as con:
        row = con.execute("SELECT pause_requested FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return bool(row and row[0])


def audit(
    ws: Workspace,
    job: Job,
    action: str,
    actor: Actor,
    *,
    outcome: str = "ok",
    counts: dict | None = None,
    details: dict | None = None,
) -> None:
    ctx = job.audit_context()
    AuditLog(ws).append(
        f"job.{action}",
        actor=actor,
        outcome=outcome,
        job=ctx["job"],
        template=ctx["template"],
        snapshot=ctx["snapshot"],
        counts=counts,
        details=details,
    )
