"""Run a compiled template over a snapshot and account for every source row.

The projection is what a job would load, computed without touching any target: per
mapping, each source row's fate and rule; per target table, the rows that would load.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
import polars as pl

from workbench.errors import MappingError
from workbench.mapping.compile import FATES, CompiledMapping, CompiledTemplate
from workbench.snapshot.staging import quote_ident as q


@dataclass
class Projection:
    con: duckdb.DuckDBPyConnection
    compiled: CompiledTemplate

    def fates(self) -> pl.DataFrame:
        """Source rows per mapping, fate and rule (a source row counts once, whatever its
        variants)."""
        frames = [self._fates(cm) for cm in self.compiled.mappings]
        return pl.concat(frames) if frames else pl.DataFrame()

    def _fates(self, cm: CompiledMapping) -> pl.DataFrame:
        return self.con.sql(
            f"SELECT _mapping AS mapping, _source_table AS source_table, _fate AS fate, "
            f"_rule AS rule, count(DISTINCT _source_key)::BIGINT AS rows "
            f"FROM {q(cm.rows_table)} GROUP BY ALL ORDER BY fate, rule"
        ).pl()

    def accounting(self) -> pl.DataFrame:
        """Per mapping: source rows = loaded + excluded + parked, against the snapshot."""
        rows = []
        for cm in self.compiled.mappings:
            for table, counts in self._accounting(cm).items():
                rows.append({"mapping": cm.name, "source_table": table, **counts})
        frame = pl.DataFrame(rows)
        return frame.with_columns(
            balanced=pl.col("source_rows")
            == pl.col("loaded") + pl.col("excluded") + pl.col("parked")
        )

    def _accounting(self, cm: CompiledMapping) -> dict[str, dict[str, int]]:
        out = {}
        for table in cm.mapping.source_tables():
            (total,) = self.con.execute(f"SELECT count(*) FROM {q(table)}").fetchall()[0]
            by_fate = dict(
                self.con.execute(
                    f"SELECT _fate, count(DISTINCT _source_key) FROM {q(cm.rows_table)} "
                    "WHERE _source_table = ? GROUP BY _fate",
                    [table],
                ).fetchall()
            )
            out[table] = {"source_rows": total} | {f: by_fate.get(f, 0) for f in FATES}
        return out

    def target_counts(self) -> dict[str, int]:
        return {
            t: self.con.execute(
                f"SELECT count(*) FROM {q(self.compiled.target_view(t))}"
            ).fetchall()[0][0]
            for t in self.compiled.template.targets()
        }

    def target_rows(self, table: str) -> duckdb.DuckDBPyRelation:
        return self.con.sql(f"SELECT * FROM {q(self.compiled.target_view(table))}")

    def field_checks(self) -> pl.DataFrame:
        """Per checked field: rows with a value to read, and rows where reading failed."""
        rows = []
        for cm in self.compiled.mappings:
            for c in cm.checks:
                failed = self.con.execute(
                    f"SELECT count(*) FILTER (WHERE {q(c.flag)}), "
                    f"count(*) FILTER (WHERE {q(c.field)} IS NOT NULL OR {q(c.flag)}) "
                    f"FROM {q(cm.rows_table)} WHERE _fate <> 'excluded'"
                ).fetchall()[0]
                rows.append(
                    {
                        "mapping": cm.name,
                        "field": c.field,
                        "kind": c.kind,
                        "reads": ", ".join(c.reads),
                        "with_value": failed[1],
                        "failed": failed[0],
                    }
                )
        return pl.DataFrame(rows)


def project(con: duckdb.DuckDBPyConnection, compiled: CompiledTemplate) -> Projection:
    """Execute the compiled script on ``con`` (a connection that sees the snapshot's tables;
    only temporary objects are created). Errors name the template line of the mapping."""
    con.execute("SET enable_progress_bar = false")
    for comment, sql in compiled.statements:
        try:
            con.execute(sql)
        except duckdb.Error as e:
            raise MappingError(f"{_where(compiled, comment)}: {_first_line(e)}") from None
    return Projection(con, compiled)


def _where(compiled: CompiledTemplate, comment: str) -> str:
    t = compiled.template
    m = re.match(r"mapping (\w+)", comment)
    if m:
        mapping = t.mapping(m.group(1))
        return f"{t.where('mappings', mapping.index)}: mapping {mapping.name}"
    m = re.match(r"lookup (\w+)", comment)
    if m:
        return f"{t.where('lookups', m.group(1))}: lookup {m.group(1)}"
    return f"{t.where()}: {comment.split(':')[0]}"


def _first_line(e: Exception) -> str:
    return " ".join(str(e).split("\n")[:2]).strip()
