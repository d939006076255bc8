"""Roll back a committed job: delete exactly the rows it loaded (found by lineage), in one
transaction and in foreign-key order, then prove it: none of its rows remain, and the
target's checksums equal those taken before the job's first batch."""

from __future__ import annotations

from dataclasses import dataclass

from workbench.jobs import job as jobs
from workbench.jobs.commit import exclusive
from workbench.jobs.context import load_template
from workbench.jobs.job import Job, JobError
from workbench.roles import require
from workbench.target.database import open_target
from workbench.target.environments import target_env
from workbench.workspace import Workspace

ROLLBACKABLE = ("committing", "paused", "committed", "reconciled", "unbalanced")


@dataclass
class Rollback:
    job: Job
    deleted: dict[str, int]
    remaining: int
    checksums_restored: bool | None  # None: another job committed since, not comparable
    changed_tables: list[str]


def rollback(ws: Workspace, job_id: str, confirm: bool = False) -> Rollback:
    actor = require(ws, "rollback", what=f"job {job_id}")
    job = jobs.get(ws, job_id)
    if job.status not in ROLLBACKABLE:
        raise JobError(f"job {job.id} is {job.status}: nothing to roll back")
    if not confirm:
        jobs.audit(ws, job, "rollback", actor, outcome="refused", details={"why": "not confirmed"})
        raise JobError(
            f"rolling back {job.id} deletes every row it loaded into {job.target}; "
            "confirm with --yes"
        )
    model = load_template(ws, job).model
    with exclusive(ws, job), open_target(target_env(ws, job.target)) as target:
        deleted = target.delete_job(job.id, model)
        remaining = sum(target.job_counts(job.id).values())
        after = {t: [c.rows, c.digest] for t, c in target.checksums(model).items()}
    restored, changed = _compare(ws, job, after)
    result = Rollback(job, deleted, remaining, restored, changed)
    jobs.update(
        ws,
        job,
        status="rolled_back",
        rollback={
            "deleted": deleted,
            "remaining": remaining,
            "checksums_restored": restored,
            "changed_tables": changed,
        },
    )
    jobs.audit(
        ws,
        job,
        "rollback",
        actor,
        outcome="ok" if remaining == 0 else "failed",
        counts={"deleted": sum(deleted.values()), "remaining": remaining},
        details={"checksums_restored": restored, "changed_tables": changed},
    )
    if remaining:
        raise JobError(f"job {job.id}: {remaining} rows remain in {job.target} after rollback")
    return result


def _compare(ws: Workspace, job: Job, after: dict) -> tuple[bool | None, list[str]]:
    before = job.facts.get("pre_commit_checksums")
    if before is None:
        return None, []
    since = job.facts.get("pre_commit_at")
    if since is None:  # a job committed before pre_commit_at was kept: by creation order
        later = [
            j
            for j in jobs.list_all(ws)
            if j.target == job.target
            and j.id > job.id
            and j.status not in ("created", "validated", "gates_failed", "rolled_back")
        ]
    else:
        # Any other job that loaded or rolled back on this target since the checksums were
        # taken, whatever its number (a job created earlier may commit later).
        later = [
            j
            for j in jobs.list_all(ws)
            if j.target == job.target
            and j.id != job.id
            and j.updated_at >= since
            and j.status not in ("created", "validated", "gates_failed")
        ]
    changed = sorted(t for t in set(before) | set(after) if before.get(t) != after.get(t))
    if later:
        return None, changed
    return not changed, changed
