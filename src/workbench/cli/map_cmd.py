"""``workbench map``: the data migration map after SMEs have worked on it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from workbench.cli.edge import JsonOption, emit_json, out
from workbench.profile.annotations import read_annotations

map_app = typer.Typer(
    help="The data migration map: read back what SMEs annotated.", no_args_is_help=True
)


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


def register(app: typer.Typer) -> None:
    app.add_typer(map_app, name="map")
