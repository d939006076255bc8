"""A template as a workspace uses it: resolved by reference (draft or a verified published
version), with its target model and crosswalks, compiled against a snapshot's columns."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from workbench.errors import MappingError
from workbench.mapping import versions
from workbench.mapping.compile import CompiledTemplate, compile_template
from workbench.mapping.crosswalk import load_crosswalk
from workbench.mapping.projection import Projection, project
from workbench.mapping.template import Template, load_template
from workbench.snapshot.store import open_snapshot
from workbench.target.model import TargetModel, find_model
from workbench.workspace import Workspace


@dataclass(frozen=True)
class LoadedTemplate:
    template: Template
    resolved: versions.Resolved
    model: TargetModel
    crosswalks: dict[str, versions.Resolved]

    @property
    def ref(self) -> str:
        return self.resolved.ref

    def identity(self) -> dict:
        """What a job or run records about the template it used."""
        return {
            "ref": self.ref,
            "version": self.resolved.version or "draft",
            "sha256": self.resolved.sha256,
            "model": f"{self.model.name} {self.model.version}",
            "crosswalks": {
                n: {"ref": r.ref, "sha256": r.sha256} for n, r in self.crosswalks.items()
            },
        }


def load(ws: Workspace, ref: str) -> LoadedTemplate:
    """Resolve ``NAME`` (draft) or ``NAME@vN`` (published, verified against its stamp)."""
    resolved = versions.resolve(ws, "template", ref)
    template = load_template(resolved.path)
    model = find_model(ws.mappings_dir, template.target)
    published = resolved.version is not None
    crosswalks = {}
    for xref in template.crosswalks:
        name, pinned = versions.parse_ref(xref)
        crosswalks[name] = _crosswalk(ws, name, pinned, published)
    return LoadedTemplate(template, resolved, model, crosswalks)


def _crosswalk(ws: Workspace, name: str, pinned: str | None, published: bool) -> versions.Resolved:
    # A published template that names a crosswalk without a version uses the newest
    # published version of it (the draft only if none was ever published); the job
    # records which one, with its sha256.
    if pinned:
        resolved = versions.resolve(ws, "crosswalk", f"{name}@{pinned}")
    elif published and versions.versions(ws, "crosswalk", name):
        resolved = versions.resolve(ws, "crosswalk", f"{name}@latest")
    else:
        resolved = versions.resolve(ws, "crosswalk", name)
    load_crosswalk(resolved.path)  # a malformed crosswalk fails here, naming its line
    return resolved


def source_columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    rows = con.execute(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_catalog = current_database() "
        "ORDER BY table_name, ordinal_position"
    ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def compile_loaded(
    loaded: LoadedTemplate, con: duckdb.DuckDBPyConnection | None = None
) -> CompiledTemplate:
    paths = {n: r.path for n, r in loaded.crosswalks.items()}
    columns = source_columns(con) if con is not None else None
    if columns is not None:
        _check_sources(loaded.template, columns)
    return compile_template(loaded.template, loaded.model, paths, columns)


def _check_sources(template: Template, columns: dict[str, list[str]]) -> None:
    known = {t.lower() for t in columns}
    for m in template.mappings:
        for table in m.source_tables():
            if table.lower() not in known:
                raise MappingError(
                    f"{template.where('mappings', m.index)}: mapping {m.name}: the snapshot "
                    f"has no table {table!r} (tables: {', '.join(sorted(columns))})"
                )


def project_snapshot(ws: Workspace, ref: str, snapshot: str) -> Projection:
    """Run the template over a snapshot (read-only) and return the projection."""
    loaded = load(ws, ref)
    con = open_snapshot(ws.snapshots_dir, snapshot).connect()
    return project(con, compile_loaded(loaded, con))
