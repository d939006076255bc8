"""What differs between the live databases a source can read: one class per dialect.

Each dialect knows how to connect, how to open a consistent read (one snapshot for the whole
acquisition, so every count matches what was read), where the server keeps a column's
declared type (``int(11)``, ``timestamp without time zone``) and how to plan its columns.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from workbench.errors import SourceUnreachable
from workbench.sources.base import resolve_path
from workbench.sources.database_types import (
    ColumnPlan,
    as_text,
    mixed_to_text,
    plan_column,
)

CONNECT_TIMEOUT_S = 10


class Dialect:
    """Any database SQLAlchemy can reach: no snapshot guarantee, declared types as compiled."""

    names: ClassVar[tuple[str, ...]] = ()
    connection_options: ClassVar[dict[str, Any]] = {}

    def create_engine(self, url: URL, root: Path) -> sa.Engine:
        return sa.create_engine(url, poolclass=NullPool, connect_args=self.connect_args(url))

    def connect_args(self, url: URL) -> dict[str, Any]:
        return {}

    def begin_snapshot(self, conn: sa.Connection) -> None:
        """Start the transaction every count and read of this acquisition happens in."""

    def declared_types(self, conn: sa.Connection, schema: str | None, table: str) -> dict:
        return {}

    def census(self, ref: sa.TableClause, columns: list[dict]) -> list[sa.ColumnElement]:
        """Aggregates computed with the row count, that ``plan`` needs to decide types."""
        return []

    def plan(self, columns: list[dict], declared: dict, census: tuple) -> list[ColumnPlan]:
        return [
            plan_column(c["name"], c["type"], declared.get(c["name"]) or _compiled(c["type"]))
            for c in columns
        ]


def _compiled(sa_type: sa.types.TypeEngine) -> str | None:
    try:
        return str(sa_type).lower()
    except sa.exc.CompileError:
        return None


class MySQL(Dialect):
    names = ("mysql", "mariadb")
    connection_options: ClassVar[dict[str, Any]] = {"isolation_level": "REPEATABLE READ"}

    def connect_args(self, url: URL) -> dict[str, Any]:
        args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
        if url.get_driver_name() in ("pymysql", "mysqldb") and "charset" not in url.query:
            args["charset"] = "utf8mb4"  # emoji and every other character, whatever the table
        return args

    def begin_snapshot(self, conn: sa.Connection) -> None:
        # A slow consumer of a streamed result must not be cut off by the server.
        conn.exec_driver_sql("SET SESSION net_write_timeout = 600")
        conn.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT")

    def declared_types(self, conn: sa.Connection, schema: str | None, table: str) -> dict:
        rows = conn.execute(
            sa.text(
                "SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = :schema AND TABLE_NAME = :table"
            ),
            {"schema": schema, "table": table},
        )
        return {name: _text(decl) for name, decl in rows}


class PostgreSQL(Dialect):
    names = ("postgresql",)
    connection_options: ClassVar[dict[str, Any]] = {
        "isolation_level": "REPEATABLE READ",
        "postgresql_readonly": True,
    }

    def connect_args(self, url: URL) -> dict[str, Any]:
        args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S}
        if url.get_driver_name() in ("psycopg", "psycopg2"):
            args["application_name"] = "migration-workbench"
        return args

    def begin_snapshot(self, conn: sa.Connection) -> None:
        # Timestamps with time zone then read the same wherever the workbench runs.
        conn.exec_driver_sql("SET TIME ZONE 'UTC'")

    def declared_types(self, conn: sa.Connection, schema: str | None, table: str) -> dict:
        rows = conn.execute(
            sa.text(
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod) "
                "FROM pg_catalog.pg_attribute a "
                "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
                "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relname = :table "
                "AND a.attnum > 0 AND NOT a.attisdropped"
            ),
            {"schema": schema, "table": table},
        )
        return dict(rows.all())


_STORAGE_CLASSES = ("integer", "real", "text", "blob")


class SQLite(Dialect):
    """SQLite declares types but stores any value in any column, so its columns are staged
    by what they really hold (each value's storage class), counted in the same read."""

    names = ("sqlite",)

    def create_engine(self, url: URL, root: Path) -> sa.Engine:
        if not url.database or url.database == ":memory:":
            raise SourceUnreachable("a sqlite url must name a database file")
        path = resolve_path(root, url.database)
        if not path.is_file():
            raise SourceUnreachable(f"no such sqlite database file: {path}")
        uri = f"file:{quote(str(path))}?mode=ro"  # read-only: a probe never creates or writes

        def connect() -> sqlite3.Connection:
            return sqlite3.connect(uri, uri=True, check_same_thread=False)

        return sa.create_engine("sqlite://", creator=connect, poolclass=NullPool)

    def begin_snapshot(self, conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    def declared_types(self, conn: sa.Connection, schema: str | None, table: str) -> dict:
        rows = conn.execute(sa.text("SELECT name, type FROM pragma_table_info(:t)"), {"t": table})
        return {name: decl or None for name, decl in rows}

    def census(self, ref: sa.TableClause, columns: list[dict]) -> list[sa.ColumnElement]:
        return [
            sa.func.coalesce(
                sa.func.sum(sa.case((sa.func.typeof(ref.c[c["name"]]) == cls, 1), else_=0)), 0
            )
            for c in columns
            for cls in _STORAGE_CLASSES
        ]

    def plan(self, columns: list[dict], declared: dict, census: tuple) -> list[ColumnPlan]:
        plans = []
        for i, c in enumerate(columns):
            counts = dict(zip(_STORAGE_CLASSES, census[4 * i : 4 * i + 4], strict=True))
            plans.append(self._plan(c, declared.get(c["name"]), counts))
        return plans

    @staticmethod
    def _plan(column: dict, declared: str | None, counts: dict[str, int]) -> ColumnPlan:
        name = column["name"]
        present = {cls for cls, n in counts.items() if n}
        if present == {"text"}:
            by_type = plan_column(name, column["type"], declared)
            temporal = tuple(t for t in by_type.settle if t != "DECIMAL")
            return ColumnPlan(name, declared, "VARCHAR", settle=temporal)
        if "blob" in present:
            cast = sa.LargeBinary() if len(present) > 1 else None
            return ColumnPlan(name, declared, "BLOB", server_cast=cast)
        if "text" in present:
            return ColumnPlan(name, declared, "VARCHAR", convert=mixed_to_text)
        if "real" in present:
            return ColumnPlan(name, declared, "DOUBLE")
        if "integer" in present:
            return ColumnPlan(name, declared, "BIGINT")
        return _by_affinity(name, declared)


def _by_affinity(name: str, declared: str | None) -> ColumnPlan:
    """An all-NULL SQLite column: staged by its declared type's affinity (SQLite's own rules)."""
    decl = (declared or "").upper()
    if "INT" in decl:
        return ColumnPlan(name, declared, "BIGINT")
    if any(k in decl for k in ("CHAR", "CLOB", "TEXT")):
        return ColumnPlan(name, declared, "VARCHAR")
    if not decl or "BLOB" in decl:
        return ColumnPlan(name, declared, "BLOB")
    if any(k in decl for k in ("REAL", "FLOA", "DOUB")):
        return ColumnPlan(name, declared, "DOUBLE")
    return as_text(name, declared)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


def dialect_for(url: URL) -> Dialect:
    backend = url.get_backend_name()
    for cls in (MySQL, PostgreSQL, SQLite):
        if backend in cls.names:
            return cls()
    return Dialect()
