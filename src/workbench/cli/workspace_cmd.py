"""``workbench init`` and ``workbench sources``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from workbench import workspace as ws
from workbench.cli.edge import JsonOption, WorkspaceOption, emit_json, out, workspace
from workbench.secrets import SealedSecret
from workbench.sources import all_sources


def init(
    directory: Path = typer.Argument(..., help="Directory for the new customer workspace."),
    name: str = typer.Option(None, help="Workspace name (default: the directory's name)."),
) -> None:
    """Create a customer workspace: workbench.toml with commented examples, mappings/, reports/."""
    created = ws.init(directory, name)
    out.print(f"created workspace {created.name!r} in {created.root}")


def sources(workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """List the workspace's sources, and whether each sealed secret is set (never its value)."""
    found = all_sources(workspace(workspace_dir))
    rows = []
    for s in found:
        secrets = {
            key: {"reference": value, "set": SealedSecret.parse(value, key).is_set}
            for key, value in s.config.items()
            if isinstance(value, str) and value.startswith("env:")
        }
        rows.append({**s.describe(), "secrets": secrets})
    if as_json:
        emit_json(rows)
        return
    table = Table("source", "kind", "location", "secrets")
    for r in rows:
        secret_text = ", ".join(
            f"{k}={v['reference']} ({'set' if v['set'] else 'NOT SET'})"
            for k, v in r["secrets"].items()
        )
        table.add_row(r["name"], r["kind"], r["location"], secret_text or "-")
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(sources)
