"""``workbench demo``: the main job on the embedded defaults, from a synthetic clinic to the
dress rehearsal's go/no-go report."""

from __future__ import annotations

from pathlib import Path

import typer

from workbench.cli.acquisition import print_summary
from workbench.cli.edge import JsonOption, RichProgress, WorkspaceOption, emit_json, out, workspace


def demo(
    people: int = typer.Option(2000, "--people", "-n", help="People in the synthetic clinic."),
    seed: int = typer.Option(42, "--seed", help="Random seed of the synthetic clinic."),
    style: str = typer.Option("ohm", "--style", help="Legacy style: ohm or medgate."),
    pdf: bool = typer.Option(
        None, "--pdf/--no-pdf", help="Print the report to PDF (default: when Chromium is found)."
    ),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Generate a synthetic clinic as a mysqldump, publish the built-in mapping module, and
    run the full dress rehearsal into the DuckDB sandbox: acquire, profile, validate, load,
    reconcile, go or no-go. Prints the path of the run's report last."""
    from workbench.demo import run_demo  # loads the checklist engine only when the demo runs

    with RichProgress() as progress:
        result = run_demo(workspace(workspace_dir), people, seed, style, progress, pdf)
    run = result.run
    if as_json:
        emit_json(
            {
                "run": run.id,
                "status": run.status,
                "decision": run.decision,
                "template": result.template.ref,
                "source": result.source,
                "snapshot": result.manifest.to_dict() if result.manifest else None,
                "snapshot_created": result.snapshot_created,
                "operator": result.operator,
                "acknowledged_for_the_client": result.acknowledged,
                "synth_rows": result.synth.rows,
                "steps": [s.to_dict() for s in run.steps],
                "map": {name: str(file) for name, file in result.map_files.items()},
                "reports": {k: str(v) for k, v in result.reports.items()},
            }
        )
    else:
        _print(result)
    if result.decision != "go":
        raise typer.Exit(1)


def _print(result) -> None:
    from workbench.demo import steps_summary

    synth, run = result.synth, result.run
    say = lambda text: out.print(text, highlight=False, soft_wrap=True)  # noqa: E731
    say(
        f"synthetic {synth.style} clinic: {synth.people:,} people, {synth.total_rows:,} rows "
        f"in {len(synth.tables)} tables -> {result.source} (data/demo/{synth.style}.sql)"
        + ("; source added to workbench.toml" if result.source_added else "")
    )
    verb = "published" if result.template_published else "using the published"
    say(f"mapping: {verb} built-in module {result.template.ref}")
    if result.manifest is not None:
        how = "took" if result.snapshot_created else "unchanged: identical to existing"
        say(f"acquire: {how} snapshot {result.snapshot!r}")
        print_summary(result.manifest)
        say(
            f"generator manifest: {synth.total_rows:,} rows; "
            f"snapshot: {result.manifest.rows:,} rows"
        )
    for name, file in result.map_files.items():
        say(f"{name}: {file}")
    say(f"dress rehearsal {run.id} into the DuckDB sandbox ({run.status}):")
    for line in steps_summary(run):
        say(f"  {line}")
    acked = ", ".join(result.acknowledged)
    say(
        f"the manual steps ({acked}) were acknowledged in advance by {result.operator}, "
        "the demo's operator, acting for the synthetic client: a real rehearsal waits "
        "for the client's own verdict"
    )
    decision = run.decision or {}
    for reason in decision.get("reasons", []):
        say(f"  {reason}")
    say(f"decision: {result.decision.upper()}")
    say(f"report: {result.reports['html']}")


def register(app: typer.Typer) -> None:
    app.command()(demo)
