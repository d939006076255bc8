"""``rehearse`` and ``go-live``: a checklist run with its go/no-go decision and its report.

A go-live first passes the release gate: a dress rehearsal of the same template version
ended in go in the rehearsal environment. Every decision and promotion is audited."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from workbench.audit import AuditLog
from workbench.checklist import ledger, release, run_report
from workbench.checklist.decision import decide
from workbench.checklist.definitions import load_checklist
from workbench.checklist.runner import run_checklist
from workbench.errors import WorkbenchError
from workbench.progress import SILENT, Progress
from workbench.roles import current_actor, require
from workbench.workspace import Workspace


def rehearse(
    ws: Workspace, target: str | None = None, parameters: dict | None = None, **options: Any
) -> tuple[ledger.Run, dict[str, Path]]:
    target = target or release.environment(ws, "rehearsal")
    return _run(ws, "dress-rehearsal", "rehearsal", target, dict(parameters or {}), **options)


def go_live(
    ws: Workspace, target: str | None = None, parameters: dict | None = None, **options: Any
) -> tuple[ledger.Run, dict[str, Path]]:
    actor = require(ws, "go_live", what="go-live")
    target = target or release.environment(ws, "go_live")
    checklist = load_checklist(ws, "go-live")
    params = dict(parameters or {})
    template = params.get("template") or checklist.parameters.get("template")
    try:
        rehearsal = release.passing_rehearsal(ws, str(template))
    except WorkbenchError as e:  # also a template that cannot be resolved (MappingError)
        AuditLog(ws).append(
            "golive.refused",
            actor=actor,
            outcome="refused",
            details={"target": target, "template": template, "why": str(e)},
        )
        raise
    params["rehearsal_snapshot"] = rehearsal.decision.get("snapshot") or ""
    # Load exactly the version the rehearsal passed with, even if a newer one is published.
    params["template"] = rehearsal.decision["template"]
    AuditLog(ws).append(
        "golive.promote",
        actor=actor,
        details={
            "rehearsal": rehearsal.id,
            "target": target,
            "template": rehearsal.decision["template"],
        },
        template={
            "ref": rehearsal.decision["template"],
            "sha256": rehearsal.decision["template_sha256"],
        },
    )
    return _run(ws, "go-live", "go-live", target, params, **options)


def _run(
    ws: Workspace,
    name: str,
    kind: str,
    target: str,
    params: dict,
    *,
    auto_ack: dict | None = None,
    interactive: bool = False,
    progress: Progress = SILENT,
    kernel_name: str = "python3",
    max_wait_s: float | None = None,
    pdf: bool = True,
) -> tuple[ledger.Run, dict[str, Path]]:
    actor = current_actor(ws)
    checklist = load_checklist(ws, name)
    run = run_checklist(
        ws,
        checklist,
        target,
        params,
        actor,
        kind,
        auto_ack=auto_ack,
        interactive=interactive,
        kernel_name=kernel_name,
        progress=progress,
        max_wait_s=max_wait_s,
        before_finish=lambda r: decide(ws, r),
    )
    run = ledger.get_run(ws, run.id)
    AuditLog(ws).append(
        "run.decision",
        actor=actor,
        outcome="ok",
        details={
            "run": run.id,
            "decision": (run.decision or {}).get("decision"),
            "reasons": (run.decision or {}).get("reasons"),
        },
    )
    return run, run_report.write(ws, run.id, pdf=pdf)
