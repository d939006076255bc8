"""Code coverage: how much of a snapshot column's codes a crosswalk translates.

Counted in SQL over the whole table, never a sample: the code-coverage gate and the list of
codes left to map must agree with what a load would really translate.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

import duckdb
import polars as pl

from workbench.errors import CrosswalkError
from workbench.mapping.crosswalk import Crosswalk
from workbench.snapshot.staging import quote_ident

_counter = itertools.count()


@dataclass(frozen=True)
class CodeCoverage:
    crosswalk: str
    target_system: str
    table: str
    code_sql: str
    distinct_codes: int
    distinct_translated: int
    rows_with_code: int
    rows_translated: int
    rows_without_code: int
    unmapped: list[tuple[str, str | None, int]]  # (code, display, rows), most rows first

    @property
    def distinct_coverage(self) -> float:
        """Share of distinct codes translated; 1.0 when there is nothing to translate."""
        return _share(self.distinct_translated, self.distinct_codes)

    @property
    def row_coverage(self) -> float:
        """Share of rows with a code whose code is translated (what the gate measures)."""
        return _share(self.rows_translated, self.rows_with_code)

    @property
    def rows_unmapped(self) -> int:
        return self.rows_with_code - self.rows_translated

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["unmapped"] = [{"code": c, "display": s, "rows": n} for c, s, n in self.unmapped]
        return {
            **d,
            "rows_unmapped": self.rows_unmapped,
            "distinct_coverage": self.distinct_coverage,
            "row_coverage": self.row_coverage,
        }


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 1.0


def code_coverage(
    con: duckdb.DuckDBPyConnection,
    crosswalk: Crosswalk,
    table: str,
    code_sql: str,
    display_sql: str | None = None,
) -> CodeCoverage:
    """Coverage of ``code_sql`` (SQL over ``table``'s columns) by ``crosswalk``'s approved rows.

    Codes are compared trimmed and case-sensitively; NULL and blank codes are not codes.
    An unmapped code's display is the crosswalk's (an unchecked row) or else the most
    frequent value of ``display_sql`` for it in the table, if given.
    """
    name = f"_xw_coverage_{next(_counter)}"
    con.register(name, _approved_frame(crosswalk))
    try:
        counts = con.sql(_counts_sql(table, code_sql, name)).pl()
        displays = _displays(con, table, code_sql, display_sql)
    except duckdb.Error as e:  # a wrong table or column name is the user's, not a bug
        cause = str(e).splitlines()[0]
        raise CrosswalkError(
            f"coverage of {table}.{code_sql} by {crosswalk.name}: {cause}"
        ) from None
    finally:
        con.unregister(name)
    return _coverage(crosswalk, table, code_sql, counts, displays)


def _approved_frame(crosswalk: Crosswalk) -> pl.DataFrame:
    return pl.DataFrame({"code": list(crosswalk.approved)}, schema={"code": pl.Utf8})


def _codes_sql(table: str, code_sql: str) -> str:
    return (
        f"SELECT nullif(trim(CAST(({code_sql}) AS VARCHAR)), '') AS code FROM {quote_ident(table)}"
    )


def _counts_sql(table: str, code_sql: str, approved: str) -> str:
    """One row per distinct code (NULL for rows without one): rows, translated or not."""
    return (
        f"WITH c AS ({_codes_sql(table, code_sql)}) "
        f"SELECT c.code, count(*) AS n, bool_or(a.code IS NOT NULL) AS translated "
        f"FROM c LEFT JOIN (SELECT DISTINCT code FROM {approved}) a ON a.code = c.code "
        f"GROUP BY c.code"
    )


def _displays(
    con: duckdb.DuckDBPyConnection, table: str, code_sql: str, display_sql: str | None
) -> dict[str, str]:
    if display_sql is None:
        return {}
    rows = con.sql(
        f"SELECT nullif(trim(CAST(({code_sql}) AS VARCHAR)), '') AS code, "
        f"mode(nullif(trim(CAST(({display_sql}) AS VARCHAR)), '')) AS display "
        f"FROM {quote_ident(table)} GROUP BY 1 HAVING code IS NOT NULL"
    ).fetchall()
    return {code: display for code, display in rows if display is not None}


def _coverage(
    crosswalk: Crosswalk, table: str, code_sql: str, counts: pl.DataFrame, displays: dict
) -> CodeCoverage:
    coded = counts.filter(pl.col("code").is_not_null())
    translated = coded.filter(pl.col("translated"))
    known = {e.code: e.source_display for e in crosswalk.entries if e.source_display}
    unmapped = [
        (code, known.get(code) or displays.get(code), n)
        for code, n in coded.filter(~pl.col("translated"))
        .sort(["n", "code"], descending=[True, False])
        .select("code", "n")
        .iter_rows()
    ]
    return CodeCoverage(
        crosswalk=crosswalk.name,
        target_system=crosswalk.target_system,
        table=table,
        code_sql=code_sql,
        distinct_codes=coded.height,
        distinct_translated=translated.height,
        rows_with_code=int(coded["n"].sum()),
        rows_translated=int(translated["n"].sum()),
        rows_without_code=int(counts.filter(pl.col("code").is_null())["n"].sum()),
        unmapped=unmapped,
    )
