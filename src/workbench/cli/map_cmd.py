"""``workbench map``: the data migration map after SMEs have worked on it, and the published
versions of templates."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from workbench.cli.edge import JsonOption, WorkspaceOption, emit_json, fail, out, workspace
from workbench.mapping import versions as mv
from workbench.profile.annotations import read_annotations
from workbench.snapshot.store import open_snapshot

if TYPE_CHECKING:
    from workbench.mapping.projection import Projection

# docs, sql and check import the template compiler when they run: it pulls in jsonschema,
# which every other command would otherwise pay for at startup.

map_app = typer.Typer(
    help="The data migration map and templates: annotations, publish, versions, diff, status, "
    "docs, sql, check.",
    no_args_is_help=True,
)
NameArgument = typer.Argument(..., help="Template name (a draft in mappings/templates/).")
RefArgument = typer.Argument(..., help="Template: NAME (the draft) or NAME@vN (published).")


@map_app.command("annotations")
def annotations(
    file: Path = typer.Argument(..., help="A filled-in data-migration-map.xlsx."),
    as_json: bool = JsonOption,
) -> None:
    """Read the Disposition, Target and Notes that SMEs typed into a map."""
    found = read_annotations(file)
    if as_json:
        emit_json([a.to_dict() for a in found])
        return
    table = Table("table", "field", "disposition", "target", "notes", "where")
    for a in found:
        table.add_row(
            a.table,
            a.field or "(table)",
            a.disposition or "",
            a.target or "",
            a.notes or "",
            f"{a.sheet}!{a.row}",
        )
    out.print(table)
    tables = sum(a.field is None for a in found)
    out.print(f"{tables} table and {len(found) - tables} field annotations in {file}")


@map_app.command("publish")
def publish(
    name: str = NameArgument,
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Publish the template's draft as its next immutable version NAME@vN."""
    stamp = mv.publish(workspace(workspace_dir), "template", name)
    if as_json:
        emit_json({**stamp.to_dict(), "new": stamp.new})
    elif stamp.new:
        out.print(f"published {stamp.ref} (sha256 {stamp.sha256[:12]}…) from {stamp.draft_path}")
    else:
        out.print(f"the draft is unchanged since {stamp.ref}: nothing new published")


@map_app.command("versions")
def versions(
    name: str = NameArgument,
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """List the published versions of a template, oldest first, and its draft's status."""
    wsp = workspace(workspace_dir)
    found = mv.versions(wsp, "template", name)
    if as_json:
        emit_json([s.to_dict() for s in found])
        return
    table = Table("version", "sha256", "publisher", "role", "published at")
    for s in found:
        table.add_row(s.ref, s.sha256[:12] + "…", s.publisher, s.role or "", s.published_at)
    out.print(table)
    out.print(f"{name}: {mv.draft_status(wsp, 'template', name)}")


@map_app.command("diff")
def diff(
    name: str = NameArgument,
    a: str = typer.Argument(..., help="From: a version (v1, latest) or draft."),
    b: str = typer.Argument(..., help="To: a version (v2, latest) or draft."),
    workspace_dir: Path = WorkspaceOption,
) -> None:
    """Show what changed in a template between two versions (e.g. v1 v2, or v2 draft)."""
    text = mv.diff(workspace(workspace_dir), "template", name, a, b)
    # Plain text: a diff of YAML must not be read as rich markup.
    typer.echo(text.rstrip("\n") if text else f"{name}: {a} and {b} are identical")


@map_app.command("status")
def status(
    name: str = NameArgument,
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Whether a template's draft is published, or edited since its latest version."""
    text = mv.draft_status(workspace(workspace_dir), "template", name)
    emit_json({"template": name, "status": text}) if as_json else typer.echo(f"{name}: {text}")


@map_app.command("docs")
def docs(
    ref: str = RefArgument,
    snapshot: str = typer.Option(
        None, "--snapshot", "-s", help="Count crosswalk coverage and row accounting over it."
    ),
    out_dir: Path = typer.Option(
        None, "--out", "-o", help="Folder (default: reports/SNAPSHOT, or reports/etl-spec)."
    ),
    workspace_dir: Path = WorkspaceOption,
) -> None:
    """Write the template's ETL specification for sign-off, as Markdown and offline HTML."""
    from workbench.mapping import docs as spec
    from workbench.mapping import workflow
    from workbench.mapping.projection import project

    wsp = workspace(workspace_dir)
    loaded = workflow.load(wsp, ref)
    target = out_dir or wsp.reports_dir / (snapshot or "etl-spec")
    if snapshot is None:
        files = spec.write_docs(loaded, target, min_cell_count=wsp.min_cell_count)
    else:
        with open_snapshot(wsp.snapshots_dir, snapshot).connect() as con:
            projection = project(con, workflow.compile_loaded(loaded, con))
            files = spec.write_docs(
                loaded, target, projection, snapshot=snapshot, min_cell_count=wsp.min_cell_count
            )
    for path in files.values():
        typer.echo(str(path))


@map_app.command("sql")
def sql(
    ref: str = RefArgument,
    snapshot: str = typer.Option(
        None, "--snapshot", "-s", help="Compile against this snapshot's tables and columns."
    ),
    workspace_dir: Path = WorkspaceOption,
) -> None:
    """Print the DuckDB script the template compiles to (what a projection or job runs)."""
    from workbench.mapping import workflow

    wsp = workspace(workspace_dir)
    loaded = workflow.load(wsp, ref)
    if snapshot is None:
        script = workflow.compile_loaded(loaded).script()
    else:
        with open_snapshot(wsp.snapshots_dir, snapshot).connect() as con:
            script = workflow.compile_loaded(loaded, con).script()
    typer.echo(script, nl=False)


@map_app.command("check")
def check(
    ref: str = RefArgument,
    snapshot: str = typer.Option(..., "--snapshot", "-s", help="The snapshot to project."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Project the template over a snapshot: every source row loaded, excluded or parked.

    Exits 1 if a source table does not balance (source rows != loaded + excluded + parked).
    """
    from workbench.mapping import workflow
    from workbench.mapping.projection import project

    wsp = workspace(workspace_dir)
    loaded = workflow.load(wsp, ref)
    with open_snapshot(wsp.snapshots_dir, snapshot).connect() as con:
        projection = project(con, workflow.compile_loaded(loaded, con))
        accounting, rules = _check_frames(projection)
    if as_json:
        emit_json(
            {
                "template": loaded.identity(),
                "snapshot": snapshot,
                "accounting": accounting,
                "rules": rules,
            }
        )
    else:
        _print_check(accounting, rules)
    unbalanced = [a for a in accounting if not a["balanced"]]
    for a in unbalanced:
        counted = a["loaded"] + a["excluded"] + a["parked"]
        fail(
            f"mapping {a['mapping']}: source table {a['source_table']} does not balance: "
            f"{a['source_rows']} source rows, {counted} loaded + excluded + parked"
        )
    if unbalanced:
        raise typer.Exit(1)


def _check_frames(projection: Projection) -> tuple[list[dict], list[dict]]:
    accounting = projection.accounting().to_dicts()
    rules = [r for r in projection.fates().to_dicts() if r["fate"] != "loaded"]
    return accounting, rules


def _print_check(accounting: list[dict], rules: list[dict]) -> None:
    numbers = ("source_rows", "loaded", "excluded", "parked")
    table = Table(
        "mapping",
        "source table",
        "source rows",
        "loaded",
        "excluded",
        "parked",
        "balanced",
        title="accounting",
    )
    for a in accounting:
        ok = "yes" if a["balanced"] else "[bold red]NO[/]"
        table.add_row(a["mapping"], a["source_table"], *(f"{a[k]:,}" for k in numbers), ok)
    out.print(table)
    if not rules:
        out.print("every source row loads: nothing excluded or parked")
        return
    table = Table("mapping", "source table", "fate", "rule", "rows", title="excluded and parked")
    for r in rules:
        table.add_row(r["mapping"], r["source_table"], r["fate"], r["rule"] or "", f"{r['rows']:,}")
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(map_app, name="map")
