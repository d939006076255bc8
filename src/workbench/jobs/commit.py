"""Commit: load a job's projection into its target, batch by batch, parking what the target
refuses; pause after any batch and resume from the target's own record of its batches.

A batch and its marker row commit in one target transaction, so after a crash (even
SIGKILL) the target says exactly which batches are in; a resumed commit skips those and
loads the rest, giving the same target an uninterrupted run would have left.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from workbench import state
from workbench.jobs import batches as batching
from workbench.jobs import gates as gates_mod
from workbench.jobs import job as jobs
from workbench.jobs import parking
from workbench.jobs.context import open_context
from workbench.jobs.job import Job, JobError
from workbench.progress import SILENT, Progress
from workbench.roles import require
from workbench.target.database import open_target
from workbench.target.environments import target_env
from workbench.workspace import Workspace

COMMITTABLE = ("created", "validated", "gates_failed", "committing", "paused")


@dataclass
class CommitResult:
    job: Job
    batches: int
    skipped: int  # already in the target (a resumed commit)
    loaded: dict[str, int]
    parked_at_load: int
    paused: bool


def commit(
    ws: Workspace,
    job_id: str,
    progress: Progress = SILENT,
    override_reason: str | None = None,
) -> CommitResult:
    actor = require(ws, "run_job", what=f"commit {job_id}")
    job = jobs.get(ws, job_id)
    if job.status not in COMMITTABLE:
        raise JobError(
            f"job {job.id} is {job.status}; only a job that is not yet committed "
            "can commit (create a new job)"
        )
    with exclusive(ws, job), open_context(ws, job) as ctx:
        _check_gates(ws, job, ctx.projection, override_reason)
        jobs.set_pause(ws, job.id, False)
        jobs.update(ws, job, status="committing")
        jobs.audit(ws, job, "commit_start", actor, details={"target": job.target})
        with open_target(target_env(ws, job.target)) as target:
            target.ensure_schema(ctx.loaded.model)
            _check_reference_rows(target, ctx.loaded.model, job)
            if "pre_commit_checksums" not in job.facts:
                sums = {
                    t: [c.rows, c.digest] for t, c in target.checksums(ctx.loaded.model).items()
                }
                jobs.update(ws, job, pre_commit_checksums=sums, pre_commit_at=jobs.now())
            parking.record_projection(ws, job, ctx.projection)
            result = _load(ws, job, ctx.projection, target, progress)
    status = "paused" if result.paused else "committed"
    jobs.update(ws, job, status=status, loaded=result.loaded)
    counts = {
        "batches": result.batches,
        "skipped": result.skipped,
        "parked_at_load": result.parked_at_load,
        **result.loaded,
    }
    jobs.audit(ws, job, "pause" if result.paused else "commit", actor, counts=counts)
    return result


def _check_reference_rows(target, model, job) -> None:
    """Rows pointing at the tenant's facilities and staff cannot load into an unprepared
    target: say so before parking everything."""
    empty = [
        t.name for t in model.tables.values() if t.reference and not target.reference_rows(t.name)
    ]
    if empty:
        raise JobError(
            f"job {job.id}: {target.label} has no {', '.join(empty)} rows; prepare "
            f"it first (workbench target prepare {job.target})"
        )


def _check_gates(ws, job, projection, override_reason) -> None:
    results = gates_mod.evaluate(projection)
    failed = gates_mod.failing(results)
    jobs.update(ws, job, gates=[g.to_dict() for g in results])
    if not failed:
        return
    summary = "; ".join(gates_mod.describe(g) for g in failed)
    if not override_reason:
        raise JobError(
            f"job {job.id}: quality gates failed ({summary}); a migration_engineer "
            "may commit anyway with --override-gates REASON"
        )
    actor = require(ws, "override_gate", what=f"gates of {job.id}")
    jobs.update(ws, job, gate_override={"by": actor.user, "reason": override_reason})
    jobs.audit(
        ws, job, "override_gates", actor, details={"reason": override_reason, "failed": summary}
    )


def _load(ws, job, projection, target, progress) -> CommitResult:
    plan = batching.plan(projection, job.batch_size)
    done = target.committed_batches(job.id)
    parking.recover_interrupted(ws, job, projection, target, plan, done)
    parked = 0
    paused = False
    todo = [b for b in plan if b.number not in done]
    skipped = len(plan) - len(todo)
    with progress.task(f"commit {job.id}", total=sum(b.rows for b in plan)) as task:
        task.advance(sum(b.rows for b in plan if b.number in done))
        for i, batch in enumerate(todo):
            rows = batching.batch_rows(projection, batch)
            result = target.load_batch(job.id, batch.number, batch.table, rows)
            parking.record_load(ws, job, batch, result.parked)
            parked += result.parked.num_rows
            task.advance(batch.rows)
            if i + 1 < len(todo) and jobs.pause_requested(ws, job.id):
                paused = True
                break
    loaded = target.job_counts(job.id)
    return CommitResult(job, len(plan), skipped, loaded, parked, paused)


def pause(ws: Workspace, job_id: str) -> Job:
    actor = require(ws, "run_job", what=f"pause {job_id}")
    job = jobs.get(ws, job_id)
    if job.status != "committing":
        raise JobError(f"job {job.id} is {job.status}, not committing: nothing to pause")
    jobs.set_pause(ws, job.id, True)
    jobs.audit(ws, job, "pause_request", actor)
    return job


def resume(ws: Workspace, job_id: str, progress: Progress = SILENT) -> CommitResult:
    job = jobs.get(ws, job_id)
    if job.status not in ("paused", "committing"):
        raise JobError(f"job {job.id} is {job.status}; only a paused or interrupted commit resumes")
    return commit(
        ws, job_id, progress, override_reason=job.facts.get("gate_override", {}).get("reason")
    )


@contextmanager
def exclusive(ws: Workspace, job: Job) -> Iterator[None]:
    """One committing process per job; the kernel drops the lock if the process dies."""
    path = state.state_dir(ws) / f"job-{job.id}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise JobError(f"job {job.id} is being committed by another process") from None
        yield
    finally:
        os.close(fd)
