"""``workbench crosswalk``: code translation tables, their coverage of a snapshot, and
suggestions for the codes they do not translate yet."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from workbench import workspace as ws
from workbench.cli.edge import JsonOption, WorkspaceOption, emit_json, out, workspace
from workbench.errors import CrosswalkError
from workbench.mapping import library
from workbench.mapping.coverage import CodeCoverage, code_coverage
from workbench.mapping.crosswalk import Crosswalk, find_crosswalk, load_crosswalk
from workbench.mapping.suggest import FLOOR, Suggestion, apply_suggestions, suggest
from workbench.snapshot.staging import quote_ident
from workbench.snapshot.store import open_snapshot

crosswalk_app = typer.Typer(
    help="Crosswalks: code translation tables, coverage and suggestions.", no_args_is_help=True
)

SnapshotOption = typer.Option(..., "--snapshot", "-s", help="Snapshot whose codes to count.")
TableOption = typer.Option(..., "--table", "-t", help="Table in the snapshot.")
ColumnOption = typer.Option(..., "--column", "-c", help="Column holding the local codes.")
DisplayOption = typer.Option(
    None,
    "--display-column",
    "-d",
    help="Column holding the codes' names, shown for unmapped codes and used to suggest.",
    show_default=False,
)


@crosswalk_app.command("list")
def list_crosswalks(workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Every crosswalk (the workspace's drafts, then the built-in library) with review counts."""
    mappings = workspace(workspace_dir).mappings_dir
    rows = [_summary(name, mappings) for name in library.names(mappings, "crosswalks")]
    if as_json:
        emit_json(rows)
        return
    table = Table("name", "entries", "approved", "unchecked", "flagged", "path")
    for r in rows:
        counts = [str(r.get(k, "-")) for k in ("entries", "approved", "unchecked", "flagged")]
        table.add_row(r["name"], *counts, r.get("error") or r["path"])
    out.print(table)


def _summary(name: str, mappings: Path) -> dict:
    path = library.find(mappings, "crosswalks", name)
    try:
        xw = load_crosswalk(path)
    except CrosswalkError as e:  # one bad file must not hide the others from the list
        return {"name": name, "path": str(path), "error": str(e)}
    return {"name": name, "path": str(path), "entries": len(xw.entries), **xw.status_counts}


@crosswalk_app.command("check")
def check(
    name: str = typer.Argument(..., help="Crosswalk name."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Read a crosswalk strictly; a malformed row is reported as FILE:LINE and the cause."""
    xw = find_crosswalk(workspace(workspace_dir).mappings_dir, name)
    info = {
        "name": xw.name,
        "path": str(xw.path),
        "sha256": xw.sha256,
        "entries": len(xw.entries),
        **xw.status_counts,
    }
    if as_json:
        emit_json(info)
        return
    counts = ", ".join(f"{xw.status_counts[s]} {s}" for s in xw.status_counts)
    out.print(f"{xw.name}: {xw.path}: {len(xw.entries)} entries ({counts}); ok")


@crosswalk_app.command("coverage")
def coverage(
    name: str = typer.Argument(..., help="Crosswalk name."),
    snapshot: str = SnapshotOption,
    table: str = TableOption,
    column: str = ColumnOption,
    display_column: str = DisplayOption,
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Count a column's codes the crosswalk translates; list the unmapped by frequency.

    Counted over the whole table: distinct codes and rows. NULL and blank codes are not
    codes; codes are compared trimmed and case-sensitively.
    """
    cov, _ = _coverage(workspace(workspace_dir), name, snapshot, table, column, display_column)
    if as_json:
        emit_json(cov.to_dict())
        return
    _print_coverage(cov)


@crosswalk_app.command("suggest")
def suggest_cmd(
    name: str = typer.Argument(..., help="Crosswalk name."),
    snapshot: str = SnapshotOption,
    table: str = TableOption,
    column: str = ColumnOption,
    display_column: str = DisplayOption,
    limit: int = typer.Option(3, "--limit", min=1, help="Candidates shown per code."),
    write: bool = typer.Option(
        False, "--write", help="Add the suggestions to the workspace's draft as 'unchecked'."
    ),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Suggest targets for the unmapped codes by display-text similarity (for review)."""
    wsp = workspace(workspace_dir)
    cov, xw = _coverage(wsp, name, snapshot, table, column, display_column)
    found = suggest(xw, cov.unmapped, limit=limit)
    written = _write(wsp, xw, found) if write else None
    if as_json:
        emit_json({"suggestions": [s.to_dict() for s in found], "written": written})
        return
    _print_suggestions(found)
    if written:
        out.print(f"wrote {written}")


def _coverage(
    wsp: ws.Workspace, name: str, snapshot: str, table: str, column: str, display: str | None
) -> tuple[CodeCoverage, Crosswalk]:
    xw = find_crosswalk(wsp.mappings_dir, name)
    snap = open_snapshot(wsp.snapshots_dir, snapshot)
    with snap.connect() as con:
        display_sql = quote_ident(display) if display else None
        return code_coverage(con, xw, table, quote_ident(column), display_sql), xw


def _write(wsp: ws.Workspace, xw: Crosswalk, found: list[Suggestion]) -> str:
    _authorize_crosswalk_edit(wsp, xw.name)
    draft = wsp.mappings_dir / "crosswalks" / f"{xw.name}.csv"
    apply_suggestions(xw, found, draft)
    return str(draft)


def _authorize_crosswalk_edit(wsp: ws.Workspace, name: str) -> None:
    """Writing a draft crosswalk needs the ``manage_crosswalks`` action (refusals audited)."""
    from workbench.roles import require

    require(wsp, "manage_crosswalks", what=f"crosswalk {name}")


def _print_coverage(cov: CodeCoverage) -> None:
    title = f"{cov.crosswalk} over {cov.table}.{cov.code_sql}: unmapped codes"
    table = Table("code", "display", "rows", title=title)
    for code, display, rows in cov.unmapped:
        table.add_row(code, display or "", f"{rows:,}")
    if table.row_count:
        out.print(table)
    out.print(
        f"{cov.distinct_translated} of {cov.distinct_codes} codes translated "
        f"({cov.distinct_coverage:.1%}); {cov.rows_translated:,} of {cov.rows_with_code:,} rows "
        f"({cov.row_coverage:.1%}); {cov.rows_without_code:,} rows without a code"
    )


def _print_suggestions(found: list[Suggestion]) -> None:
    table = Table("code", "display", "rows", "suggested", "score", "runners-up")
    for s in found:
        best = f"{s.entry.target_code} {s.entry.target_display}" if s.entry else "no suggestion"
        others = "; ".join(f"{c.target_code} ({c.score:.2f})" for c in s.runner_ups)
        table.add_row(s.code, s.display or "", f"{s.rows:,}", best, f"{s.score:.2f}", others)
    out.print(table)
    missing = sum(s.entry is None for s in found)
    if missing:
        out.print(f"{missing} codes have no candidate scoring {FLOOR:.2f} or more: map by hand")


def register(app: typer.Typer) -> None:
    app.add_typer(crosswalk_app, name="crosswalk")


@crosswalk_app.command("publish")
def publish_cmd(
    name: str = typer.Argument(..., help="The crosswalk's name (mappings/crosswalks/NAME.csv)."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Publish the draft crosswalk as its next immutable version (vN)."""
    from workbench.mapping import versions

    wsp = workspace(workspace_dir)
    load_crosswalk(versions.draft_path(wsp, "crosswalk", name))  # refuse a malformed draft
    stamp = versions.publish(wsp, "crosswalk", name)
    if as_json:
        emit_json(stamp.to_dict())
        return
    state = "published" if stamp.new else "unchanged since"
    out.print(f"{name}: {state} {stamp.version} (sha256 {stamp.sha256[:12]})")
