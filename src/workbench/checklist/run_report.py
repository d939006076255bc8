"""Build a run's report from the ledger, the job it ran and the runs before it, and write it
to ``reports/<run-id>/`` (index.html, index.pdf, checklist.xlsx)."""

from __future__ import annotations

import json
from pathlib import Path

from workbench.checklist import ledger
from workbench.checklist.decision import job_of
from workbench.checklist.report import write_run_report
from workbench.checklist.report_model import RunRecord, RunReport, StepRecord
from workbench.errors import WorkbenchError
from workbench.jobs import job as jobs
from workbench.jobs.parking import summary
from workbench.snapshot.store import open_snapshot
from workbench.workspace import Workspace


def run_dir(ws: Workspace, run_id: str) -> Path:
    return ws.reports_dir / run_id


def record_of(ws: Workspace, run: ledger.Run) -> RunRecord:
    steps = [
        StepRecord(
            s.seq,
            s.step,
            s.title,
            s.kind,
            s.planned_s,
            s.started_at,
            s.ended_at,
            s.duration_s,
            s.waiting_s,
            s.status,
            s.operator,
            s.counts,
            s.error,
            _relative(ws, run.id, s.artefact),
        )
        for s in run.steps
    ]
    return RunRecord(
        run.id,
        run.checklist,
        run.kind,
        run.target,
        run.status,
        run.operator,
        run.parameters,
        run.started_at,
        run.ended_at,
        steps,
        run.decision,
        _snapshot_rows(ws, run),
    )


def _relative(ws: Workspace, run_id: str, artefact: str | None) -> str | None:
    """The ledger keeps artefacts relative to the workspace; the page links from its folder."""
    if not artefact:
        return None
    path = Path(artefact)
    path = path if path.is_absolute() else ws.root / path
    try:
        return str(path.relative_to(run_dir(ws, run_id)))
    except ValueError:
        return str(path)


def _snapshot_rows(ws: Workspace, run: ledger.Run) -> int | None:
    job_id = job_of(run)
    if not job_id:
        return None
    try:
        snap = open_snapshot(ws.snapshots_dir, jobs.get(ws, job_id).snapshot)
    except WorkbenchError:
        return None
    return sum(t.rows for t in snap.manifest.tables)


def build(ws: Workspace, run_id: str) -> RunReport:
    run = ledger.get_run(ws, run_id)
    record = record_of(ws, run)
    gates, rec, parked = [], None, []
    if job_id := job_of(run):
        job = jobs.get(ws, job_id)
        gates = job.facts.get("gates") or []
        rec = _reconcile(job.facts.get("reconcile"))
        parked = summary(ws, job_id).to_dicts()
    previous = [
        record_of(ws, r)
        for r in ledger.list_runs(ws)
        if r.id != run.id and r.started_at < run.started_at
    ]
    return RunReport(record, gates, rec, parked, previous[:5])


def _reconcile(facts: dict | None) -> dict | None:
    """The reconcile summary, read back from the job's reconcile.json."""
    if not facts or not facts.get("report"):
        return None
    path = Path(facts["report"]).with_suffix(".json")
    if not path.is_file():
        return {"balanced": facts.get("balanced"), "discrepancies": [], "source_lines": []}
    data = json.loads(path.read_text())
    return {
        "balanced": data.get("balanced"),
        "discrepancies": data.get("discrepancies", []),
        "source_lines": data.get("source_lines", []),
    }


def write(ws: Workspace, run_id: str, pdf: bool = True) -> dict[str, Path]:
    return write_run_report(build(ws, run_id), run_dir(ws, run_id), pdf=pdf)
