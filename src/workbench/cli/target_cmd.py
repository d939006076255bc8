"""``workbench target``: the target model (the new EHR's tables) and its DDL."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from workbench import workspace as ws
from workbench.cli.edge import JsonOption, WorkspaceOption, emit_json, fail, out
from workbench.errors import ConfigError
from workbench.target import TargetModel, find_model
from workbench.target.ddl import create_schema, ddl_text, target_label

target_app = typer.Typer(
    help="The target model: the new EHR's tables, and the DDL that creates them.",
    no_args_is_help=True,
)


ModelOption = typer.Option("ehr", "--model", "-m", help="Target model name.")
SchemaOption = typer.Option(None, "--schema", help="Database schema (PostgreSQL, DuckDB).")


def _model(name: str, workspace_dir: Path | None) -> TargetModel:
    # The built-in models need no workspace, so outside one the library alone is searched.
    if workspace_dir is not None:
        mappings_dir: Path | None = ws.load(workspace_dir).mappings_dir
    else:
        try:
            mappings_dir = ws.find().mappings_dir
        except ConfigError:
            mappings_dir = None
    return find_model(mappings_dir, name)


@target_app.command("ddl")
def ddl(
    # Plain text rather than a choice: ddl_text refuses an unknown dialect in one line.
    dialect: str = typer.Option(None, "--dialect", help="duckdb, postgresql or sqlite."),
    apply: str = typer.Option(
        None, "--apply", help="Create the tables in TARGET: a SQLAlchemy URL or a .duckdb file."
    ),
    model_name: str = ModelOption,
    schema: str = SchemaOption,
    workspace_dir: Path = WorkspaceOption,
) -> None:
    """Print the CREATE TABLE statements of a target model, or create them with --apply."""
    if dialect is None and apply is None:
        raise fail("give --dialect duckdb|postgresql|sqlite to print, or --apply TARGET")
    model = _model(model_name, workspace_dir)
    if apply is None:
        typer.echo(ddl_text(model, dialect, schema), nl=False)
        return
    where = target_label(apply) + (f" (schema {schema})" if schema else "")
    if create_schema(apply, model, schema):
        loaded = sum(not t.reference for t in model.tables.values())
        typer.echo(
            f"created {len(model.tables)} tables of {model.name} {model.version} in {where} "
            f"({loaded} loaded by migrations, {len(model.tables) - loaded} tenant-provided)"
        )
    else:
        typer.echo(f"{where} already has {model.name} {model.version}; nothing to do")


@target_app.command("show")
def show(
    model_name: str = ModelOption,
    as_json: bool = JsonOption,
    workspace_dir: Path = WorkspaceOption,
) -> None:
    """List a target model's tables: columns, primary key, required columns, references."""
    model = _model(model_name, workspace_dir)
    rows = [
        {
            "table": t.name,
            "resource": t.resource,
            "reference": t.reference,
            "description": t.description,
            "columns": len(t.columns),
            "primary_key": t.primary_key,
            "required": t.required,
            "foreign_keys": [f"{col} -> {table}.{ref}" for col, table, ref in t.foreign_keys],
        }
        for t in model.load_order()
    ]
    if as_json:
        emit_json(
            {
                "model": model.name,
                "version": model.version,
                "title": model.title,
                "path": str(model.path),
                "sha256": model.sha256,
                "tables": rows,
            }
        )
        return
    table = Table("table", "resource", "columns", "primary key", "required", "references")
    for r in rows:
        name = f"{r['table']} (tenant)" if r["reference"] else r["table"]
        table.add_row(
            name,
            r["resource"],
            str(r["columns"]),
            r["primary_key"],
            ", ".join(r["required"]),
            ", ".join(r["foreign_keys"]) or "-",
        )
    out.print(table)
    out.print(f"{model.name} {model.version}: {model.title} ({model.path})", highlight=False)


def register(app: typer.Typer) -> None:
    from workbench.cli.environment_cmd import prepare

    target_app.command("prepare")(prepare)
    app.add_typer(target_app, name="target")
