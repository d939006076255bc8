"""``workbench audit``: verify, export and read the workspace's audit log."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from workbench.audit import AuditLog
from workbench.cli.edge import JsonOption, WorkspaceOption, emit_json, fail, out, workspace

audit_app = typer.Typer(
    help="The audit log: who published, ran, overrode or was refused what, and when.",
    no_args_is_help=True,
)


@audit_app.command("verify")
def verify(workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Check the hash chain of state/audit.jsonl; exit 1 and list the problems if broken."""
    result = AuditLog(workspace(workspace_dir)).verify()
    if as_json:
        emit_json({"ok": result.ok, "entries": result.entries, "problems": result.problems})
    elif result.ok:
        out.print(f"audit log intact: {result.entries} entries")
    if not result.ok:
        if not as_json:
            for problem in result.problems:
                out.print(problem, highlight=False, markup=False, soft_wrap=True)
        raise fail(f"the audit log fails verification: {len(result.problems)} problem(s)")


@audit_app.command("export")
def export(
    fmt: str = typer.Option(..., "--format", "-f", help="csv or jsonl."),
    out_file: Path = typer.Option(
        None, "--out", "-o", help="File to write (default: stdout).", show_default=False
    ),
    workspace_dir: Path = WorkspaceOption,
) -> None:
    """Export every audit entry as csv (nested fields as JSON) or jsonl."""
    log = AuditLog(workspace(workspace_dir))
    if out_file is None:
        log.write(fmt, sys.stdout)
        return
    count = log.export(fmt, out_file)
    typer.echo(f"{count} entries written to {out_file}", err=True)


@audit_app.command("show")
def show(
    last: int = typer.Option(20, "--last", "-n", help="How many of the latest entries."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Show the latest entries of the audit log."""
    entries = list(AuditLog(workspace(workspace_dir)).entries())[-last:] if last > 0 else []
    if as_json:
        emit_json(entries)
        return
    table = Table("seq", "at", "user", "role", "action", "outcome", "about")
    for e in entries:
        cells = (
            str(e.get("seq")),
            str(e.get("at", ""))[:19].replace("T", " "),
            str(e.get("user", "")),
            str(e.get("role") or ""),
            str(e.get("action", "")),
            str(e.get("outcome", "")),
            _about(e),
        )
        table.add_row(*(escape(c) for c in cells))  # logged text is data, not markup
    out.print(table)


def _about(entry: dict) -> str:
    """What the entry concerns, in a few words."""
    parts = [entry["job"]] if entry.get("job") else []
    for key in ("template", "snapshot"):
        if isinstance(found := entry.get(key), dict):
            parts.append(str(found.get("ref") or found.get("name") or ""))
    if isinstance(details := entry.get("details"), dict):
        parts += [
            f"{k}={v}" for k, v in details.items() if k not in ("kind", "draft_path", "sha256")
        ]
    return " ".join(p for p in parts if p)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
