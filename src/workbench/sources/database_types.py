"""How a live database's columns are staged in DuckDB: the type each one travels and lands as.

A column whose type the driver delivers exactly (integers, decimals, floats, booleans, text,
binary) travels as Arrow of the matching type. Temporal columns, and numbers wider than
DuckDB's DECIMAL(38), travel as the server's own text and are *settled* after loading: the
column is converted to the typed form only if every value converts, so a MySQL zero date
(``0000-00-00``), a PostgreSQL ``BC`` date or a 70-digit decimal keeps the column as text,
exactly as the server wrote it, instead of becoming NULL. Types nobody can map (JSON, UUID,
arrays, intervals, money, geometry) travel and stay as text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from workbench.snapshot.staging import quote_ident

# Settle targets beyond plain DuckDB types. AUTO_DECIMAL: the narrowest DECIMAL that holds every
# value. UTC_TIMESTAMP: a timestamp with time zone read in a UTC session ("...+00"), staged as a
# plain TIMESTAMP in UTC; DuckDB's TIMESTAMPTZ would make every fetch into Python need pytz,
# and its casts depend on the machine's time zone. The declared type still says "with time zone".
AUTO_DECIMAL = "DECIMAL"
UTC_TIMESTAMP = "TIMESTAMP (UTC)"
_DUCKDB_MAX_DECIMAL = 38

_ARROW = {
    "BOOLEAN": pa.bool_(),
    "TINYINT": pa.int8(),
    "SMALLINT": pa.int16(),
    "INTEGER": pa.int32(),
    "BIGINT": pa.int64(),
    "UTINYINT": pa.uint8(),
    "USMALLINT": pa.uint16(),
    "UINTEGER": pa.uint32(),
    "UBIGINT": pa.uint64(),
    "DOUBLE": pa.float64(),
    "VARCHAR": pa.large_string(),
    "BLOB": pa.large_binary(),
}


@dataclass(frozen=True)
class ColumnPlan:
    """How one column is selected on the server, carried in Arrow and staged in DuckDB."""

    name: str
    declared: str | None
    staged_type: str
    server_cast: sa.types.TypeEngine | None = None
    settle: tuple[str, ...] = ()
    convert: Callable[[list[Any]], list[Any]] | None = field(default=None, compare=False)

    @property
    def arrow_type(self) -> pa.DataType:
        if self.staged_type.startswith("DECIMAL("):
            p, s = self.staged_type[8:-1].split(",")
            return pa.decimal128(int(p), int(s))
        return _ARROW[self.staged_type]

    def select(self, column: sa.ColumnClause) -> sa.ColumnElement:
        if self.server_cast is None:
            return column
        return sa.cast(column, self.server_cast).label(self.name)


def as_text(name: str, declared: str | None, settle: tuple[str, ...] = ()) -> ColumnPlan:
    return ColumnPlan(name, declared, "VARCHAR", server_cast=sa.Text(), settle=settle)


def plan_column(name: str, sa_type: sa.types.TypeEngine, declared: str | None) -> ColumnPlan:
    """The staging plan for a column, from its reflected SQLAlchemy type."""
    if isinstance(sa_type, sa.Boolean):
        return ColumnPlan(name, declared, "BOOLEAN")
    if isinstance(sa_type, sa.Integer):
        return ColumnPlan(name, declared, _integer_type(sa_type))
    if isinstance(sa_type, mysql.YEAR):
        return ColumnPlan(name, declared, "SMALLINT")
    if isinstance(sa_type, mysql.BIT):
        return ColumnPlan(name, declared, "UBIGINT", server_cast=mysql.INTEGER(unsigned=True))
    if isinstance(sa_type, sa.Float):
        return ColumnPlan(name, declared, "DOUBLE")
    if isinstance(sa_type, sa.Numeric):
        p, s = sa_type.precision, sa_type.scale or 0
        if p is not None and 0 < p <= _DUCKDB_MAX_DECIMAL:
            return ColumnPlan(name, declared, f"DECIMAL({p},{s})")
        return as_text(name, declared, (AUTO_DECIMAL,))
    if isinstance(sa_type, sa.DateTime):
        return as_text(name, declared, (UTC_TIMESTAMP if sa_type.timezone else "TIMESTAMP",))
    if isinstance(sa_type, sa.Date):
        return as_text(name, declared, ("DATE",))
    if isinstance(sa_type, sa.Time):
        return as_text(name, declared, () if sa_type.timezone else ("TIME",))
    if isinstance(sa_type, sa.types._Binary):
        return ColumnPlan(name, declared, "BLOB")
    if isinstance(sa_type, sa.String) and not isinstance(sa_type, sa.Enum | mysql.SET):
        return ColumnPlan(name, declared, "VARCHAR")
    return as_text(name, declared)


def _integer_type(sa_type: sa.Integer) -> str:
    if isinstance(sa_type, sa.BigInteger):
        base = "BIGINT"
    elif isinstance(sa_type, mysql.TINYINT):
        base = "TINYINT"
    elif isinstance(sa_type, sa.SmallInteger):
        base = "SMALLINT"
    else:  # INTEGER, and MySQL's 24-bit MEDIUMINT
        base = "INTEGER"
    return "U" + base if getattr(sa_type, "unsigned", False) else base


# -- after loading ----------------------------------------------------------------------------

_TEMPORAL = ("DATE", "TIMESTAMP", UTC_TIMESTAMP)
_DECIMAL_TEXT = r"^-?[0-9]+(\.[0-9]+)?$"


def settle(con: duckdb.DuckDBPyConnection, table: str, plans: list[ColumnPlan]) -> list[str]:
    """Convert text-staged columns to their typed form where every value converts.

    Returns the staged type of each column, in order.
    """
    types = [p.staged_type for p in plans]
    pending = [(i, p) for i, p in enumerate(plans) if p.settle]
    if not pending:
        return types
    checks = []
    for _, p in pending:
        col = quote_ident(p.name)
        for target in p.settle:
            checks.extend(_checks(col, target))
    row = con.execute(f"SELECT {', '.join(checks)} FROM {quote_ident(table)}").fetchone()
    values = iter(row)
    for i, p in pending:
        for target in p.settle:
            chosen = _choose(target, values)
            if chosen and types[i] == "VARCHAR":
                col = quote_ident(p.name)
                con.execute(
                    f"ALTER TABLE {quote_ident(table)} ALTER {col} "
                    f"SET DATA TYPE {chosen} USING CAST({col} AS {chosen})"
                )
                types[i] = chosen
    return types


def _checks(col: str, target: str) -> list[str]:
    """Aggregates over the staged text that tell whether ``target`` holds every value."""
    if target == AUTO_DECIMAL:
        return [
            f"count(*) FILTER (WHERE {col} IS NOT NULL "
            f"AND NOT regexp_full_match({col}, '{_DECIMAL_TEXT}'))",
            f"count({col})",
            f"max(length(split_part(ltrim({col}, '-'), '.', 1)))",
            f"max(length(split_part({col}, '.', 2)))",
        ]
    typed = f"TRY_CAST({col} AS {_duckdb_type(target)})"
    misfit = f"{typed} IS NULL"
    if target == UTC_TIMESTAMP:  # DuckDB's cast to TIMESTAMP would drop any other offset
        misfit += f" OR NOT ({col} LIKE '%+00' OR {col} IN ('infinity', '-infinity'))"
    if target in _TEMPORAL:
        # DuckDB reads year 0 as 1 BC; the source meant no such thing, so keep it as text.
        misfit += f" OR (isfinite({typed}) AND year({typed}) < 1)"
    return [f"count(*) FILTER (WHERE {col} IS NOT NULL AND ({misfit}))"]


def _choose(target: str, values: Any) -> str | None:
    if target == AUTO_DECIMAL:
        misfits, present, int_digits, scale = (next(values) for _ in range(4))
        if misfits or not present:
            return None
        precision = int_digits + scale
        return f"DECIMAL({precision},{scale})" if precision <= _DUCKDB_MAX_DECIMAL else None
    return None if next(values) else _duckdb_type(target)


def _duckdb_type(target: str) -> str:
    return "TIMESTAMP" if target == UTC_TIMESTAMP else target


def mixed_to_text(values: list[Any]) -> list[Any]:
    """Text for a column whose values have several storage classes (SQLite).

    Python's ``str`` of a float is its shortest exact form, unlike SQLite's 15-digit CAST.
    """
    return [v if v is None or isinstance(v, str) else str(v) for v in values]
