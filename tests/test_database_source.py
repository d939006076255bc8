"""The live database source against real MariaDB and PostgreSQL servers, and a SQLite file.

Each test module makes its own scratch database (MariaDB) or schema (PostgreSQL) with a
unique name, and drops it afterwards. Every count is compared with a COUNT(*) the test runs on
the server itself, and values are compared exactly.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from workbench import workspace as ws
from workbench.errors import ConfigError, SourceError
from workbench.snapshot import acquire, open_snapshot
from workbench.sources import open_source

pytestmark = pytest.mark.services

WORKBENCH = str(Path(sys.executable).parent / "workbench")
VISITS = 3000
BATCH_ROWS = 500  # several batches per table, so the streaming path is exercised

NAME = "Zoë Éclair 😀"
NOTES = 'said "hi"\nthen left; it\'s fine\ttab \\ backslash'


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [WORKBENCH, *args], capture_output=True, text=True, timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def add_source(workspace_dir: Path, name: str, **options) -> None:
    lines = [f"\n[sources.{name}]", 'kind = "database"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
    with (workspace_dir / ws.CONFIG_NAME).open("a") as f:
        f.write("\n".join(lines) + "\n")


def server_counts(url: str, tables: list[str], schema: str | None = None) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            return {
                t: con.execute(
                    sa.select(sa.func.count()).select_from(sa.table(t, schema=schema))
                ).scalar_one()
                for t in tables
            }
    finally:
        engine.dispose()


def scalar(url: str, sql: str):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            return con.exec_driver_sql(sql).scalar()
    finally:
        engine.dispose()


@contextmanager
def admin(url: str):
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as con:
            yield con
    finally:
        engine.dispose()


# -- scratch data on the servers ------------------------------------------------------------


@pytest.fixture(scope="module")
def maria(mariadb_url):
    """A scratch MariaDB database; yields its URL."""
    db = f"wb_src_{uuid.uuid4().hex[:10]}"
    url = sa.make_url(mariadb_url).set(database=db).render_as_string(hide_password=False)
    with admin(mariadb_url) as con:
        con.exec_driver_sql(f"CREATE DATABASE {db} CHARACTER SET utf8mb4")
        con.exec_driver_sql(f"USE {db}")
        con.exec_driver_sql(
            """CREATE TABLE patients (
                id INT(11) NOT NULL PRIMARY KEY, name VARCHAR(50), notes TEXT,
                balance DECIMAL(12,2), weight DOUBLE, born DATE, registered DATE,
                last_seen DATETIME, active TINYINT(1), photo BLOB, big BIGINT UNSIGNED
            ) ENGINE=InnoDB"""
        )
        con.exec_driver_sql(
            "INSERT INTO patients VALUES "
            "(1, %s, %s, 1234.56, 70.5, '1980-02-29', '2001-01-01', '2020-01-01 10:00:00', 1, "
            " x'00FF10', 18446744073709551615), "
            "(2, NULL, NULL, NULL, NULL, NULL, '2002-02-02', NULL, NULL, NULL, NULL)",
            (NAME, NOTES),
        )
        # Legacy MySQL data: zero dates, stored with the strict modes switched off.
        con.exec_driver_sql("SET SESSION sql_mode = ''")
        con.exec_driver_sql(
            "INSERT INTO patients VALUES (3, 'O''Brien', '', -0.01, 0.1, '0000-00-00', "
            "'2003-03-03', '0000-00-00 00:00:00', 0, '', 0)"
        )
        con.exec_driver_sql(
            "CREATE TABLE visits (id INT AUTO_INCREMENT PRIMARY KEY, patient_id INT, "
            "amount DECIMAL(10,2), at DATETIME) ENGINE=InnoDB"
        )
        con.exec_driver_sql(
            "INSERT INTO visits (patient_id, amount, at) SELECT MOD(seq, 3) + 1, seq * 1.25, "
            f"'2021-01-01' + INTERVAL seq MINUTE FROM seq_1_to_{VISITS}"
        )
        con.exec_driver_sql("CREATE VIEW active_patients AS SELECT * FROM patients WHERE active")
    try:
        yield url
    finally:
        with admin(mariadb_url) as con:
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS {db}")


@pytest.fixture(scope="module")
def pg(postgres_url):
    """A scratch PostgreSQL schema; yields (url, schema)."""
    schema = f"wb_src_{uuid.uuid4().hex[:10]}"
    with admin(postgres_url) as con:
        con.exec_driver_sql(f"CREATE SCHEMA {schema}")
        con.exec_driver_sql(f"SET search_path TO {schema}")
        con.exec_driver_sql(
            """CREATE TABLE "Patient" (
                "Id" SERIAL PRIMARY KEY, name VARCHAR(50), notes TEXT, balance NUMERIC(12,2),
                score NUMERIC, weight DOUBLE PRECISION, born DATE, seen TIMESTAMP,
                seen_tz TIMESTAMPTZ, active BOOLEAN, photo BYTEA, tags TEXT[], doc JSONB
            )"""
        )
        con.exec_driver_sql(
            'INSERT INTO "Patient" (name, notes, balance, score, weight, born, seen, seen_tz, '
            "active, photo, tags, doc) VALUES "
            "(%s, %s, 1234.56, 3.14159, 70.5, '1980-02-29', '2020-01-01 10:00:00.25', "
            " '2020-01-01 10:00:00+02', true, '\\x00ff10', '{a,b}', '{\"k\": 1}'), "
            "(NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL), "
            "('O''Brien', '', -0.01, -100.5, 0.1, '0044-03-15 BC', 'infinity', NULL, false, "
            " '', '{}', '[]')",
            (NAME, NOTES),
        )
        con.exec_driver_sql(
            "CREATE TABLE visits (id SERIAL PRIMARY KEY, patient_id INT, amount NUMERIC(10,2), "
            "at TIMESTAMP)"
        )
        con.exec_driver_sql(
            "INSERT INTO visits (patient_id, amount, at) SELECT MOD(g, 3) + 1, g * 1.25, "
            f"'2021-01-01'::timestamp + g * interval '1 minute' FROM generate_series(1, {VISITS}) g"
        )
    try:
        yield postgres_url, schema
    finally:
        with admin(postgres_url) as con:
            con.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture
def sqlite_file(tmp_path):
    path = tmp_path / "legacy.db"
    con = sqlite3.connect(path)
    con.executescript(
        """
        CREATE TABLE patients (id INTEGER PRIMARY KEY, name TEXT, weight REAL, born DATE,
                               photo BLOB, code, amount DECIMAL(10,2));
        CREATE VIEW heavy AS SELECT * FROM patients WHERE weight > 80;
        """
    )
    con.executemany(
        "INSERT INTO patients VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            (1, NAME, 0.1, "1980-02-29", b"\x00\xff", 7, 12.5),
            (2, None, None, None, None, None, None),
            (3, NOTES, 1e300, "2001-01-01", b"", "A7", 3),  # 'code' holds int and text
        ],
    )
    con.commit()
    con.close()
    return path


def snapshot_of(workspace_dir: Path, source: str, name: str = "s1"):
    wsp = ws.load(workspace_dir)
    result = acquire(open_source(wsp, source), wsp.snapshots_dir, name)
    return open_snapshot(wsp.snapshots_dir, name), result


def column_types(con, table: str) -> dict[str, str]:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
        [table],
    ).fetchall()
    return dict(rows)


# -- MariaDB ----------------------------------------------------------------------------------


def test_mariadb_acquire_is_exact(maria, workspace_dir):
    add_source(workspace_dir, "legacy", url=maria, batch_rows=BATCH_ROWS)
    snap, _ = snapshot_of(workspace_dir, "legacy")
    m = snap.manifest
    expected = server_counts(maria, ["patients", "visits"])
    assert {t.name: t.rows for t in m.tables} == expected == {"patients": 3, "visits": VISITS}
    assert all(t.input_records == t.rows and t.rejected == 0 for t in m.tables)
    assert [s["name"] for s in m.skipped] == ["active_patients"]
    assert m.source["location"] == maria and m.inputs == []

    declared = {c.name: c.declared_type for c in m.table("patients").columns}
    assert declared["id"] == "int(11)" and declared["name"] == "varchar(50)"
    assert declared["born"] == "date" and declared["big"] == "bigint(20) unsigned"

    server_sum = scalar(maria, "SELECT SUM(amount) FROM visits")
    with snap.connect() as con:
        assert con.execute("SELECT sum(amount) FROM visits").fetchone()[0] == server_sum
        types = column_types(con, "patients")
        rows = con.execute(
            "SELECT id, name, notes, balance, weight, born, registered, last_seen, active, "
            "photo, big FROM patients ORDER BY id"
        ).fetchall()
        assert con.execute('SELECT count(DISTINCT id), min("at") FROM visits').fetchone() == (
            VISITS,
            scalar(maria, "SELECT MIN(at) FROM visits"),
        )
    assert types["id"] == "INTEGER" and types["balance"] == "DECIMAL(12,2)"
    assert types["registered"] == "DATE" and types["photo"] == "BLOB"
    assert types["big"] == "UBIGINT" and types["weight"] == "DOUBLE"
    # A zero date cannot be a DATE: the column keeps the server's exact text, not NULL.
    assert types["born"] == "VARCHAR" and types["last_seen"] == "VARCHAR"
    one, two, three = rows
    assert one[1:5] == (NAME, NOTES, Decimal("1234.56"), 70.5)
    assert one[5:8] == ("1980-02-29", date(2001, 1, 1), "2020-01-01 10:00:00")
    assert one[8:] == (1, b"\x00\xff\x10", 2**64 - 1)
    assert two == (2, None, None, None, None, None, date(2002, 2, 2), None, None, None, None)
    assert three[1:6] == ("O'Brien", "", Decimal("-0.01"), 0.1, "0000-00-00")
    assert three[7:] == ("0000-00-00 00:00:00", 0, b"", 0)


def test_mariadb_read_is_one_consistent_snapshot(maria, workspace_dir):
    """Rows committed on the server while the table streams are not read, and counts match."""
    add_source(workspace_dir, "legacy", url=maria, batch_rows=BATCH_ROWS)
    before = server_counts(maria, ["visits"])["visits"]
    wsp = ws.load(workspace_dir)
    writer = WritingProgress(maria)
    try:
        result = acquire(open_source(wsp, "legacy"), wsp.snapshots_dir, "s", writer)
        assert writer.done and server_counts(maria, ["visits"])["visits"] == before + 10
        assert result.manifest.table("visits").rows == before
    finally:
        with admin(maria) as con:
            con.exec_driver_sql(f"DELETE FROM visits WHERE id > {before}")


class WritingProgress:
    """A progress display that, while the first table streams, commits rows to ``visits``,
    which is read later: in one snapshot transaction, neither its count nor its rows see them."""

    def __init__(self, url: str):
        self.url, self.done = url, False

    @contextmanager
    def task(self, description: str, total: int | None = None):
        outer = self

        class Task:
            def advance(self, amount: int = 1) -> None:
                if not description.endswith("visits") and not outer.done:
                    outer.done = True
                    with admin(outer.url) as con:
                        for _ in range(10):
                            con.exec_driver_sql(
                                "INSERT INTO visits (patient_id, amount) VALUES (1, 1.00)"
                            )

        yield Task()


def test_mariadb_table_filter(maria, workspace_dir):
    add_source(workspace_dir, "some", url=maria, tables=["visits", "active_patients"])
    add_source(workspace_dir, "missing", url=maria, tables=["visits", "nope"])
    snap, _ = snapshot_of(workspace_dir, "some")
    assert {t.name: t.rows for t in snap.manifest.tables} == {
        "visits": VISITS,
        "active_patients": 1,  # a view, loaded because it was named
    }
    wsp = ws.load(workspace_dir)
    with pytest.raises(SourceError, match="no table or view named 'nope'"):
        acquire(open_source(wsp, "missing"), wsp.snapshots_dir, "m")
    assert not open_source(wsp, "missing").probe().reachable


def test_probe_cli_counts_equal_sql_counts(maria, pg, workspace_dir):
    pg_url, schema = pg
    add_source(workspace_dir, "maria", url=maria)
    add_source(workspace_dir, "pg", url=pg_url, schema=schema)
    for source, url, sch in (("maria", maria, None), ("pg", pg_url, schema)):
        result = run_cli("probe", source, "-w", str(workspace_dir), "--json")
        assert result.returncode == 0, result.stderr
        probe = json.loads(result.stdout)
        counted = {t["name"]: t["rows"] for t in probe["tables"]}
        assert probe["reachable"] and counted == server_counts(url, sorted(counted), sch)
        assert set(counted) == ({"patients", "visits"} if sch is None else {"Patient", "visits"})


def test_probe_unreachable(mariadb_url, postgres_url, workspace_dir):
    maria = sa.make_url(mariadb_url)
    add_source(workspace_dir, "refused", url=maria.set(port=1).render_as_string(False))
    add_source(
        workspace_dir, "nodb", url=maria.set(database="wb_no_such_db").render_as_string(False)
    )
    pg_nodb = sa.make_url(postgres_url).set(database="wb_no_such_db")
    add_source(workspace_dir, "pgnodb", url=pg_nodb.render_as_string(False))
    add_source(workspace_dir, "nofile", url="sqlite:///data/none.db")
    reasons = {
        "refused": "Connection refused",
        "nodb": "Unknown database 'wb_no_such_db'",
        "pgnodb": 'database "wb_no_such_db" does not exist',
    }
    for source, reason in reasons.items():
        extra = ["--json"] if source == "nodb" else []
        result = run_cli("probe", source, "-w", str(workspace_dir), *extra)
        assert "unreachable" in result.stderr and reason in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
        assert result.returncode != 0, (source, extra, result.stderr)
        if extra:
            assert json.loads(result.stdout)["reachable"] is False
    probe = open_source(ws.load(workspace_dir), "nofile").probe()
    assert not probe.reachable and "no such sqlite database file" in probe.reason
    assert not (workspace_dir / "data" / "none.db").exists()  # a probe never creates a file


# -- PostgreSQL -------------------------------------------------------------------------------


def test_postgres_acquire_is_exact(pg, workspace_dir):
    url, schema = pg
    add_source(workspace_dir, "legacy", url=url, schema=schema, batch_rows=BATCH_ROWS)
    snap, _ = snapshot_of(workspace_dir, "legacy")
    m = snap.manifest
    assert {t.name: t.rows for t in m.tables} == server_counts(url, ["Patient", "visits"], schema)
    declared = {c.name: c.declared_type for c in m.table("Patient").columns}
    assert declared["name"] == "character varying(50)" and declared["Id"] == "integer"
    assert declared["seen"] == "timestamp without time zone" and declared["score"] == "numeric"

    server_sum = scalar(url, f"SELECT SUM(amount) FROM {schema}.visits")
    server_score = scalar(url, f'SELECT SUM(score) FROM {schema}."Patient"')
    with snap.connect() as con:
        assert con.execute("SELECT sum(amount) FROM visits").fetchone()[0] == server_sum
        assert con.execute('SELECT sum(score) FROM "Patient"').fetchone()[0] == server_score
        types = column_types(con, "Patient")
        rows = con.execute(
            "SELECT name, notes, balance, weight, born, seen::VARCHAR, seen_tz, active, photo, "
            'tags, doc FROM "Patient" ORDER BY "Id"'
        ).fetchall()
    assert types["balance"] == "DECIMAL(12,2)" and types["score"] == "DECIMAL(8,5)"
    assert types["seen"] == "TIMESTAMP" and types["seen_tz"] == "TIMESTAMP"  # in UTC
    assert types["active"] == "BOOLEAN" and types["photo"] == "BLOB"
    assert types["born"] == "VARCHAR"  # a BC date is not a DuckDB date: kept as its text
    one, two, three = rows
    assert one[:5] == (NAME, NOTES, Decimal("1234.56"), 70.5, "1980-02-29")
    assert one[5:] == (
        "2020-01-01 10:00:00.25", datetime(2020, 1, 1, 8, 0), True, b"\x00\xff\x10",
        "{a,b}", '{"k": 1}',
    )  # fmt: skip
    assert set(two) == {None}
    assert three[:5] == ("O'Brien", "", Decimal("-0.01"), 0.1, "0044-03-15 BC")
    assert three[5] == "infinity" and three[7:] == (False, b"", "{}", "[]")


def test_postgres_read_is_one_consistent_snapshot(pg, workspace_dir):
    url, schema = pg
    add_source(workspace_dir, "legacy", url=url, schema=schema, batch_rows=BATCH_ROWS)
    writer = WritingProgress(url)
    writer_url = sa.make_url(url).set(query={"options": f"-csearch_path={schema}"})
    writer.url = writer_url.render_as_string(False)
    before = server_counts(url, ["visits"], schema)["visits"]
    wsp = ws.load(workspace_dir)
    try:
        result = acquire(open_source(wsp, "legacy"), wsp.snapshots_dir, "s", writer)
        assert writer.done and server_counts(url, ["visits"], schema)["visits"] == before + 10
        assert result.manifest.table("visits").rows == before
    finally:
        with admin(url) as con:
            con.exec_driver_sql(f"DELETE FROM {schema}.visits WHERE id > {before}")


def test_postgres_missing_schema_is_unreachable(postgres_url, workspace_dir):
    add_source(workspace_dir, "gone", url=postgres_url, schema="wb_no_such_schema")
    probe = open_source(ws.load(workspace_dir), "gone").probe()
    assert not probe.reachable and "schema 'wb_no_such_schema' does not exist" in probe.reason


def test_postgres_names_that_differ_only_in_case_are_refused(postgres_url, workspace_dir):
    schema = f"wb_src_{uuid.uuid4().hex[:10]}"
    with admin(postgres_url) as con:
        con.exec_driver_sql(f'CREATE SCHEMA {schema}; CREATE TABLE {schema}.t ("A" INT, a INT)')
        con.exec_driver_sql(
            f'CREATE TABLE {schema}."Notes" (id INT); CREATE TABLE {schema}.notes (id INT)'
        )
    try:
        add_source(workspace_dir, "cased", url=postgres_url, schema=schema)
        add_source(workspace_dir, "one", url=postgres_url, schema=schema, tables=["t"])
        wsp = ws.load(workspace_dir)
        with pytest.raises(SourceError, match=r"both 'Notes' and 'notes'.*only one of them"):
            acquire(open_source(wsp, "cased"), wsp.snapshots_dir, "c")
        with pytest.raises(SourceError, match="table 't' has both 'A' and 'a'"):
            acquire(open_source(wsp, "one"), wsp.snapshots_dir, "o")
        assert list(wsp.snapshots_dir.iterdir()) == []
    finally:
        with admin(postgres_url) as con:
            con.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")


# -- SQLite -----------------------------------------------------------------------------------


def test_sqlite_acquire_stages_what_is_stored(sqlite_file, workspace_dir):
    add_source(workspace_dir, "file", url=f"sqlite:///{sqlite_file}")
    before = sqlite_file.read_bytes()
    snap, _ = snapshot_of(workspace_dir, "file")
    assert sqlite_file.read_bytes() == before
    assert {t.name: t.rows for t in snap.manifest.tables} == {"patients": 3}
    assert [s["name"] for s in snap.manifest.skipped] == ["heavy"]
    declared = {c.name: c.declared_type for c in snap.manifest.table("patients").columns}
    assert declared == {
        "id": "INTEGER", "name": "TEXT", "weight": "REAL", "born": "DATE",
        "photo": "BLOB", "code": None, "amount": "DECIMAL(10,2)",
    }  # fmt: skip
    with snap.connect() as con:
        types = column_types(con, "patients")
        rows = con.execute("SELECT * FROM patients ORDER BY id").fetchall()
    assert types == {
        "id": "BIGINT", "name": "VARCHAR", "weight": "DOUBLE", "born": "DATE",
        "photo": "BLOB", "code": "VARCHAR", "amount": "DOUBLE",
    }  # fmt: skip
    assert rows[0] == (1, NAME, 0.1, date(1980, 2, 29), b"\x00\xff", "7", 12.5)
    assert rows[2] == (3, NOTES, 1e300, date(2001, 1, 1), b"", "A7", 3.0)


def test_relative_sqlite_path_is_resolved_in_the_workspace(sqlite_file, workspace_dir):
    (workspace_dir / "data").mkdir()
    sqlite_file.rename(workspace_dir / "data" / "legacy.db")
    add_source(workspace_dir, "file", url="sqlite:///data/legacy.db")
    probe = open_source(ws.load(workspace_dir), "file").probe()
    assert probe.reachable and [(t.name, t.rows, t.columns) for t in probe.tables] == [
        ("patients", 3, 7)
    ]


def test_config_errors(workspace_dir):
    add_source(workspace_dir, "bad_tables", url="sqlite:///x.db", tables="patients")
    add_source(workspace_dir, "bad_url", url="not a url")
    wsp = ws.load(workspace_dir)
    with pytest.raises(ConfigError, match="'tables' must be a non-empty list"):
        open_source(wsp, "bad_tables")
    with pytest.raises(ConfigError, match="not a SQLAlchemy URL"):
        open_source(wsp, "bad_url")
