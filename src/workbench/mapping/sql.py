"""SQL pieces every mapping compiles to, discrete or summary document alike."""

from __future__ import annotations

from workbench.mapping.template import Rule, Source
from workbench.snapshot.staging import quote_ident as q
from workbench.snapshot.staging import sql_string


def create_table(name: str, select: str) -> str:
    return f"CREATE OR REPLACE TEMP TABLE {q(name)} AS\n{select.strip().rstrip(';')};"


def from_clause(source: Source) -> str:
    sql = f"FROM {q(source.table)} AS {q(source.name)}"
    for j in source.joins:
        rel = q(j.table) if j.table else q(f"_wb_lookup_{j.lookup}")
        sql += f"\n  {j.how.upper()} JOIN {rel} AS {q(j.alias)} ON {j.on}"
    return sql


def excluded_case(filters: tuple[Rule, ...]) -> str:
    """The name of the first filter a row matches, as ``_excluded_by`` (NULL: kept)."""
    if not filters:
        return "CAST(NULL AS VARCHAR) AS _excluded_by"
    whens = " ".join(f"WHEN coalesce(({r.sql}), FALSE) THEN {sql_string(r.name)}" for r in filters)
    return f"CASE {whens} END AS _excluded_by"
