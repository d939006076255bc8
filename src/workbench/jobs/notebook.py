"""What the job notebooks (04-06) share when they run on their own, outside a checklist:
take the default snapshot if it is missing and create a job into a throwaway sandbox."""

from __future__ import annotations

import tempfile

from workbench.jobs import api
from workbench.jobs.job import Job
from workbench.snapshot import acquire
from workbench.snapshot.store import list_snapshots
from workbench.sources import open_source
from workbench.target.prepare import prepare
from workbench.workspace import Workspace


def prepare_job(
    ws: Workspace,
    job_id: str | None,
    *,
    snapshot: str,
    source: str,
    template: str,
    target: str | None,
) -> Job:
    """The job a checklist passed, or a new one (snapshot acquired first when missing)."""
    if job_id:
        return api.show(ws, job_id)
    if snapshot not in {s.name for s in list_snapshots(ws.snapshots_dir)}:
        acquire(open_source(ws, source), ws.snapshots_dir, snapshot)
    return api.create(ws, snapshot, template, target or scratch_target(ws))


def scratch_target(ws: Workspace) -> str:
    """An ad-hoc DuckDB sandbox nobody else uses, prepared with the reference rows: exploring
    never collides with a rehearsal."""
    name = f"duckdb:{tempfile.mkdtemp(prefix='workbench-sandbox-')}/sandbox.duckdb"
    prepare(ws, name)
    return name


def ensure_committed(ws: Workspace, job: Job) -> Job:
    """Standalone reconcile: commit first when the job has not been loaded yet."""
    if job.status in ("created", "validated", "gates_failed", "paused", "committing"):
        api.commit(ws, job.id)
    return api.show(ws, job.id)
