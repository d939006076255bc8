"""The DDL of a target model, and creating it in a target database.

One SQLAlchemy ``MetaData`` is the single description of the schema; it is compiled for
PostgreSQL and SQLite by their own dialects. No DuckDB dialect for SQLAlchemy is installed,
and DuckDB accepts PostgreSQL's DDL, so DuckDB gets the PostgreSQL text, run through the
``duckdb`` package.

Every schema records the model version it was created from in ``_workbench_model``, so a
job can refuse a target whose tables are of another version of the contract.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import duckdb
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateIndex, CreateSchema, CreateTable

from workbench.errors import TargetError
from workbench.target.model import TargetModel, TargetTable

Dialect = Literal["duckdb", "postgresql", "sqlite"]
DIALECTS: tuple[str, ...] = ("duckdb", "postgresql", "sqlite")
VERSION_TABLE = "_workbench_model"
# Filled by the load stage: which job and batch loaded a row, from which source row.
LINEAGE = (
    ("_job_id", sa.String),
    ("_batch", sa.Integer),
    ("_source_table", sa.String),
    ("_source_key", sa.String),
)
# Stable constraint names, so that an error message names the rule that was broken.
NAMING = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "ix": "ix_%(table_name)s_%(column_0_name)s",
}
SIMPLE_TYPES: dict[str, Any] = {
    "varchar": sa.String,
    "text": sa.Text,
    "integer": sa.Integer,
    "bigint": sa.BigInteger,
    "double": sa.Double,
    "date": sa.Date,
    "timestamp": sa.DateTime,
    "boolean": sa.Boolean,
}
COMPILERS = {
    "duckdb": postgresql.dialect(),
    "postgresql": postgresql.dialect(),
    "sqlite": sqlite.dialect(),
}


def metadata(model: TargetModel, schema: str | None = None) -> sa.MetaData:
    """The target model's tables, constraints and indexes, plus ``_workbench_model``."""
    md = sa.MetaData(schema=schema, naming_convention=NAMING)
    for table in model.load_order():
        _table(md, table, model, schema)
    sa.Table(
        VERSION_TABLE,
        md,
        sa.Column("model", sa.String, primary_key=True),
        sa.Column("version", sa.String, nullable=False),
        sa.Column("sha256", sa.String, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    return md


def _table(md: sa.MetaData, table: TargetTable, model: TargetModel, schema: str | None) -> None:
    prefix = f"{schema}." if schema else ""
    items: list[Any] = []
    for col in table.columns.values():
        fk = [sa.ForeignKey(f"{prefix}{'.'.join(col.references)}")] if col.references else []
        items.append(
            sa.Column(
                col.name,
                column_type(col.type),
                *fk,
                primary_key=col.name == table.primary_key,
                nullable=col.name not in table.required,
            )
        )
        value_set = model.value_sets.get(col.value_set or "")
        if value_set is not None and value_set.codes is not None:
            # Standard systems (patterns) are checked by the compiler, not the database:
            # a regular-expression CHECK is not portable across the three dialects.
            check = sa.column(col.name).in_(value_set.codes)
            items.append(sa.CheckConstraint(check, name=col.name))
    if not table.reference:
        items.extend(sa.Column(name, type_()) for name, type_ in LINEAGE)
    created = sa.Table(table.name, md, *items)
    if not table.reference:
        sa.Index(f"ix_{table.name}__job_id", created.c._job_id)
    for col in table.columns.values():
        # Deleting a parent (a rollback) looks up its children: without an index on the
        # referencing column PostgreSQL scans the child table once per parent row.
        if col.references and col.name != table.primary_key:
            sa.Index(f"ix_{table.name}_{col.name}", created.c[col.name])


def column_type(type_: str) -> sa.types.TypeEngine:
    if type_ in SIMPLE_TYPES:
        return SIMPLE_TYPES[type_]()
    precision, scale = type_.removeprefix("decimal(").rstrip(")").split(",")
    return sa.Numeric(int(precision), int(scale))


def statements(model: TargetModel, dialect: str, schema: str | None = None) -> list[Any]:
    """CREATE SCHEMA, then each table in load order with its index, then the version row."""
    md = metadata(model, schema)
    out: list[Any] = []
    if schema and dialect != "sqlite":  # sqlite's schemas are attached files, not created
        out.append(CreateSchema(schema, if_not_exists=True))
    for name in [*(t.name for t in model.load_order()), VERSION_TABLE]:
        created = md.tables[f"{schema}.{name}" if schema else name]
        out.append(CreateTable(created))
        out.extend(CreateIndex(ix) for ix in sorted(created.indexes, key=lambda ix: ix.name))
    out.append(
        sa.insert(created).values(
            model=model.name,
            version=model.version,
            sha256=model.sha256,
            created_at=sa.func.current_timestamp(),
        )
    )
    return out


def _sql(element: Any, dialect: str) -> str:
    compiled = element.compile(dialect=COMPILERS[dialect], compile_kwargs={"literal_binds": True})
    return "\n".join(line.rstrip() for line in str(compiled).strip().splitlines())


def ddl_text(model: TargetModel, dialect: Dialect, schema: str | None = None) -> str:
    """The statements that create the model's schema, each ending with ';'."""
    if dialect not in DIALECTS:
        raise TargetError(f"unknown dialect {dialect!r} (dialects: {', '.join(DIALECTS)})")
    return "".join(_sql(s, dialect) + ";\n\n" for s in statements(model, dialect, schema))


def create_schema(target: str | Path, model: TargetModel, schema: str | None = None) -> bool:
    """Create the model's tables in ``target``: a SQLAlchemy URL or a DuckDB file.

    Returns False when the target already holds this model version (nothing to do). All
    statements run in one transaction, so a failure leaves no partial schema.
    """
    with _open(target) as db:
        found = db.version(schema)
        if found == (model.name, model.version):
            return False
        if found is not None:
            raise TargetError(
                f"{db.label}: holds target model {found[0]} {found[1]}, "
                f"not {model.name} {model.version}; use a new schema or database"
            )
        db.run(statements(model, db.dialect, schema), f"cannot create {model.name} tables")
    return True


def schema_version(target: str | Path, schema: str | None = None) -> tuple[str, str] | None:
    """(model, version) that ``target`` was created from, or None if it has no schema."""
    if _is_duckdb(target) and not _duckdb_path(target).exists():
        return None  # reading must not create the file
    with _open(target) as db:
        return db.version(schema)


def target_label(target: str | Path) -> str:
    """``target`` as it may be shown: a URL's password is hidden."""
    if _is_duckdb(target):
        return str(_duckdb_path(target))
    try:
        return sa.make_url(str(target)).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "(unreadable URL)"


def _is_duckdb(target: str | Path) -> bool:
    return isinstance(target, Path) or "://" not in target or target.startswith("duckdb://")


def _duckdb_path(target: str | Path) -> Path:
    return Path(str(target).removeprefix("duckdb:///").removeprefix("duckdb://"))


@contextmanager
def _open(target: str | Path) -> Iterator[_DuckDBTarget | _SqlTarget]:
    db = _DuckDBTarget(_duckdb_path(target)) if _is_duckdb(target) else _SqlTarget(str(target))
    try:
        yield db
    finally:
        db.close()


def _one_line(error: BaseException) -> str:
    cause = getattr(error, "orig", None) or error
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]


def _version(label: str, rows: list[Any]) -> tuple[str, str] | None:
    if len(rows) > 1:
        raise TargetError(f"{label}: {VERSION_TABLE} has {len(rows)} rows; expected one")
    return (str(rows[0][0]), str(rows[0][1])) if rows else None


class _SqlTarget:
    """PostgreSQL or SQLite, through SQLAlchemy."""

    def __init__(self, url: str) -> None:
        try:
            self.engine = sa.create_engine(url)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as e:
            raise TargetError(f"{url}: not a target URL: {_one_line(e)}") from None
        self.label = self.engine.url.render_as_string(hide_password=True)
        self.dialect = self.engine.dialect.name
        if self.dialect not in DIALECTS:
            raise TargetError(f"{self.label}: {self.dialect} targets are not supported")
        if self.dialect == "sqlite":
            _transactional_sqlite_ddl(self.engine)

    def version(self, schema: str | None) -> tuple[str, str] | None:
        try:
            with self.engine.connect() as con:
                if not sa.inspect(con).has_table(VERSION_TABLE, schema=schema):
                    return None
                columns = (sa.column("model"), sa.column("version"))
                table = sa.table(VERSION_TABLE, *columns, schema=schema)
                rows = con.execute(sa.select(table.c.model, table.c.version)).all()
        except sa.exc.SQLAlchemyError as e:
            raise TargetError(f"{self.label}: cannot read the schema: {_one_line(e)}") from None
        return _version(self.label, rows)

    def run(self, elements: list[Any], what: str) -> None:
        try:
            with self.engine.begin() as con:
                for element in elements:
                    con.execute(element)
        except sa.exc.SQLAlchemyError as e:
            raise TargetError(f"{self.label}: {what}: {_one_line(e)}") from None

    def close(self) -> None:
        self.engine.dispose()


def _transactional_sqlite_ddl(engine: sa.Engine) -> None:
    # Python's sqlite3 commits DDL as it goes unless it is told to leave transactions
    # to us (SQLAlchemy's documented recipe); without this a failure leaves half a schema.
    @sa.event.listens_for(engine, "connect")
    def _no_implicit_transactions(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN")


class _DuckDBTarget:
    """A DuckDB file, through the duckdb package, with PostgreSQL-dialect DDL."""

    dialect = "duckdb"

    def __init__(self, path: Path) -> None:
        self.label = str(path)
        try:
            self.con = duckdb.connect(str(path))
        except duckdb.Error as e:
            raise TargetError(f"{path}: cannot open the DuckDB target: {_one_line(e)}") from None

    def version(self, schema: str | None) -> tuple[str, str] | None:
        exists = self.con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_catalog = "
            "current_database() AND table_schema = coalesce(?, current_schema()) "
            "AND table_name = ?",
            [schema, VERSION_TABLE],
        ).fetchone()
        if not exists or not exists[0]:
            return None
        quote = COMPILERS["duckdb"].identifier_preparer
        name = quote.quote(VERSION_TABLE)
        qualified = f"{quote.quote_schema(schema)}.{name}" if schema else name
        rows = self.con.execute(f"SELECT model, version FROM {qualified}").fetchall()
        return _version(self.label, rows)

    def run(self, elements: list[Any], what: str) -> None:
        self.con.begin()
        try:
            for element in elements:
                self.con.execute(_sql(element, "duckdb"))
            self.con.commit()
        except duckdb.Error as e:
            self.con.rollback()
            raise TargetError(f"{self.label}: {what}: {_one_line(e)}") from None

    def close(self) -> None:
        self.con.close()
