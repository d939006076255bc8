"""A manual step: a person does something (the client validates the data) and acknowledges it.

The step waits, marked 'waiting' in the ledger with its waiting time so far, until an
acknowledgement for it appears: ``workbench checklist ack RUN STEP`` from any terminal, an
answer typed at the run's own terminal (interactive mode), or one given in advance for an
unattended run (``auto_ack``). A verdict of no-go fails the step, which stops the run: the
person responsible has said not to go on.
"""

from __future__ import annotations

import select
import sys
import time
from typing import Any, TextIO

from workbench.audit import AuditLog
from workbench.checklist import ledger
from workbench.checklist.context import StepContext, StepOutcome
from workbench.checklist.errors import ChecklistError
from workbench.errors import PermissionDenied
from workbench.roles import Actor, require
from workbench.workspace import Workspace


def run(sc: StepContext) -> StepOutcome:
    started = time.monotonic()
    if sc.step.id in sc.auto_ack:
        user, verdict = auto_ack_entry(sc.auto_ack[sc.step.id])
        found = _record(sc, user, verdict, "acknowledged in advance for an unattended run", "auto")
    else:
        found = _wait(sc, started)
    waited = time.monotonic() - started
    if found is None:
        limit = f"{sc.max_wait_s:g}" if sc.max_wait_s is not None else "?"
        return StepOutcome("failed", error=f"not acknowledged within {limit} s", waiting_s=waited)
    if found.verdict != "go":
        note = f": {found.note}" if found.note else ""
        return StepOutcome(
            "failed",
            error=f"no-go from {found.user}{note}",
            waiting_s=waited,
            operator=found.user,
        )
    return StepOutcome("passed", waiting_s=waited, operator=found.user)


def acknowledge(
    ws: Workspace, run_id: str, step: str, verdict: str = "go", note: str | None = None
) -> ledger.Ack:
    """The current user acknowledges a manual step of a running run (role acknowledge_step)."""
    actor = require(ws, "acknowledge_step", what=f"{run_id} {step}")
    entry = ledger.ack(ws, run_id, step, actor.user, verdict, note, via="command")
    _audit(ws, actor, entry)
    return entry


def check_may_acknowledge(ws: Workspace, operator: Actor, what: str) -> None:
    """Refuse (and audit the refusal) an operator who acknowledges on someone's behalf
    without the acknowledge_step role."""
    if operator.may("acknowledge_step"):
        return
    AuditLog(ws).append(
        "acknowledge_step",
        actor=operator,
        outcome="refused",
        details={"action": "acknowledge_step", "what": what},
    )
    raise PermissionDenied(f"user {operator} may not acknowledge_step {what}")


def auto_ack_entry(value: Any) -> tuple[str, str]:
    """``(user, verdict)`` from an auto_ack value: a user name, or a (user, verdict) pair."""
    if isinstance(value, str):
        return value, "go"
    user, verdict = value
    return str(user), str(verdict)


def _wait(sc: StepContext, started: float) -> ledger.Ack | None:
    console = sc.interactive and sys.stdin.isatty()
    if console:
        _prompt_intro(sc, sys.stderr)
    while True:
        found = ledger.acks_for(sc.ws, sc.run_id, sc.step.id)
        if found:
            return found[0]
        waited = time.monotonic() - started
        if sc.max_wait_s is not None and waited >= sc.max_wait_s:
            return None
        ledger.record_wait(sc.ws, sc.run_id, sc.step.id, waited)
        if console and _line_ready(sys.stdin, sc.poll_s):
            entry = _console_ack(sc, sys.stdin, sys.stderr)
            if entry is not None:
                return entry
            _prompt_intro(sc, sys.stderr)
        elif not console:
            time.sleep(sc.poll_s)


def _prompt_intro(sc: StepContext, out: TextIO) -> None:
    who = f" ({sc.step.who})" if sc.step.who else ""
    out.write(
        f"\n{sc.run_id} step {sc.step.id}: {sc.step.title}{who}\n"
        f"waiting for an acknowledgement: type the name of who acknowledges and Enter "
        f"(or run 'workbench checklist ack {sc.run_id} {sc.step.id}' elsewhere)\nname: "
    )
    out.flush()


def _line_ready(stdin: TextIO, timeout: float) -> bool:
    ready, _, _ = select.select([stdin], [], [], timeout)
    return bool(ready)


def _console_ack(sc: StepContext, stdin: TextIO, out: TextIO) -> ledger.Ack | None:
    """Read a name, a verdict and a note typed at the run's terminal; None to ask again."""
    name = stdin.readline().strip()
    if not name:
        return None
    out.write("verdict [go/no-go] (go): ")
    out.flush()
    verdict = stdin.readline().strip().lower() or "go"
    if verdict not in ledger.VERDICTS:
        out.write(f"verdict {verdict!r}: use go or no-go\n")
        return None
    out.write("note (optional): ")
    out.flush()
    note = stdin.readline().strip() or None
    text = f"typed at the run's terminal by {sc.operator.user}" + (f": {note}" if note else "")
    return _record(sc, name, verdict, text, "console")


def _record(sc: StepContext, user: str, verdict: str, note: str, via: str) -> ledger.Ack:
    """Acknowledge on the operator's word; if someone acknowledged meanwhile, theirs stands."""
    check_may_acknowledge(sc.ws, sc.operator, f"{sc.run_id} {sc.step.id} for {user}")
    try:
        entry = ledger.ack(sc.ws, sc.run_id, sc.step.id, user, verdict, note, via=via)
    except ChecklistError:
        found = ledger.acks_for(sc.ws, sc.run_id, sc.step.id)
        if not found:
            raise
        return found[0]
    _audit(sc.ws, sc.operator, entry)
    return entry


def _audit(ws: Workspace, actor: Actor, entry: ledger.Ack) -> None:
    AuditLog(ws).append(
        "run.acknowledge_step",
        actor=actor,
        details={
            "run": entry.run_id,
            "step": entry.step,
            "user": entry.user,
            "verdict": entry.verdict,
            "note": entry.note,
            "via": entry.via,
        },
    )
