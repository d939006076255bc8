"""The release gate: a go-live needs a dress rehearsal that ended in "go" in the rehearsal
environment with the same template version, and a snapshot of the same schema."""

from __future__ import annotations

from workbench.checklist import ledger
from workbench.checklist.decision import snapshot_schema
from workbench.checklist.errors import ChecklistError
from workbench.errors import ConfigError
from workbench.mapping import workflow
from workbench.workspace import CONFIG_NAME, Workspace


def environment(ws: Workspace, role: str) -> str:
    """The target named for ``rehearsal`` or ``go_live`` in [environments]."""
    envs = ws.config.get("environments", {})
    name = envs.get(role)
    if not name:
        raise ConfigError(
            f"{ws.root / CONFIG_NAME}: [environments] names no {role} target "
            f'(add {role} = "TARGET")'
        )
    return str(name)


def passing_rehearsal(ws: Workspace, template: str) -> ledger.Run:
    """The newest rehearsal that ended in go, in the rehearsal environment, with the same
    template version (ref and sha256) as ``template`` resolves to now; else refuse."""
    rehearsal_env = environment(ws, "rehearsal")
    loaded = workflow.load(ws, template)
    if loaded.resolved.version is None:
        raise ChecklistError(
            f"go-live refused: template {template} is a draft; a go-live "
            "loads a published version (NAME@vN)"
        )
    seen = []
    for run in ledger.list_runs(ws):
        if run.kind != "rehearsal" or not run.decision:
            continue
        d = run.decision
        seen.append(f"{run.id} ({run.target}, {d.get('decision')}, {d.get('template')})")
        if (
            run.target == rehearsal_env
            and d.get("decision") == "go"
            and d.get("template") == loaded.ref
            and d.get("template_sha256") == loaded.resolved.sha256
        ):
            return run
    tried = "; ".join(seen[:5]) or "no rehearsal has run"
    raise ChecklistError(
        f"go-live refused: no dress rehearsal of {loaded.ref} ended in go in the rehearsal "
        f"environment {rehearsal_env} (rehearsals: {tried})"
    )


def check_schema(ws: Workspace, snapshot: str, against: str) -> str:
    """The go-live snapshot must have the schema the rehearsal passed with."""
    now, then = snapshot_schema(ws, snapshot), snapshot_schema(ws, against)
    if now != then:
        raise ChecklistError(
            f"snapshot {snapshot} has another schema than {against}, the "
            f"rehearsal's ({now} ≠ {then}): rehearse again with this export"
        )
    return now
