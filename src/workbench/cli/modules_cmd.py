"""``workbench modules``: the module library (built-in templates, one per legacy system)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from workbench import workspace as ws
from workbench.cli.edge import JsonOption, WorkspaceOption, console, emit_json, out
from workbench.errors import ConfigError

if TYPE_CHECKING:
    from workbench.mapping.modules import Module

# The module library is imported when a command runs: reading templates pulls in jsonschema,
# which every other command would otherwise pay for at startup.

modules_app = typer.Typer(
    help="The module library: which built-in template handles a source table or a concept.",
    no_args_is_help=True,
)


def _workspace(workspace_dir: Path | None) -> ws.Workspace | None:
    # The library needs no workspace: outside one, only the built-in modules are searched.
    if workspace_dir is not None:
        return ws.load(workspace_dir)
    try:
        return ws.find()
    except ConfigError:
        return None


def _warn_broken(found: list[Module]) -> None:
    for m in found:
        if m.error:
            console.print(f"[yellow]warning:[/] module {m.name} does not load: {m.error}")


@modules_app.command("list")
def list_modules(workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Every module: its legacy system, title, mappings and the source tables it reads."""
    from workbench.mapping import modules as lib

    found = lib.modules(_workspace(workspace_dir))
    if as_json:
        emit_json([m.to_dict() for m in found])
        return
    table = Table("module", "source system", "title", "mappings", "source tables", "path")
    for m in found:
        d = m.to_dict()
        if m.template is None:
            table.add_row(m.name, "", f"does not load: {m.error}", "", "", d["path"])
            continue
        tables = ", ".join(d["source_tables"])
        table.add_row(m.name, d["source_system"], d["title"], str(d["mappings"]), tables, d["path"])
    out.print(table)


@modules_app.command("search")
def search(
    term: str = typer.Argument(..., help="A source table, target table, concept or system."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Find the modules that read a source table or load a target table/concept matching TERM
    (case-insensitive substring), with the matching mappings."""
    from workbench.mapping import modules as lib

    wsp = _workspace(workspace_dir)
    found = lib.modules(wsp)
    _warn_broken(found)
    hits = lib.search(wsp, term, among=found)
    if as_json:
        emit_json([h.to_dict() for h in hits])
        return
    if not hits:
        out.print(f"no module matches {term!r}")
        return
    table = Table("module", "source system", "title", "matches", "path")
    for h in hits:
        table.add_row(h.module, h.source_system, h.title, "\n".join(h.matches), str(h.path))
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(modules_app, name="modules")
