"""Run a checklist: every step in order, timed, into the ledger and ``reports/<run-id>/``.

A failed step stops the run (unless it is optional): the steps after it are skipped and the
run fails with the reason. What a step records as outputs becomes a parameter of the steps
after it. The run's start, every failed step and its end go to the audit log. At the end,
``before_finish`` (the go/no-go decision) sees the whole run, and what it returns is stored
on the run.
"""

from __future__ import annotations

import importlib
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.audit import AuditLog
from workbench.checklist import ledger
from workbench.checklist.context import DEFAULT_POLL_S, StepContext, StepOutcome
from workbench.checklist.definitions import Checklist
from workbench.checklist.errors import ChecklistError
from workbench.checklist.manual_step import auto_ack_entry, check_may_acknowledge
from workbench.errors import PermissionDenied, WorkbenchError
from workbench.progress import SILENT, Progress
from workbench.roles import Actor
from workbench.workspace import Workspace

# Imported when a step of that kind runs: papermill loads only for notebook steps.
EXECUTORS = {
    "notebook": "workbench.checklist.notebook_step",
    "command": "workbench.checklist.command_step",
    "manual": "workbench.checklist.manual_step",
}
RUN_ROLE = {"rehearsal": "run_job", "go-live": "go_live"}
# Every step can use these; a --param cannot set them.
RESERVED = frozenset({"target", "run_id", "run_dir", "workspace_dir", "step"})

BeforeFinish = Callable[[ledger.Run], dict[str, Any] | None]
OnStep = Callable[[ledger.RunStep], None]


def run_checklist(
    ws: Workspace,
    checklist: Checklist,
    target: str,
    parameters: dict[str, Any],
    operator: Actor,
    kind: str,
    *,
    auto_ack: dict[str, Any] | None = None,
    interactive: bool = False,
    kernel_name: str = "python3",
    progress: Progress = SILENT,
    max_wait_s: float | None = None,
    poll_s: float = DEFAULT_POLL_S,
    before_finish: BeforeFinish | None = None,
    on_step: OnStep | None = None,
    notebooks_dir: Path | None = None,
) -> ledger.Run:
    """Run ``checklist`` against ``target`` and return the run as the ledger recorded it.

    ``parameters`` override the checklist's defaults (unknown names are refused);
    ``auto_ack`` maps a manual step to the user (or ``(user, verdict)``) who acknowledged it
    in advance. A step's failure is recorded, not raised; a ChecklistError or
    PermissionDenied before the first step means no run was started.
    """
    _check_role(ws, operator, kind, checklist.name)
    params = run_parameters(checklist, parameters)
    acks = _auto_acks(ws, checklist, operator, auto_ack or {})
    run_id = ledger.new_run(
        ws, checklist, kind=kind, target=target, operator=operator.user, parameters=params
    )
    run_dir = ws.reports_dir / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    _audit(
        ws,
        operator,
        "run.start",
        run_id,
        checklist=checklist.name,
        kind=kind,
        target=target,
        checklist_sha256=checklist.sha256,
        parameters=params,
    )
    context = {
        **params,
        "target": target,
        "run_id": run_id,
        "run_dir": str(run_dir),
        "workspace_dir": str(ws.root),
    }
    failure: str | None = None
    current: str | None = None
    try:
        for seq, step in enumerate(checklist.steps, start=1):
            current = step.id
            sc = StepContext(
                ws,
                run_id,
                run_dir,
                seq,
                step,
                dict(context),
                operator,
                kernel_name,
                notebooks_dir,
                acks,
                interactive,
                poll_s,
                max_wait_s,
            )
            with progress.task(f"{seq}/{len(checklist.steps)} {step.id}: {step.title}") as task:
                outcome = _run_step(sc)
                task.advance()
            current = None
            if on_step is not None:
                on_step(ledger.get_run(ws, run_id).step(step.id))
            if outcome.passed:
                context.update(outcome.outputs)
                continue
            _audit(
                ws,
                operator,
                "run.step_failed",
                run_id,
                outcome="failed",
                step=step.id,
                optional=step.optional,
                error=outcome.error,
            )
            if not step.optional:
                failure = f"step {step.id} failed: {outcome.error}"
                break
    except BaseException as e:  # interrupted (Ctrl-C) or a broken ledger: close the run
        reason = "interrupted" if isinstance(e, KeyboardInterrupt) else _one_line(e)
        if current is not None:
            ledger.finish_step(ws, run_id, current, "failed", error=reason)
        _end(ws, operator, run_id, "failed", f"step {current}: {reason}", None)
        raise
    return _end(ws, operator, run_id, "failed" if failure else "finished", failure, before_finish)


def run_parameters(checklist: Checklist, overrides: dict[str, Any]) -> dict[str, Any]:
    """The checklist's parameter defaults with ``overrides``; a name it lacks is refused."""
    for name in overrides:
        if name in RESERVED:
            raise ChecklistError(f"parameter {name!r} is set by the run itself; it cannot be given")
        if name not in checklist.parameters:
            known = ", ".join(sorted(checklist.parameters)) or "none"
            raise ChecklistError(
                f"checklist {checklist.name} has no parameter {name!r} (parameters: {known})"
            )
    return {**checklist.parameters, **overrides}


def _run_step(sc: StepContext) -> StepOutcome:
    ledger.start_step(sc.ws, sc.run_id, sc.step.id, sc.operator.user)
    try:
        outcome = importlib.import_module(EXECUTORS[sc.step.kind]).run(sc)
    except WorkbenchError as e:
        outcome = StepOutcome("failed", error=str(e))
    except Exception as e:  # a fault in the workbench itself: keep the run's record whole
        trace = sc.run_dir / f"{sc.stem}.error.txt"
        trace.write_text(traceback.format_exc(), encoding="utf-8")
        outcome = StepOutcome("failed", error=_one_line(e), artefact=sc.relative(trace))
    ledger.finish_step(
        sc.ws,
        sc.run_id,
        sc.step.id,
        outcome.status,
        counts=outcome.counts,
        outputs=outcome.outputs,
        error=outcome.error,
        artefact=outcome.artefact,
        waiting_s=outcome.waiting_s,
        operator=outcome.operator,
    )
    return outcome


def _end(
    ws: Workspace,
    operator: Actor,
    run_id: str,
    status: str,
    reason: str | None,
    before_finish: BeforeFinish | None,
) -> ledger.Run:
    ledger.skip_remaining(ws, run_id)
    decision: dict[str, Any] | None = None
    try:
        if before_finish is not None:
            pending = ledger.get_run(ws, run_id)
            pending.status, pending.reason = status, reason  # as it is about to be recorded
            decision = before_finish(pending)
            if decision is not None:
                ledger.set_decision(ws, run_id, decision)
    except BaseException as e:
        status, reason = "failed", f"the go/no-go decision failed: {_one_line(e)}"
        raise
    finally:
        ledger.finish_run(ws, run_id, status, reason)
        run = ledger.get_run(ws, run_id)
        _audit(
            ws,
            operator,
            "run.end",
            run_id,
            outcome="ok" if status == "finished" else "failed",
            status=status,
            reason=reason,
            duration_s=run.duration_s,
            decision=(decision or {}).get("decision"),
        )
    return run


def _check_role(ws: Workspace, operator: Actor, kind: str, name: str) -> None:
    if kind not in RUN_ROLE:
        raise ChecklistError(f"run kind {kind!r} is not one of {', '.join(RUN_ROLE)}")
    action = RUN_ROLE[kind]
    if operator.may(action):
        return
    AuditLog(ws).append(
        action,
        actor=operator,
        outcome="refused",
        details={"action": action, "what": f"checklist {name}"},
    )
    raise PermissionDenied(f"user {operator} may not {action} (checklist {name})")


def _auto_acks(
    ws: Workspace, checklist: Checklist, operator: Actor, auto_ack: dict[str, Any]
) -> dict[str, Any]:
    """Refuse an advance acknowledgement for a step that is not a manual one of this list."""
    for step_id, value in auto_ack.items():
        if checklist.step(step_id).kind != "manual":
            raise ChecklistError(f"step {step_id} is not a manual step; it cannot be acknowledged")
        user, verdict = auto_ack_entry(value)
        if verdict not in ledger.VERDICTS:
            raise ChecklistError(f"step {step_id}: verdict {verdict!r}: use go or no-go")
        check_may_acknowledge(ws, operator, f"{step_id} for {user} (checklist {checklist.name})")
    return dict(auto_ack)


def _audit(
    ws: Workspace, operator: Actor, action: str, run_id: str, outcome: str = "ok", **details: Any
) -> None:
    AuditLog(ws).append(action, actor=operator, outcome=outcome, details={"run": run_id, **details})


def _one_line(e: BaseException) -> str:
    text = next((ln.strip() for ln in str(e).splitlines() if ln.strip()), "")
    if isinstance(e, WorkbenchError) and text:
        return text
    return f"{type(e).__name__}: {text}" if text else type(e).__name__
