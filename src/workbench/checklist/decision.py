"""Go / no-go: from the failed steps, the quality gates, the reconcile balance and the
client's recorded validation. The decision record is stored on the run and audited."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from workbench.checklist.ledger import Run
from workbench.errors import WorkbenchError
from workbench.jobs import job as jobs
from workbench.snapshot.store import open_snapshot
from workbench.workspace import Workspace

CLIENT_STEPS = ("client_validation", "client_signoff")


def job_of(run: Run) -> str | None:
    for step in reversed(run.steps):
        if step.outputs.get("job_id"):
            return str(step.outputs["job_id"])
    return None


def snapshot_schema(ws: Workspace, snapshot: str) -> str:
    """A signature of a snapshot's tables, columns and types: compatible snapshots share it."""
    manifest = open_snapshot(ws.snapshots_dir, snapshot).manifest
    shape = sorted((t.name, [(c.name, c.type) for c in t.columns]) for t in manifest.tables)
    return hashlib.sha256(json.dumps(shape, default=str).encode()).hexdigest()[:16]


def decide(ws: Workspace, run: Run) -> dict:
    reasons = [f"step {s.step} failed: {s.error}" for s in run.steps if s.status == "failed"]
    if run.status == "failed" and not reasons:
        reasons.append(f"the run failed: {run.reason}")
    record: dict = {"at": datetime.now(UTC).isoformat(timespec="seconds")}
    job_id = job_of(run)
    if job_id is None:
        reasons.append("no migration job ran")
    else:
        reasons += _job_reasons(ws, job_id, record)
    signed = [a for a in run.acks if a.step in CLIENT_STEPS]
    if not signed:
        reasons.append("the client's validation is not recorded")
    elif any(a.verdict != "go" for a in signed):
        reasons.append(f"the client said no-go ({signed[-1].user}: {signed[-1].note or ''})")
    record["signed_off_by"] = signed[-1].user if signed else None
    record["decision"] = "no-go" if reasons else "go"
    record["reasons"] = reasons or [
        "every step passed, every gate passed, the reconcile balanced and the client validated"
    ]
    return record


def _job_reasons(ws: Workspace, job_id: str, record: dict) -> list[str]:
    job = jobs.get(ws, job_id)
    record.update(
        job_id=job.id,
        template=job.template_ref,
        template_sha256=job.template_sha256,
        snapshot=job.snapshot,
        snapshot_fingerprint=job.snapshot_fingerprint,
    )
    try:
        record["snapshot_schema"] = snapshot_schema(ws, job.snapshot)
    except WorkbenchError:
        record["snapshot_schema"] = None
    reasons = []
    gates = job.facts.get("gates") or []
    reasons += [
        f"gate {g['gate']} failed: {g['ratio']:.2%} < {g['threshold']:.0%}"
        for g in gates
        if not g["passed"]
    ]
    if not gates:
        reasons.append(f"job {job.id} was not validated")
    rec = job.facts.get("reconcile")
    if not rec:
        reasons.append(f"job {job.id} was not reconciled")
    elif not rec.get("balanced"):
        reasons.append(f"job {job.id} does not balance ({rec.get('discrepancies')} discrepancies)")
    return reasons
