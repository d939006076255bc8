"""``workbench job``: create a job, validate, dry-run, commit, reconcile, resolve, roll back."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

if TYPE_CHECKING:
    import polars as pl

from workbench.cli.edge import JsonOption, RichProgress, WorkspaceOption, emit_json, out, workspace

job_app = typer.Typer(
    help="Migration jobs: a snapshot through a template into a target.", no_args_is_help=True
)
JobArg = typer.Argument(..., help="The job id, e.g. J0001.")


def register(app: typer.Typer) -> None:
    app.add_typer(job_app, name="job")


@job_app.command("create")
def create(
    snapshot: str = typer.Option(..., "--snapshot", "-s", help="The snapshot to migrate."),
    template: str = typer.Option(..., "--template", "-t", help="Template: NAME@vN (or NAME)."),
    target: str = typer.Option("sandbox", "--target", help="Target environment name."),
    batch_size: int = typer.Option(50_000, "--batch-size", help="Rows per batch."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a job: snapshot + template version + target environment."""
    from workbench.jobs import api

    job = api.create(workspace(workspace_dir), snapshot, template, target, batch_size)
    if as_json:
        return emit_json(job.to_dict())
    out.print(f"{job.id}: {job.snapshot} -> {job.template_ref} -> {job.target} (created)")


@job_app.command("validate")
def validate(
    job_id: str = JobArg, workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption
) -> None:
    """Run every rule over the whole source: pass/fail counts and the quality gates."""
    from workbench.jobs import api
    from workbench.jobs import gates as gates_mod

    v = api.validate(workspace(workspace_dir), job_id)
    if as_json:
        return emit_json(
            {
                "job": job_id,
                "passed": v.passed,
                "gates": [g.to_dict() for g in v.gates],
                "rules": v.fates.to_dicts(),
                "tables": v.tables.to_dicts(),
                "field_checks": v.field_checks.to_dicts(),
            }
        )
    _frame("per mapping and rule (source rows)", v.fates)
    _frame("per target table (target rows)", v.tables)
    for g in v.gates:
        out.print(gates_mod.describe(g))
    out.print(f"{job_id}: gates {'passed' if v.passed else 'FAILED'}")
    if not v.passed:
        raise typer.Exit(1)


@job_app.command("dry-run")
def dry_run(
    job_id: str = JobArg, workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption
) -> None:
    """Project the full load and the rows that would park; write nothing."""
    import polars as pl

    from workbench.jobs import api

    d = api.dry_run(workspace(workspace_dir), job_id)
    if as_json:
        return emit_json(
            {
                "job": job_id,
                "tables": d.tables,
                "parked": d.parked.to_dicts(),
                "excluded": d.excluded.to_dicts(),
                "target_conflicts": d.target_conflicts,
            }
        )
    _frame(
        "rows that would load",
        pl.DataFrame({"table": list(d.tables), "rows": list(d.tables.values())}),
    )
    _frame("source rows that would park", d.parked)
    _frame("source rows excluded by a named rule", d.excluded)
    out.print(f"{job_id}: dry run; nothing was written to the target")


@job_app.command("commit")
def commit(
    job_id: str = JobArg,
    override_gates: str = typer.Option(
        None,
        "--override-gates",
        metavar="REASON",
        help="Commit although gates failed (migration_engineer).",
    ),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Load the job into its target in batches; rows the target refuses are parked."""
    from workbench.jobs import api

    with RichProgress() as progress:
        r = api.commit(workspace(workspace_dir), job_id, progress, override_gates)
    _print_commit(r, as_json)


@job_app.command("resume")
def resume(
    job_id: str = JobArg, workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption
) -> None:
    """Continue a paused or interrupted commit from the last committed batch."""
    from workbench.jobs import api

    with RichProgress() as progress:
        r = api.resume(workspace(workspace_dir), job_id, progress)
    _print_commit(r, as_json)


def _print_commit(r, as_json: bool) -> None:
    data = {
        "job": r.job.id,
        "status": r.job.status,
        "batches": r.batches,
        "skipped": r.skipped,
        "loaded": r.loaded,
        "parked_at_load": r.parked_at_load,
        "paused": r.paused,
    }
    if as_json:
        return emit_json(data)
    state = "paused" if r.paused else "committed"
    out.print(
        f"{r.job.id}: {state}; {sum(r.loaded.values()):,} rows in the target "
        f"({r.batches} batches, {r.skipped} already in), {r.parked_at_load} parked at load"
    )


@job_app.command("pause")
def pause(job_id: str = JobArg, workspace_dir: Path = WorkspaceOption) -> None:
    """Ask a running commit to stop after its current batch."""
    from workbench.jobs import api

    api.pause(workspace(workspace_dir), job_id)
    out.print(f"{job_id}: will pause after the current batch")


@job_app.command("reconcile")
def reconcile(
    job_id: str = JobArg, workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption
) -> None:
    """Source rows = loaded + parked + excluded; target vs projection; writes the report."""
    from workbench.jobs import api

    rec, paths = api.reconcile(workspace(workspace_dir), job_id)
    if as_json:
        return emit_json(rec.to_dict() | {"reports": {k: str(v) for k, v in paths.items()}})
    for line in rec.discrepancies:
        out.print(f"  {line}")
    verdict = "balanced" if rec.balanced else f"{len(rec.discrepancies)} discrepancies"
    out.print(f"{job_id}: {verdict}; report {paths.get('html')}")
    if not rec.balanced:
        raise typer.Exit(1)


@job_app.command("parked")
def parked(
    job_id: str = JobArg,
    status: str = typer.Option(None, "--status", help="parked, waived or resolved."),
    summary: bool = typer.Option(False, "--summary", help="Counts per rule, not rows."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Parked records with their reasons."""
    from workbench.jobs import api
    from workbench.jobs.parking import summary as by_rule

    wsp = workspace(workspace_dir)
    frame = by_rule(wsp, job_id) if summary else api.parked(wsp, job_id, status)
    if as_json:
        return emit_json(frame.to_dicts())
    _frame(f"parked records of {job_id}", frame)


@job_app.command("resolve")
def resolve(
    job_id: str = JobArg,
    template: str = typer.Option(..., "--template", "-t", help="The fixed version: NAME@vN."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Reload only the parked rows with a fixed template version."""
    from workbench.jobs import api

    with RichProgress() as progress:
        r = api.resolve(workspace(workspace_dir), job_id, template, progress)
    data = {
        "job": job_id,
        "template": r.template_ref,
        "reloaded": r.reloaded,
        "still_parked": r.still_parked,
        "excluded_now": r.excluded_now,
    }
    if as_json:
        return emit_json(data)
    out.print(
        f"{job_id}: {r.reloaded:,} target rows reloaded with {r.template_ref}; "
        f"{r.still_parked:,} source rows still parked"
    )


@job_app.command("waive")
def waive(
    job_id: str = JobArg,
    reason: str = typer.Option(..., "--reason", help="Why these rows are not migrated."),
    rule: str = typer.Option(None, "--rule", help="Only rows parked on this rule."),
    key: list[str] = typer.Option(None, "--key", help="Only these source keys."),
    workspace_dir: Path = WorkspaceOption,
) -> None:
    """Accept parked rows as not migrated, with a reason (audited)."""
    from workbench.jobs import api

    n = api.waive(workspace(workspace_dir), job_id, reason, rule, key or None)
    out.print(f"{job_id}: {n:,} parked rows waived")


@job_app.command("rollback")
def rollback(
    job_id: str = JobArg,
    yes: bool = typer.Option(False, "--yes", help="Confirm: delete every row this job loaded."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete exactly the rows this job loaded, in one transaction (migration_engineer)."""
    from workbench.jobs import api

    r = api.rollback(workspace(workspace_dir), job_id, confirm=yes)
    data = {
        "job": job_id,
        "deleted": r.deleted,
        "remaining": r.remaining,
        "checksums_restored": r.checksums_restored,
        "changed_tables": r.changed_tables,
    }
    if as_json:
        return emit_json(data)
    restored = {
        True: "target checksums equal the pre-commit ones",
        False: f"checksums differ from pre-commit in {', '.join(r.changed_tables)}",
        None: "later jobs changed the target; checksums not comparable",
    }
    out.print(
        f"{job_id}: rolled back {sum(r.deleted.values()):,} rows; {restored[r.checksums_restored]}"
    )


@job_app.command("show")
def show(
    job_id: str = JobArg, workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption
) -> None:
    """One job: status, template, snapshot, target, gates, counts."""
    from workbench.jobs import api

    job = api.show(workspace(workspace_dir), job_id)
    data = job.to_dict()
    data["facts"] = {k: v for k, v in job.facts.items() if k != "pre_commit_checksums"}
    if as_json:
        return emit_json(data)
    for k, v in data.items():
        if k != "facts":
            out.print(f"{k}: {v}")
    for g in job.facts.get("gates", []):
        out.print(f"gate {g['gate']}: {g['ratio']:.2%} (threshold {g['threshold']:.0%})")


@job_app.command("list")
def list_jobs(workspace_dir: Path = WorkspaceOption, as_json: bool = JsonOption) -> None:
    """Every job of the workspace."""
    import polars as pl

    from workbench.jobs import api

    jobs = api.list_jobs(workspace(workspace_dir))
    rows = [
        {
            "id": j.id,
            "status": j.status,
            "snapshot": j.snapshot,
            "template": j.template_ref,
            "target": j.target,
            "created_by": j.created_by,
            "updated": j.updated_at,
        }
        for j in jobs
    ]
    if as_json:
        return emit_json(rows)
    _frame("jobs", pl.DataFrame(rows))


def _frame(title: str, frame: pl.DataFrame) -> None:
    table = Table(title=title, title_justify="left")
    for c in frame.columns:
        table.add_column(c, justify="right" if frame[c].dtype.is_numeric() else "left")
    for row in frame.iter_rows():
        table.add_row(
            *("" if v is None else f"{v:,}" if isinstance(v, int) else str(v) for v in row)
        )
    out.print(table)
