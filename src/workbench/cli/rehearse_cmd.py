"""``workbench rehearse`` and ``workbench go-live``: run a checklist, decide go or no-go,
write the run's report; ``workbench checklist schema-check`` for the release gate."""

from __future__ import annotations

from pathlib import Path

import typer

from workbench.cli.edge import JsonOption, RichProgress, WorkspaceOption, emit_json, out, workspace

ParamOption = typer.Option(
    None,
    "--param",
    "-p",
    metavar="NAME=VALUE",
    help="Override a checklist parameter (names, never secrets).",
)
AckOption = typer.Option(
    None,
    "--ack",
    metavar="STEP=USER[:VERDICT]",
    help="Acknowledge a manual step in advance (unattended runs).",
)
InteractiveOption = typer.Option(False, "--interactive", help="Prompt for manual steps.")
PdfOption = typer.Option(True, "--pdf/--no-pdf", help="Also print the report to PDF.")
TargetOption = typer.Option(None, "--target", help="Target environment (default: [environments]).")


def register(app: typer.Typer) -> None:
    from workbench.cli.checklist_cmd import checklist_app

    app.command("rehearse")(rehearse)
    app.command("go-live")(go_live)
    checklist_app.command("schema-check")(schema_check)


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    from workbench.checklist.errors import ChecklistError

    pairs = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ChecklistError(f"{what} {item!r}: write NAME=VALUE")
        pairs[name.strip()] = value.strip()
    return pairs


def _acks(items: list[str] | None) -> dict[str, tuple[str, str]]:
    return {
        step: tuple(([*who.split(":", 1), "go"])[:2])
        for step, who in _pairs(items, "--ack").items()
    }


def _run(kind: str, target, params, acks, interactive, pdf, workspace_dir, as_json) -> None:
    from workbench.checklist import orchestrate

    wsp = workspace(workspace_dir)
    start = orchestrate.rehearse if kind == "rehearse" else orchestrate.go_live
    with RichProgress() as progress:
        run, paths = start(
            wsp,
            target,
            _pairs(params, "--param"),
            auto_ack=_acks(acks),
            interactive=interactive,
            progress=progress,
            pdf=pdf,
        )
    decision = (run.decision or {}).get("decision", "no-go")
    if as_json:
        emit_json(
            {
                "run": run.id,
                "status": run.status,
                "decision": run.decision,
                "reports": {k: str(v) for k, v in paths.items()},
            }
        )
    else:
        for reason in (run.decision or {}).get("reasons", []):
            out.print(f"  {reason}", highlight=False)
        out.print(f"{run.id}: {decision.upper()}; report {paths['html']}", highlight=False)
    if decision != "go":
        raise typer.Exit(1)


def rehearse(
    target: str = TargetOption,
    param: list[str] = ParamOption,
    ack: list[str] = AckOption,
    interactive: bool = InteractiveOption,
    pdf: bool = PdfOption,
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Run the timed dress rehearsal into the rehearsal environment: go or no-go."""
    _run("rehearse", target, param, ack, interactive, pdf, workspace_dir, as_json)


def go_live(
    target: str = TargetOption,
    param: list[str] = ParamOption,
    ack: list[str] = AckOption,
    interactive: bool = InteractiveOption,
    pdf: bool = PdfOption,
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Run the go-live checklist; refused without a passing dress rehearsal."""
    _run("go-live", target, param, ack, interactive, pdf, workspace_dir, as_json)


def schema_check(
    snapshot: str = typer.Argument(..., help="The new snapshot."),
    against: str = typer.Option(..., "--against", help="The snapshot the rehearsal passed with."),
    workspace_dir: Path = WorkspaceOption,
) -> None:
    """Fail unless SNAPSHOT has the same tables, columns and types as the rehearsal's."""
    from workbench.checklist.release import check_schema

    signature = check_schema(workspace(workspace_dir), snapshot, against)
    out.print(f"{snapshot}: same schema as {against} ({signature})")
