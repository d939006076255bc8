"""Reconciling a job: a real projection of a synthetic OHM clinic, loaded into a DuckDB file
and into PostgreSQL, balanced as loaded and tampered with afterwards. Every expected number
is computed independently with SQL on the projection and on the target."""

from __future__ import annotations

import math
import re
import shutil
import uuid
from pathlib import Path

import duckdb
import openpyxl
import psycopg
import pyarrow as pa
import pytest

from workbench import workspace
from workbench.jobs import compare as rc
from workbench.jobs.compare import compare_relations, row_reconcile
from workbench.jobs.reconcile import key_hash_sql, reconcile
from workbench.jobs.reconcile_report import write_reconcile_report
from workbench.mapping.workflow import project_snapshot
from workbench.snapshot import acquire
from workbench.sources import from_config
from workbench.synth import generate
from workbench.target.ddl import ddl_text

JOB = "J1"


class DuckTarget:
    """A DuckDB target file. With ``path`` exposed, reconciling attaches the file; without,
    it reads through ``fetch`` only, as it does for PostgreSQL."""

    dialect = "duckdb"

    def __init__(self, path: Path, attachable: bool = True) -> None:
        self._file = path
        if attachable:
            self.path = path

    def fetch(self, sql: str, params=None) -> pa.Table:
        with duckdb.connect(str(self._file), read_only=True) as con:
            return con.sql(sql, params=params).to_arrow_table()

    def sql(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self._file)) as con:
            return con.execute(sql).fetchall()


class PgTarget:
    dialect = "postgresql"

    def __init__(self, url: str, schema: str) -> None:
        self.con = psycopg.connect(url, autocommit=True)
        self.con.execute(f'SET search_path TO "{schema}"')

    def fetch(self, sql: str, params=None) -> pa.Table:
        cur = self.con.execute(sql, params)
        names = [d.name for d in cur.description]
        columns = list(zip(*cur.fetchall(), strict=True)) or [()] * len(names)
        return pa.table({n: list(c) for n, c in zip(names, columns, strict=True)})

    def sql(self, sql: str) -> list[tuple]:
        cur = self.con.execute(sql)
        return cur.fetchall() if cur.description else []


# A clinic, its projection, and the projection loaded into a DuckDB target (test setup,
# not the product's loader).


@pytest.fixture(scope="module")
def projection(tmp_path_factory):
    root = tmp_path_factory.mktemp("clinic")
    generate(style="ohm", people=300, seed=3, fmt="mysqldump", out=root / "data")
    ws = workspace.init(root / "ws")
    source = from_config("clinic", {"kind": "mysqldump", "path": str(root / "data/ohm.sql")}, ws)
    acquire(source, ws.snapshots_dir, "s")
    return project_snapshot(ws, "ohm", "s")


@pytest.fixture(scope="module")
def parked(projection) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for r in projection.fates().filter(fate="parked").iter_rows(named=True):
        key = (r["mapping"], r["source_table"])
        out[key] = out.get(key, 0) + r["rows"]
    return out


def _loadable(projection) -> dict[str, pa.Table]:
    compiled = projection.compiled
    out = {}
    for table in compiled.model.load_order():
        if table.name in compiled.template.targets():
            cols = ", ".join(table.columns)
            out[table.name] = projection.con.sql(
                f"SELECT {cols}, _source_table, _source_key FROM {compiled.target_view(table.name)}"
            ).to_arrow_table()
    return out


@pytest.fixture(scope="module")
def loaded_file(projection, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("target") / "sandbox.duckdb"
    model = projection.compiled.model
    with duckdb.connect(str(path)) as con:
        con.execute(ddl_text(model, "duckdb"))
        con.execute("INSERT INTO facility VALUES ('main-clinic', 'Main clinic')")
        for name, rows in _loadable(projection).items():
            con.register("rows", rows)
            cols = ", ".join(model.tables[name].columns)
            con.execute(
                f"INSERT INTO {name} ({cols}, _job_id, _batch, _source_table, _source_key) "
                f"SELECT {cols}, '{JOB}', 1, _source_table, _source_key FROM rows"
            )
            con.unregister("rows")
    return path


@pytest.fixture(params=["attached", "fetched"])
def target(request, loaded_file, tmp_path) -> DuckTarget:
    """A fresh copy of the loaded target, read both ways."""
    return DuckTarget(shutil.copy(loaded_file, tmp_path), attachable=request.param == "attached")


@pytest.fixture
def sandbox(loaded_file, tmp_path) -> DuckTarget:
    return DuckTarget(shutil.copy(loaded_file, tmp_path))


def _one(con, sql: str):
    return con.execute(sql).fetchall()[0][0]


# Balanced as loaded.


def test_a_faithful_load_balances(projection, target, parked):
    rec = reconcile(projection, target, JOB, parked)
    assert rec.balanced and rec.discrepancies == []
    accounting = {
        (r["mapping"], r["source_table"]): r for r in projection.accounting().iter_rows(named=True)
    }
    assert len(rec.source_lines) == len(accounting)
    for line in rec.source_lines:
        truth = accounting[(line.mapping, line.source_table)]
        assert (line.source_rows, line.loaded, line.parked, line.excluded) == (
            truth["source_rows"],
            truth["loaded"],
            truth["parked"],
            truth["excluded"],
        )
    counts = projection.target_counts()
    assert {t.table: (t.expected_rows, t.actual_rows) for t in rec.table_lines} == {
        t: (n, n) for t, n in counts.items()
    }
    obs = next(t for t in rec.table_lines if t.table == "observation")
    (n,) = [x for x in obs.numeric if x.column == "value_quantity"]
    assert n.expected["count"] == _one(
        projection.con, "SELECT count(value_quantity) FROM _wb_target_observation"
    )
    categories = "SELECT DISTINCT category FROM _wb_target_observation"
    assert {c.code for c in obs.codes if c.column == "category"} == {
        r[0] for r in projection.con.execute(categories).fetchall()
    }
    for table in counts:
        assert row_reconcile(projection, target, JOB, table).equal, table


# Tampered with: each change is reported exactly.


def test_tampering_is_reported_exactly(projection, target, parked):
    pcon = projection.con
    imm_key, imm_code = pcon.execute(
        "SELECT immunization_id, vaccine_code FROM _wb_target_immunization "
        "WHERE vaccine_code IS NOT NULL ORDER BY immunization_id LIMIT 1"
    ).fetchall()[0]
    obs_key = _one(
        pcon,
        "SELECT observation_id FROM _wb_target_observation "
        "ORDER BY value_quantity DESC NULLS LAST, observation_id LIMIT 1",
    )
    enc_key = _one(
        pcon,
        "SELECT min(encounter_id) FROM _wb_target_encounter WHERE status = 'finished'",
    )
    target.sql(f"DELETE FROM immunization WHERE immunization_id = '{imm_key}'")
    target.sql(
        f"UPDATE observation SET value_quantity = value_quantity + 1000 "
        f"WHERE observation_id = '{obs_key}'"
    )
    target.sql(f"UPDATE encounter SET status = 'cancelled' WHERE encounter_id = '{enc_key}'")

    rec = reconcile(projection, target, JOB, parked)
    assert not rec.balanced

    def projected(sql):
        return _one(pcon, sql)

    def loaded(sql):
        return target.sql(sql)[0][0]

    imm_source = projected("SELECT count(*) FROM immunization")
    imm_rows = projected("SELECT count(*) FROM _wb_target_immunization")
    imm_parked = parked.get(("immunization", "immunization"), 0)
    imm_loaded = loaded(
        f"SELECT count(DISTINCT _source_key) FROM immunization WHERE _job_id = '{JOB}'"
    )
    same_code = f"FROM %s WHERE vaccine_code = '{imm_code}'"
    code_rows = projected("SELECT count(*) " + same_code % "_wb_target_immunization")
    finished = projected("SELECT count(*) FROM _wb_target_encounter WHERE status = 'finished'")
    cancelled = projected("SELECT count(*) FROM _wb_target_encounter WHERE status = 'cancelled'")
    completed = projected("SELECT count(*) FROM _wb_target_immunization WHERE status = 'completed'")
    sums = r"observation: value_quantity sum expected (\S+), target (\S+)"
    expected = [
        f"immunization (immunization -> immunization): {imm_source} source rows, but "
        f"{imm_loaded} loaded + {imm_parked} parked + 0 excluded = {imm_source - 1} "
        "(1 unaccounted for)",
        f"encounter: status code 'finished' expected {finished}, target {finished - 1}",
        f"encounter: status code 'cancelled' expected {cancelled}, target {cancelled + 1}",
        sums,
        "observation: value_quantity max differs (a single row's value, not shown)",
        f"immunization: rows expected {imm_rows}, target {imm_rows - 1}",
        f"immunization: 1 keys expected but missing, 0 unexpected; missing: {imm_key}",
        f"immunization: vaccine_code code '{imm_code}' expected {code_rows}, "
        f"target {code_rows - 1}",
        f"immunization: status code 'completed' expected {completed}, target {completed - 1}",
    ]
    assert imm_loaded == imm_source - imm_parked - 1
    assert len(rec.discrepancies) == len(expected)
    for got, want in zip(rec.discrepancies, expected, strict=True):
        if want is sums:
            e, a = map(float, re.fullmatch(sums, got).groups())
            sql = "SELECT sum(value_quantity) FROM %s"
            assert math.isclose(e, projected(sql % "_wb_target_observation"), rel_tol=1e-12)
            assert math.isclose(a, loaded(sql % "observation"), rel_tol=1e-12)
            assert math.isclose(a - e, 1000, rel_tol=1e-9)
        else:
            assert got == want

    imm = row_reconcile(projection, target, JOB, "immunization")
    assert (imm.left_only, imm.right_only, imm.samples["left_only"]) == (1, 0, [imm_key])
    assert not any(imm.mismatches.values())
    obs = row_reconcile(projection, target, JOB, "observation")
    assert {c: n for c, n in obs.mismatches.items() if n} == {"value_quantity": 1}
    assert obs.samples["value_quantity"] == [obs_key] and obs.left_only == obs.right_only == 0
    enc = row_reconcile(projection, target, JOB, "encounter")
    assert {c: n for c, n in enc.mismatches.items() if n} == {"status": 1}
    assert enc.discrepancies() == [
        f"encounter: status differs in 1 of {enc.matched} rows ({enc_key})"
    ]


def test_rows_parked_at_load_are_not_expected(projection, target, parked):
    """A source row the loader parked (all its variants) balances when the caller says so."""
    key = _one(projection.con, "SELECT min(_source_key) FROM _wb_m_vitals WHERE _fate = 'loaded'")
    target.sql(f"DELETE FROM observation WHERE _source_table = 'vitals' AND _source_key = '{key}'")
    assert not reconcile(projection, target, JOB, parked).balanced
    more = parked | {("vitals", "vitals"): parked.get(("vitals", "vitals"), 0) + 1}
    rec = reconcile(projection, target, JOB, more, load_parked_keys={("vitals", key)})
    assert rec.balanced, rec.discrepancies
    assert row_reconcile(projection, target, JOB, "observation", {("vitals", key)}).equal


def test_a_summary_document_missing_unbalances_its_section_rows(projection, sandbox, parked):
    target = sandbox
    patient = _one(projection.con, "SELECT min(patient_id) FROM _wb_d_clinical_notes")
    target.sql(f"DELETE FROM document WHERE _source_key = '{patient}'")
    rec = reconcile(projection, target, JOB, parked)
    lines = {s.source_table: s for s in rec.source_lines if s.mapping == "clinical_notes"}
    for table in ("docnote", "rnnote"):
        sections = _one(
            projection.con,
            f"SELECT count(*) FROM _wb_m_clinical_notes WHERE _fate = 'loaded' "
            f"AND _source_table = '{table}' AND patient_id = '{patient}'",
        )
        assert lines[table].source_rows - lines[table].accounted == sections


def test_comparing_in_key_ranges_gives_the_same_answer(projection, target, monkeypatch):
    last_three = "SELECT observation_id FROM observation ORDER BY observation_id DESC LIMIT 3"
    target.sql(
        f"UPDATE observation SET display = display || '!' WHERE observation_id IN ({last_three})"
    )
    target.sql(
        "DELETE FROM observation WHERE observation_id = "
        "(SELECT min(observation_id) FROM observation)"
    )
    monkeypatch.setattr(rc, "FETCH_CHUNK_ROWS", 7_000)  # several fetches per table
    whole = row_reconcile(projection, target, JOB, "observation")
    assert whole.passes == 1 and whole.mismatches["display"] == 3 and whole.left_only == 1
    relation = "_wb_rc_check"
    projection.con.execute(
        f"CREATE OR REPLACE TEMP TABLE {relation} AS SELECT * FROM _wb_rc_expected_observation"
    )
    columns = [c for c in projection.compiled.model.tables["observation"].columns]
    ranged = compare_relations(
        projection.con,
        "_wb_rc_expected_observation",
        relation,
        "observation_id",
        columns,
        rows_per_pass=5_000,
    )
    assert ranged.passes > 5 and ranged.equal and ranged.matched == whole.left_rows
    split = compare_relations(
        projection.con,
        "_wb_rc_expected_observation",
        relation,
        "observation_id",
        columns,
        rows_per_pass=5_000,
        rel_tol={"value_quantity": 1e-12},
    )
    assert split.to_dict()["equal"]


# PostgreSQL.


def _pg_url(postgres_url: str) -> str:
    return postgres_url.replace("postgresql+psycopg://", "postgresql://")


@pytest.fixture
def pg_schema(postgres_url):
    url, schema = _pg_url(postgres_url), f"rc_{uuid.uuid4().hex[:10]}"
    yield url, schema
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_key_hash_is_the_same_number_in_duckdb_and_postgresql(projection, pg_schema):
    url, _ = pg_schema
    keys = [
        r[0]
        for r in projection.con.execute(
            "SELECT observation_id FROM _wb_target_observation"
        ).fetchall()
    ]
    keys += ["", "O'Brien", "ünïcödé-ключ-鍵", "tab\there", "x" * 500]
    duck = duckdb.connect()
    duck.register("k", pa.table({"k": keys}))
    per_key_duck = dict(duck.execute(f"SELECT k, {key_hash_sql('k', 'duckdb')} FROM k").fetchall())
    total_duck = duck.execute(
        f"SELECT count(k), sum({key_hash_sql('k', 'duckdb')}) FROM k"
    ).fetchall()[0]
    with psycopg.connect(url, autocommit=True) as pg:
        pg.execute("CREATE TEMP TABLE k (k text)")
        with pg.cursor().copy("COPY k (k) FROM STDIN") as copy:
            for key in keys:
                copy.write_row((key,))
        hashed = key_hash_sql("k", "postgresql")
        per_key_pg = dict(pg.execute(f"SELECT k, {hashed} FROM k").fetchall())
        count, total = pg.execute(f"SELECT count(k), sum({hashed}) FROM k").fetchall()[0]
    assert per_key_pg == per_key_duck
    assert (count, int(total)) == total_duck
    assert total_duck[1] > 2**63  # the sum outgrows bigint: both engines keep it exact


def test_a_postgresql_target_reconciles(projection, parked, pg_schema, monkeypatch):
    url, schema = pg_schema
    model = projection.compiled.model
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(ddl_text(model, "postgresql", schema))
        con.execute(f"INSERT INTO \"{schema}\".facility VALUES ('main-clinic', 'Main clinic')")
        for name, rows in _loadable(projection).items():
            cols = [*model.tables[name].columns, "_source_table", "_source_key"]
            copy_sql = f'COPY "{schema}".{name} ({", ".join(cols)}, _job_id) FROM STDIN'
            with con.cursor().copy(copy_sql) as copy:
                for row in rows.to_pylist():
                    copy.write_row([row[c] for c in cols] + [JOB])
    target = PgTarget(url, schema)
    rec = reconcile(projection, target, JOB, parked)
    assert rec.balanced, rec.discrepancies
    key = _one(projection.con, "SELECT min(lost_time_id) FROM _wb_target_lost_time")
    target.sql(f"UPDATE lost_time SET days_lost = days_lost + 2 WHERE lost_time_id = '{key}'")
    days = _one(projection.con, "SELECT sum(days_lost) FROM _wb_target_lost_time")
    rec = reconcile(projection, target, JOB, parked)
    assert f"lost_time: days_lost sum expected {days}, target {days + 2}" in rec.discrepancies
    monkeypatch.setattr(rc, "FETCH_CHUNK_ROWS", 10_000)
    obs = row_reconcile(projection, target, JOB, "observation")
    assert obs.equal and obs.matched == projection.target_counts()["observation"]
    lost = row_reconcile(projection, target, JOB, "lost_time")
    assert {c: n for c, n in lost.mismatches.items() if n} == {"days_lost": 1}


# Reports.


def test_reports_are_offline_and_carry_no_patient_values(projection, sandbox, parked, tmp_path):
    target = sandbox
    balanced = write_reconcile_report(reconcile(projection, target, JOB, parked), tmp_path / "ok")
    assert "Balanced" in balanced["reconcile.html"].read_text()
    target.sql(
        "DELETE FROM immunization WHERE immunization_id = "
        "(SELECT min(immunization_id) FROM immunization)"
    )
    rec = reconcile(projection, target, JOB, parked)
    files = write_reconcile_report(rec, tmp_path / "bad", title="Rehearsal 1: reconciliation")
    assert sorted(files) == ["reconcile.html", "reconcile.json", "reconcile.xlsx"]
    html = files["reconcile.html"].read_text()
    assert f"{len(rec.discrepancies)} discrepancies" in html
    assert "<svg" in html
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I)
    assert not re.search(r"(src|href)\s*=\s*[\"']?\s*(https?:)?//", html, re.I)

    book = openpyxl.load_workbook(files["reconcile.xlsx"], read_only=True)
    assert book.sheetnames[:4] == ["Summary", "Source balance", "Tables", "Discrepancies"]
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(min_row=3, values_only=True)}
    totals = rec.totals()
    assert summary["Source rows"] == totals["source_rows"]
    assert summary["Loaded"] == totals["loaded"]
    assert summary["Parked"] == totals["parked"]
    assert summary["Excluded"] == totals["excluded"]
    assert summary["Target rows"] == totals["target_rows"]
    assert summary["Expected target rows"] == totals["expected_rows"]
    assert summary["Discrepancies"] == len(rec.discrepancies)
    listed = [r[1] for r in book["Discrepancies"].iter_rows(min_row=2, values_only=True)]
    assert listed == rec.discrepancies

    texts = [html, files["reconcile.json"].read_text()]
    texts += [
        " ".join(str(v) for row in book[s].iter_rows(values_only=True) for v in row if v)
        for s in book.sheetnames
    ]
    people = projection.con.execute(
        "SELECT family_name, CAST(birth_date AS VARCHAR), ssn FROM _wb_target_patient"
    ).fetchall()
    names = {n for n, _, _ in people if n}
    values = {v for _, born, ssn in people for v in (born, ssn) if v}
    assert len(names) > 50 and len(values) > 300
    found_name = re.compile(r"\b(" + "|".join(map(re.escape, sorted(names))) + r")\b")
    for text in texts:
        assert not found_name.search(text)
        assert not [v for v in values if v in text]


def test_compare_relations_counts_every_column_of_a_wide_table():
    """130 columns (three masks), NULL keys, rows on one side only, several key ranges:
    the counts equal a column-by-column count done the slow way."""
    con = duckdb.connect()
    cols = [f"c{i}" for i in range(130)]
    values = ", ".join(
        f"CASE WHEN i % {7 + i % 5} = 0 THEN NULL ELSE i * {i} END AS c{i}" for i in range(130)
    )
    con.execute(
        f"CREATE TABLE a AS SELECT CASE WHEN i % 997 = 0 THEN NULL ELSE i END AS k, {values} "
        "FROM range(20000) t(i)"
    )
    changed = {0: 3, 57: 5, 58: 7, 59: 11, 117: 13, 118: 17, 129: 19}
    sets = ", ".join(
        f"c{c} = CASE WHEN k % {m} = 1 THEN coalesce(c{c}, 0) + 1 ELSE c{c} END"
        for c, m in changed.items()
    )
    con.execute("CREATE TABLE b AS SELECT * FROM a WHERE k IS NULL OR k % 1009 <> 5")
    con.execute(f"UPDATE b SET {sets}")
    con.execute("INSERT INTO b (k) VALUES (-1), (-2), (NULL)")
    result = compare_relations(con, "a", "b", "k", cols, rows_per_pass=3000)
    assert result.passes > 5
    counts = ", ".join(f"count(*) FILTER (WHERE a.{c} IS DISTINCT FROM b.{c})" for c in cols)
    (row,) = con.execute(f"SELECT {counts} FROM a JOIN b USING (k)").fetchall()
    slow = dict(zip(cols, row, strict=True))
    assert result.mismatches == slow
    assert {c for c, n in slow.items() if n} == {f"c{c}" for c in changed}
    nulls_a = con.execute("SELECT count(*) FROM a WHERE k IS NULL").fetchall()[0][0]
    gone = con.execute("SELECT count(*) FROM a WHERE k % 1009 = 5").fetchall()[0][0]
    assert (result.left_only, result.right_only) == (gone + nulls_a, 2 + nulls_a + 1)
    assert result.matched == 20000 - gone - nulls_a
    first = con.execute(
        "SELECT k FROM a JOIN b USING (k) WHERE a.c58 IS DISTINCT FROM b.c58 ORDER BY k LIMIT 20"
    ).fetchall()
    assert result.samples["c58"] == [k for (k,) in first]
    assert result.samples["right_only"][:2] == [-2, -1]
