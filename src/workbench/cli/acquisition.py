"""``workbench probe``, ``workbench acquire`` and ``workbench snapshots``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from workbench.cli.edge import (
    JsonOption,
    RichProgress,
    WorkspaceOption,
    emit_json,
    fail,
    out,
    workspace,
)
from workbench.snapshot import acquire as take_snapshot
from workbench.snapshot import list_snapshots, open_snapshot
from workbench.snapshot.manifest import Manifest
from workbench.sources import open_source


def probe(
    source: str = typer.Argument(..., help="Source name from workbench.toml."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Reach a source and count what is really there: tables, rows, columns."""
    result = open_source(workspace(workspace_dir), source).probe()
    if as_json:
        emit_json(result.to_dict())
    elif result.reachable:
        table = Table("table", "rows", "columns", title=f"{source} ({result.kind}): reachable")
        for t in result.tables:
            table.add_row(t.name, f"{t.rows:,}", str(t.columns))
        out.print(table)
        out.print(f"{len(result.tables)} tables, {result.rows:,} rows")
    if not result.reachable:
        raise fail(f"{source}: unreachable: {result.reason}")


def acquire(
    source: str = typer.Argument(..., help="Source name from workbench.toml."),
    snapshot: str = typer.Option(..., "--snapshot", "-s", help="Name of the new snapshot."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Load every table of a source into a new, immutable staging snapshot."""
    wsp = workspace(workspace_dir)
    with RichProgress() as progress:
        result = take_snapshot(open_source(wsp, source), wsp.snapshots_dir, snapshot, progress)
    if as_json:
        emit_json({**result.manifest.to_dict(), "created": result.created})
        return
    verb = "took" if result.created else "unchanged: identical to existing"
    out.print(f"{verb} snapshot {snapshot!r} at {result.path}")
    print_summary(result.manifest)


def snapshots(workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """List the workspace's snapshots."""
    found = list_snapshots(workspace(workspace_dir).snapshots_dir)
    if as_json:
        emit_json([_brief(s.manifest) for s in found])
        return
    table = Table(
        "snapshot", "source", "kind", "taken", "tables", "rows", "rejected", "fingerprint"
    )
    for s in found:
        b = _brief(s.manifest)
        table.add_row(
            b["snapshot"],
            b["source"],
            b["kind"],
            b["started_at"],
            str(b["tables"]),
            f"{b['rows']:,}",
            f"{b['rejected']:,}",
            b["fingerprint"][:12],
        )
    out.print(table)


def show(
    name: str = typer.Argument(..., help="Snapshot name."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
    verify: bool = typer.Option(False, help="Re-hash the staging database against the manifest."),
) -> None:
    """Show one snapshot's manifest."""
    snap = open_snapshot(workspace(workspace_dir).snapshots_dir, name)
    intact = snap.verify() if verify else None
    if as_json:
        emit_json({**snap.manifest.to_dict(), "intact": intact})
    else:
        print_summary(snap.manifest)
    if intact is False:
        raise fail(f"snapshot {name!r}: staging database does not match its manifest")


def _brief(m: Manifest) -> dict:
    return {
        "snapshot": m.snapshot,
        "source": m.source.get("name"),
        "kind": m.source.get("kind"),
        "started_at": m.started_at,
        "tables": len(m.tables),
        "rows": m.rows,
        "rejected": m.rejected,
        "fingerprint": m.fingerprint,
    }


def print_summary(m: Manifest) -> None:
    table = Table("table", "rows", "columns", "rejected", title=f"snapshot {m.snapshot}")
    for t in m.tables:
        table.add_row(t.name, f"{t.rows:,}", str(len(t.columns)), f"{t.rejected:,}")
    out.print(table)
    out.print(
        f"{len(m.tables)} tables, {m.rows:,} rows, {m.rejected:,} rejected, "
        f"{len(m.skipped)} skipped objects; {m.duration_s:.1f} s; fingerprint {m.fingerprint[:16]}"
    )


def register(app: typer.Typer) -> None:
    app.command()(probe)
    app.command()(acquire)
    app.command()(snapshots)
    app.command("snapshot")(show)
