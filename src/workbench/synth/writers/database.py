"""``--format database``: load the clinic straight into a live MariaDB/MySQL or PostgreSQL.

Tables are created with the legacy types; rows go in bulk: pymysql's multi-row executemany
for MySQL, COPY for PostgreSQL. PostgreSQL loads in one transaction (all or nothing); MySQL
commits DDL as it goes, so a failure drops the tables this run created.
PostgreSQL has no zero date: '0000-00-00' in a DATE column loads as NULL and is counted.
"""

from __future__ import annotations

import io
import re

import polars as pl
import sqlalchemy as sa

from workbench.errors import SynthError
from workbench.progress import SILENT, Progress
from workbench.synth.dirt import ZERO_DATE
from workbench.synth.plan import Plan
from workbench.synth.tables import Col, TableSpec
from workbench.synth.writers.base import Output, Writer

BATCH_ROWS = 5_000


def masked(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparseable URL: show only its scheme
        return url.split("://")[0] + "://..."


def sa_type(col: Col) -> sa.types.TypeEngine:
    if col.decimal:
        return sa.Numeric(*col.decimal)
    if m := re.fullmatch(r"char\((\d+)\)", col.sql):
        return sa.CHAR(int(m.group(1)))
    if col.varchar_length:
        return sa.String(col.varchar_length)
    if col.sql.startswith("smallint"):
        return sa.SmallInteger()
    if col.sql.startswith("int"):
        return sa.Integer()
    return {"date": sa.Date(), "text": sa.Text()}[col.sql]


def sa_table(spec: TableSpec, metadata: sa.MetaData) -> sa.Table:
    pk = spec.primary_key
    return sa.Table(
        spec.name,
        metadata,
        *(
            sa.Column(
                c.name,
                sa_type(c),
                primary_key=c is pk,
                autoincrement=False,
                nullable=c is not pk,
                index=c.kind in ("fk", "ref"),
            )
            for c in spec.columns
        ),
    )


class DatabaseWriter(Writer):
    def __init__(self, out, url: str, schema: str | None = None, replace: bool = False):
        super().__init__(out)
        self.url, self.schema, self.replace = url, schema, replace
        self.created: list[sa.Table] = []
        self.zero_dates: dict[str, dict[str, int]] = {}
        self.engine = None
        self.conn = None

    def begin(self, plan: Plan) -> None:
        where = masked(self.url)
        try:
            self.engine = sa.create_engine(self.url)
            self.dialect = self.engine.dialect.name
            if self.dialect not in ("mysql", "mariadb", "postgresql"):
                raise SynthError(
                    f"{where}: --format database supports MySQL/MariaDB and "
                    f"PostgreSQL, not {self.dialect}"
                )
            self.conn = self.engine.connect()
        except SynthError:
            raise
        except Exception as e:
            raise SynthError(f"{where}: cannot connect: {_reason(e)}") from None
        self.postgres = self.dialect == "postgresql"
        try:
            self._create(plan)
        except sa.exc.SQLAlchemyError as e:
            raise SynthError(f"{where}: cannot create the tables: {_reason(e)}") from None

    def _create(self, plan: Plan) -> None:
        c = self.conn
        if self.postgres:
            c.exec_driver_sql("SET client_encoding TO 'UTF8'")
        else:  # a legacy server's mode: zero dates allowed
            c.exec_driver_sql("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'")
        if self.schema:
            c.execute(sa.schema.CreateSchema(self.schema, if_not_exists=True))
        metadata = sa.MetaData(schema=self.schema)
        tables = [sa_table(spec, metadata) for spec in plan.style.tables]
        inspector = sa.inspect(c)
        existing = [t.name for t in tables if inspector.has_table(t.name, schema=self.schema)]
        if existing and not self.replace:
            raise SynthError(
                f"{masked(self.url)}: table {existing[0]} already exists"
                f"{' in schema ' + self.schema if self.schema else ''}; pass --replace to drop it"
            )
        for t in tables:
            t.drop(c, checkfirst=True)
            t.create(c)
            if not self.postgres:
                self.created.append(t)
        if self.postgres:
            self.created = tables
        self.tables = {t.name: t for t in tables}

    def _qualified(self, name: str) -> str:
        q = self.engine.dialect.identifier_preparer.quote
        return f"{q(self.schema)}.{q(name)}" if self.schema else q(name)

    def write(self, spec: TableSpec, frame: pl.DataFrame) -> None:
        if frame.height == 0:
            return
        try:
            if self.postgres:
                self._copy(spec, self._without_zero_dates(spec, frame))
            else:
                self._insert(spec, frame)
        except Exception as e:
            raise SynthError(
                f"{masked(self.url)}: loading {spec.name} failed: {_reason(e)}"
            ) from None

    def _without_zero_dates(self, spec: TableSpec, frame: pl.DataFrame) -> pl.DataFrame:
        for c in spec.columns:
            if c.kind == "date":
                zero = frame[c.name] == ZERO_DATE
                k = int(zero.sum())
                per_table = self.zero_dates.setdefault(spec.name, {})
                per_table[c.name] = per_table.get(c.name, 0) + k
                if k:
                    frame = frame.with_columns(
                        pl.when(pl.col(c.name) == ZERO_DATE)
                        .then(None)
                        .otherwise(pl.col(c.name))
                        .alias(c.name)
                    )
        return frame

    def _copy(self, spec: TableSpec, frame: pl.DataFrame) -> None:
        q = self.engine.dialect.identifier_preparer.quote
        columns = ", ".join(q(c.name) for c in spec.columns)
        buf = io.BytesIO()
        frame.write_csv(buf, include_header=False, null_value="\\N")
        table = self._qualified(spec.name)
        sql = f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
        with self.conn.connection.dbapi_connection.cursor() as cur, cur.copy(sql) as copy:
            copy.write(buf.getvalue())

    def _insert(self, spec: TableSpec, frame: pl.DataFrame) -> None:
        columns = ", ".join(f"`{c.name}`" for c in spec.columns)
        marks = ", ".join(["%s"] * len(spec.columns))
        sql = f"INSERT INTO {self._qualified(spec.name)} ({columns}) VALUES ({marks})"
        with self.conn.connection.dbapi_connection.cursor() as cur:
            for batch in frame.iter_slices(BATCH_ROWS):
                cur.executemany(sql, batch.rows())

    def finish(self, progress: Progress = SILENT) -> Output:
        try:
            self.conn.commit()
        except Exception as e:
            raise SynthError(f"{masked(self.url)}: commit failed: {_reason(e)}") from None
        finally:
            self.conn.close()
            self.engine.dispose()
        target = {
            "url": masked(self.url),
            "dialect": self.dialect,
            "schema": self.schema,
            "tables": [t for t in self.tables],
        }
        if self.postgres:
            target["zero_dates_loaded_as_null"] = self.zero_dates
        return Output(target=target)

    def abort(self) -> None:
        if self.conn is None:
            return
        try:
            self.conn.rollback()
            for t in reversed(self.created if not self.postgres else []):
                t.drop(self.conn, checkfirst=True)
            self.conn.commit()
        except Exception:  # the original error is the one to report
            pass
        finally:
            self.conn.close()
            self.engine.dispose()


def _reason(e: Exception) -> str:
    orig = getattr(e, "orig", None) or e
    return " ".join(str(orig).split())[:300]
