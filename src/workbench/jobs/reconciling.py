"""Reconcile a job: compare what the template projects with what the target holds, account
for every source row, and write the reconcile report (HTML, JSON, xlsx)."""

from __future__ import annotations

from pathlib import Path

from workbench.jobs import job as jobs
from workbench.jobs import parking
from workbench.jobs.context import open_context
from workbench.jobs.job import JobError
from workbench.jobs.reconcile import Reconciliation
from workbench.jobs.reconcile import reconcile as compare
from workbench.jobs.reconcile_report import write_reconcile_report
from workbench.roles import require
from workbench.target.database import open_target
from workbench.target.environments import target_env
from workbench.workspace import Workspace

RECONCILABLE = ("committed", "reconciled", "unbalanced")


def report_dir(ws: Workspace, job_id: str) -> Path:
    return ws.reports_dir / "jobs" / job_id


def reconcile(
    ws: Workspace, job_id: str, out_dir: Path | None = None
) -> tuple[Reconciliation, dict[str, Path]]:
    actor = require(ws, "run_job", what=f"reconcile {job_id}")
    job = jobs.get(ws, job_id)
    if job.status not in RECONCILABLE:
        raise JobError(f"job {job.id} is {job.status}; reconcile a committed job")
    with open_context(ws, job) as ctx, open_target(target_env(ws, job.target)) as target:
        rec = compare(
            ctx.projection,
            target,
            job.id,
            parking.counts_by_source(ws, job.id),
            parking.load_parked_keys(ws, job.id),
        )
    written = write_reconcile_report(
        rec, out_dir or report_dir(ws, job.id), title=f"Reconcile {job.id}: {job.template_ref}"
    )
    paths = {Path(name).suffix.lstrip("."): path for name, path in written.items()}
    status = "reconciled" if rec.balanced else "unbalanced"
    jobs.update(
        ws,
        job,
        status=status,
        reconcile={
            "balanced": rec.balanced,
            "discrepancies": len(rec.discrepancies),
            "report": str(paths.get("html")),
        },
    )
    jobs.audit(
        ws,
        job,
        "reconcile",
        actor,
        outcome="ok" if rec.balanced else "failed",
        counts={"discrepancies": len(rec.discrepancies)},
    )
    return rec, paths
