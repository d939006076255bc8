"""What every stage of a job needs: its template (verified against the hash it was created
with), its snapshot (verified against its fingerprint) and the projection of one over the
other."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.jobs.job import Job, JobError
from workbench.mapping import workflow
from workbench.mapping.projection import Projection, project
from workbench.snapshot.store import Snapshot, open_snapshot
from workbench.workspace import Workspace


@dataclass
class JobContext:
    job: Job
    loaded: workflow.LoadedTemplate
    snapshot: Snapshot
    projection: Projection

    def close(self) -> None:
        self.projection.con.close()

    def __enter__(self) -> JobContext:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def load_template(ws: Workspace, job: Job) -> workflow.LoadedTemplate:
    loaded = workflow.load(ws, job.template_ref)
    if loaded.resolved.sha256 != job.template_sha256:
        raise JobError(
            f"job {job.id}: template {job.template_ref} changed since the job was created "
            f"(sha256 {loaded.resolved.sha256[:12]} ≠ {job.template_sha256[:12]}); "
            "publish it and create a new job"
        )
    return loaded


def open_context(ws: Workspace, job: Job) -> JobContext:
    loaded = load_template(ws, job)
    snapshot = open_snapshot(ws.snapshots_dir, job.snapshot)
    if snapshot.manifest.fingerprint != job.snapshot_fingerprint:
        raise JobError(
            f"job {job.id}: snapshot {job.snapshot} is not the one the job was created from "
            f"(fingerprint {snapshot.manifest.fingerprint} ≠ {job.snapshot_fingerprint})"
        )
    con = snapshot.connect()
    try:
        projection = project(con, workflow.compile_loaded(loaded, con))
    except BaseException:
        con.close()
        raise
    return JobContext(job, loaded, snapshot, projection)
