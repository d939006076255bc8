"""``workbench profile``: the data migration map of a snapshot, or the drift between two."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from workbench.cli.edge import (
    JsonOption,
    RichProgress,
    WorkspaceOption,
    emit_json,
    out,
    workspace,
)
from workbench.errors import ProfileError
from workbench.profile.compare import Drift, Thresholds, compare_snapshots
from workbench.profile.engine import profile_snapshot
from workbench.profile.model import PrivacyPolicy, Profile
from workbench.profile.store import report_dir
from workbench.snapshot import open_snapshot


def profile(
    snapshot: str = typer.Argument(None, help="Snapshot to profile.", show_default=False),
    compare: tuple[str, str] | None = typer.Option(
        None,
        "--compare",
        metavar="A B",
        help="Show the drift from snapshot A to snapshot B instead of profiling one.",
        show_default=False,
    ),
    min_cell_count: int = typer.Option(
        None,
        "--min-cell-count",
        help="Hide values seen fewer times than this (default: the workspace's min_cell_count).",
        show_default=False,
    ),
    show_identifiers: bool = typer.Option(
        False, "--show-identifiers", help="Show identifier columns unmasked: internal use only."
    ),
    out_dir: Path = typer.Option(
        None,
        "--out",
        "-o",
        help="Folder for the outputs (default: reports/<snapshot>/).",
        show_default=False,
    ),
    row_threshold: float = typer.Option(
        Thresholds.row_change,
        "--row-threshold",
        help="--compare: flag row counts moving by this fraction.",
    ),
    null_threshold: float = typer.Option(
        Thresholds.null_rate_change,
        "--null-threshold",
        help="--compare: flag empty fractions moving by this much.",
    ),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Profile a snapshot into the data migration map: profile.json, xlsx and html.

    Every count is exact, over whole tables. Values seen fewer than min_cell_count times and
    identifier columns (names, SSN, dates of birth, phones, addresses, MRNs) are withheld.
    """
    wsp = workspace(workspace_dir)
    if compare:
        if snapshot is not None:
            raise ProfileError("give either a SNAPSHOT to profile or --compare A B, not both")
        thresholds = Thresholds(row_change=row_threshold, null_rate_change=null_threshold)
        before, after = (open_snapshot(wsp.snapshots_dir, name) for name in compare)
        with RichProgress() as progress:
            drift = compare_snapshots(before, after, wsp.reports_dir, thresholds, progress)
        emit_json(drift.to_dict()) if as_json else _print_drift(drift)
        return
    if snapshot is None:
        raise ProfileError("name a SNAPSHOT to profile, or give --compare A B")
    snap = open_snapshot(wsp.snapshots_dir, snapshot)
    policy = PrivacyPolicy(
        min_cell_count=wsp.min_cell_count if min_cell_count is None else min_cell_count,
        show_identifiers=show_identifiers,
    )
    if policy.min_cell_count < 0:
        raise ProfileError(f"--min-cell-count must be 0 or more, not {policy.min_cell_count}")
    target = out_dir or report_dir(wsp.reports_dir, snap.name)
    with RichProgress() as progress:
        result = profile_snapshot(snap, policy, progress)
    # The renderers import altair: load them only when a map is written, not at CLI start.
    from workbench.profile.outputs import write_map

    outputs = {name: str(path) for name, path in write_map(result, target).items()}
    if as_json:
        emit_json({**_summary(result), "outputs": outputs})
        return
    _print_profile(result)
    for name, path in outputs.items():
        out.print(f"{name}: {path}")


def _summary(p: Profile) -> dict[str, Any]:
    return {
        "snapshot": p.snapshot,
        "fingerprint": p.fingerprint,
        "policy": {
            "min_cell_count": p.policy.min_cell_count,
            "show_identifiers": p.policy.show_identifiers,
        },
        "tables": len(p.tables),
        "columns": sum(t.n_columns for t in p.tables),
        "rows": sum(t.n_rows for t in p.tables),
        "masked_columns": sum(c.masked for t in p.tables for c in t.columns),
        "relationships": len(p.relationships),
        "approximations": p.approximations,
    }


def _print_profile(p: Profile) -> None:
    title = f"profile {p.snapshot}"
    table = Table("table", "rows", "columns", "empty", "candidate keys", title=title)
    for t in p.tables:
        keys = "; ".join(", ".join(k) for k in t.candidate_keys) or "-"
        table.add_row(t.name, f"{t.n_rows:,}", str(t.n_columns), str(len(t.empty_columns)), keys)
    out.print(table)
    if p.relationships:
        refs = Table("child", "parent", "coverage", "orphan rows", title="inferred references")
        for r in p.relationships:
            refs.add_row(
                f"{r.child_table}.{r.child_column}",
                f"{r.parent_table}.{r.parent_column}",
                f"{r.coverage:.1%}",
                f"{r.orphan_rows:,}",
            )
        out.print(refs)
    s = _summary(p)
    out.print(
        f"{s['tables']} tables, {s['columns']} columns, {s['rows']:,} rows; "
        f"{s['masked_columns']} identifier columns masked; values seen fewer than "
        f"{p.policy.min_cell_count} times withheld"
    )
    for note in p.approximations:
        out.print(f"approximate: {note}")


def _print_drift(d: Drift) -> None:
    table = Table("change", "table", "column", "before", "after", title=f"{d.before} -> {d.after}")
    for t in d.tables_added:
        table.add_row("table added", t, "", "", "")
    for t in d.tables_removed:
        table.add_row("table removed", t, "", "", "")
    for t, c in d.columns_added:
        table.add_row("column added", t, c, "", "")
    for t, c in d.columns_removed:
        table.add_row("column removed", t, c, "", "")
    for c in d.type_changes:
        table.add_row(c.kind.replace("_", " ") + " changed", c.table, c.column, c.before, c.after)
    for r in d.row_changes:
        moved = f" ({r.change:+.1%})" if r.change is not None else ""
        label = "rows moved" if r.flagged else "rows changed"
        table.add_row(label, r.table, "", f"{r.before:,}", f"{r.after:,}{moved}")
    for n in d.null_rate_changes:
        table.add_row("empty rate moved", n.table, n.column, f"{n.before:.1%}", f"{n.after:.1%}")
    if table.row_count:
        out.print(table)
    out.print("drift found" if d.drifted else "no drift beyond the thresholds")


def register(app: typer.Typer) -> None:
    app.command("profile")(profile)
