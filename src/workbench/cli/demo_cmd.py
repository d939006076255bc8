"""``workbench demo``: the main job on the embedded defaults."""

from __future__ import annotations

from pathlib import Path

import typer

from workbench.cli.acquisition import print_summary
from workbench.cli.edge import JsonOption, RichProgress, WorkspaceOption, emit_json, out, workspace


def demo(
    people: int = typer.Option(2000, "--people", "-n", help="People in the synthetic clinic."),
    seed: int = typer.Option(42, "--seed", help="Random seed of the synthetic clinic."),
    style: str = typer.Option("ohm", "--style", help="Legacy style: ohm or medgate."),
    workspace_dir: Path = WorkspaceOption,
    as_json: bool = JsonOption,
) -> None:
    """Generate the synthetic clinic as a mysqldump, acquire it, and profile it into the map."""
    from workbench.demo import run_demo  # loads the renderers only when the demo runs

    with RichProgress() as progress:
        result = run_demo(workspace(workspace_dir), people, seed, style, progress)
    manifest, path = result.acquired.manifest, result.acquired.path
    if as_json:
        emit_json(
            {
                "snapshot": manifest.to_dict(),
                "path": str(path),
                "synth_rows": result.synth.rows,
                "map": {name: str(file) for name, file in result.map_files.items()},
            }
        )
        return
    verb = "took" if result.acquired.created else "unchanged: identical to existing"
    out.print(f"{verb} snapshot {manifest.snapshot!r} at {path}")
    print_summary(manifest)
    expected = sum(result.synth.rows.values())
    out.print(f"generator manifest: {expected:,} rows; snapshot: {manifest.rows:,} rows")
    for name, file in result.map_files.items():
        out.print(f"{name}: {file}")


def register(app: typer.Typer) -> None:
    app.command()(demo)
