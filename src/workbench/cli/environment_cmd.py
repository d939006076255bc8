"""``workbench target prepare`` and ``workbench preflight``: make a clean environment, and
confirm the EHR is up before a run."""

from __future__ import annotations

from pathlib import Path

import typer

from workbench.cli.edge import JsonOption, WorkspaceOption, emit_json, out, workspace


def register(app: typer.Typer) -> None:
    app.command("preflight")(preflight)


def preflight(
    target: str = typer.Argument(..., help="The target environment to check."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Check the target EHR: reachable, schema version, reference rows (facility, staff)."""
    from workbench.checklist.preflight import preflight as check

    result = check(workspace(workspace_dir), target)
    if as_json:
        emit_json(result.to_dict())
    else:
        for c in result.checks:
            out.print(f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}", highlight=False)
        out.print(f"{result.target}: {'ready' if result.ok else 'NOT ready'}")
    if not result.ok:
        raise typer.Exit(1)


def prepare(
    target: str = typer.Argument(..., help="The target environment to prepare."),
    reset: bool = typer.Option(False, "--reset", help="Drop everything in it first."),
    yes: bool = typer.Option(False, "--yes", help="Confirm --reset."),
    model: str = typer.Option("ehr", "--model", help="The target model."),
    workspace_dir: Path = WorkspaceOption,
) -> None:
    """Make a clean, configured environment: the model's schema and its reference rows."""
    from workbench.target.prepare import prepare as make

    summary = make(workspace(workspace_dir), target, model, reset=reset, confirm=yes)
    out.print(summary)
