"""The target model contract (mappings/targets/ehr.yaml) and the DDL made from it, checked
against the YAML read independently, and against real DuckDB, SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import uuid
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from ruamel.yaml import YAML
from typer.testing import CliRunner

from workbench.cli import app
from workbench.errors import TargetError
from workbench.mapping.library import library_dir
from workbench.target import find_model, load_model
from workbench.target.ddl import create_schema, ddl_text, schema_version

EHR_PATH = library_dir() / "targets" / "ehr.yaml"
LINEAGE = {
    "_job_id": "varchar",
    "_batch": "integer",
    "_source_table": "varchar",
    "_source_key": "varchar",
}
VERSION_COLUMNS = {
    "model": "varchar",
    "version": "varchar",
    "sha256": "varchar",
    "created_at": "timestamp",
}
# How each database reports the model's types back.
DUCKDB_TYPES = {
    "varchar": "VARCHAR",
    "text": "VARCHAR",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "boolean": "BOOLEAN",
}
POSTGRES_TYPES = {
    "varchar": "character varying",
    "text": "text",
    "integer": "integer",
    "bigint": "bigint",
    "double": "double precision",
    "date": "date",
    "timestamp": "timestamp without time zone",
    "boolean": "boolean",
}
SQLITE_TYPES = {
    "varchar": "VARCHAR",
    "text": "TEXT",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "date": "DATE",
    "timestamp": "DATETIME",
    "boolean": "BOOLEAN",
}


@pytest.fixture(scope="module")
def raw() -> dict:
    """ehr.yaml as plain data, read without the workbench."""
    return YAML(typ="safe").load(EHR_PATH.read_text())


@pytest.fixture(scope="module")
def model():
    return find_model(None, "ehr")


def expected_schema(raw: dict, types: dict[str, str]) -> dict:
    """{table: {columns: {name: (type, nullable)}, pk, fks}} as the YAML says it must be."""
    out = {}
    for name, table in raw["tables"].items():
        columns = {
            col: (
                types[spec["type"]],
                not spec.get("required", False) and col != table["primary_key"],
            )
            for col, spec in table["columns"].items()
        }
        fks = {
            (col, *spec["references"].split("."))
            for col, spec in table["columns"].items()
            if "references" in spec
        }
        if not table.get("reference", False):
            columns |= {col: (types[t], True) for col, t in LINEAGE.items()}
        out[name] = {"columns": columns, "pk": [table["primary_key"]], "fks": fks}
    out["_workbench_model"] = {
        "columns": {c: (types[t], False) for c, t in VERSION_COLUMNS.items()},
        "pk": ["model"],
        "fks": set(),
    }
    return out


# The model object against the YAML.


def test_model_matches_the_yaml(raw, model):
    assert (model.name, model.version, model.title) == (raw["model"], raw["version"], raw["title"])
    assert model.path == EHR_PATH and len(model.sha256) == 64
    assert set(model.value_sets) == set(raw["value_sets"])
    for name, spec in raw["value_sets"].items():
        vs = model.value_sets[name]
        assert vs.system == spec["system"]
        assert vs.codes == (tuple(spec["codes"]) if "codes" in spec else None)
        assert vs.pattern == spec.get("pattern")
    assert list(model.tables) == list(raw["tables"])
    for name, spec in raw["tables"].items():
        table = model.tables[name]
        assert table.resource == spec["resource"] and table.description == spec["description"]
        assert table.primary_key == spec["primary_key"]
        assert table.reference == spec.get("reference", False)
        assert list(table.columns) == list(spec["columns"])
        for col, c in spec["columns"].items():
            column = table.columns[col]
            assert column.type == c["type"] and column.description == c["description"]
            assert column.required == c.get("required", False)
            assert column.value_set == c.get("value_set")
            refs = tuple(c["references"].split(".")) if "references" in c else None
            assert column.references == refs


def test_the_contract_has_the_names_templates_use(model):
    assert {t for t, table in model.tables.items() if table.reference} == {
        "facility",
        "practitioner",
    }
    patient = model.tables["patient"]
    assert patient.required == ["patient_id", "identifier"]
    assert patient.columns["gender"].value_set == "administrative-gender"
    assert model.tables["immunization"].columns["vaccine_code"].value_set == "cvx"
    assert ("incident_id", "incident", "incident_id") in model.tables["encounter"].foreign_keys
    for table in model.tables.values():
        assert table.description and all(c.description for c in table.columns.values())
        assert table.columns[table.primary_key].type == "varchar"


def test_load_order_puts_parents_first(model):
    order = [t.name for t in model.load_order()]
    assert sorted(order) == sorted(model.tables)
    for table in model.tables.values():
        for _, parent, _ in table.foreign_keys:
            assert order.index(parent) < order.index(table.name), (table.name, parent)


def test_value_set_checks_run_in_duckdb(model):
    con = duckdb.connect()
    cases = [
        ("administrative-gender", "female", True),
        ("administrative-gender", "F", False),
        ("cvx", "140", True),
        ("cvx", "1400", False),
        ("loinc", "8302-2", True),
        ("loinc", "8302", False),
        ("icd-10", "S61.412A", True),
        ("snomed", "44054006", True),
        ("rxnorm", "RX1", False),
    ]
    for name, value, ok in cases:
        sql = model.value_sets[name].sql_check("v")
        assert con.execute(f"SELECT {sql} FROM (SELECT ? AS v)", [value]).fetchone()[0] is ok


# The DDL in real databases, introspected and compared with the YAML.


def duckdb_schema(path: Path) -> dict:
    con = duckdb.connect(str(path), read_only=True)
    out: dict = {}
    for table, column, type_, nullable in con.execute(
        "SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
    ).fetchall():
        entry = out.setdefault(table, {"columns": {}, "pk": [], "fks": set()})
        entry["columns"][column] = (type_, nullable == "YES")
    for table, kind, columns, ref_table, ref_columns in con.execute(
        "SELECT DISTINCT table_name, constraint_type, constraint_column_names, referenced_table,"
        " referenced_column_names FROM duckdb_constraints() WHERE schema_name = 'main'"
        " AND constraint_type IN ('PRIMARY KEY', 'FOREIGN KEY')"
    ).fetchall():
        if kind == "PRIMARY KEY":
            out[table]["pk"] = list(columns)
        else:
            out[table]["fks"].add((columns[0], ref_table, ref_columns[0]))
    con.close()
    return out


def sqlalchemy_schema(url: str, schema: str | None, types_from_information_schema: bool) -> dict:
    engine = sa.create_engine(url)
    out: dict = {}
    with engine.connect() as con:
        inspector = sa.inspect(con)
        for table in inspector.get_table_names(schema=schema):
            columns = {
                c["name"]: (str(c["type"]), c["nullable"])
                for c in inspector.get_columns(table, schema=schema)
            }
            if types_from_information_schema:  # PostgreSQL's own names for its types
                rows = con.execute(
                    sa.text(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_schema = :s AND table_name = :t"
                    ),
                    {"s": schema, "t": table},
                ).all()
                columns = {name: (data_type, columns[name][1]) for name, data_type in rows}
            fks = {
                (fk["constrained_columns"][0], fk["referred_table"], fk["referred_columns"][0])
                for fk in inspector.get_foreign_keys(table, schema=schema)
            }
            pk = inspector.get_pk_constraint(table, schema=schema)["constrained_columns"]
            out[table] = {"columns": columns, "pk": pk, "fks": fks}
    engine.dispose()
    return out


def assert_schema_matches(found: dict, expected: dict) -> None:
    assert set(found) == set(expected)
    for table, want in expected.items():
        assert found[table]["columns"] == want["columns"], table
        assert found[table]["pk"] == want["pk"], table
        assert found[table]["fks"] == want["fks"], table


@pytest.fixture
def pg_schema(postgres_url):
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    name = f"wb_target_{uuid.uuid4().hex[:12]}"
    yield postgres_url, name
    engine = sa.create_engine(postgres_url)
    with engine.begin() as con:
        con.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    engine.dispose()


def fk_indexes(raw) -> set[str]:
    """Every referencing column is indexed (a rollback deletes parents after children)."""
    return {
        f"ix_{t}_{c}"
        for t, spec in raw["tables"].items()
        for c, col in spec["columns"].items()
        if col.get("references") and c != spec["primary_key"]
    }


def test_duckdb_schema_matches_the_yaml(tmp_path, raw, model):
    target = tmp_path / "target.duckdb"
    assert create_schema(target, model) is True
    assert_schema_matches(duckdb_schema(target), expected_schema(raw, DUCKDB_TYPES))
    con = duckdb.connect(str(target), read_only=True)
    indexes = {r[0] for r in con.execute("SELECT index_name FROM duckdb_indexes()").fetchall()}
    version = con.execute("SELECT model, version, sha256 FROM _workbench_model").fetchall()
    con.close()
    loaded = [t for t, spec in raw["tables"].items() if not spec.get("reference")]
    assert indexes == {f"ix_{t}__job_id" for t in loaded} | fk_indexes(raw)
    assert version == [("ehr", "1.0", model.sha256)]


def test_sqlite_schema_matches_the_yaml(tmp_path, raw, model):
    url = f"sqlite:///{tmp_path / 'target.sqlite'}"
    assert create_schema(url, model) is True
    found = sqlalchemy_schema(url, None, types_from_information_schema=False)
    assert_schema_matches(found, expected_schema(raw, SQLITE_TYPES))
    assert schema_version(url) == ("ehr", "1.0")


def test_postgres_schema_matches_the_yaml(pg_schema, raw, model):
    url, schema = pg_schema
    assert create_schema(url, model, schema) is True
    found = sqlalchemy_schema(url, schema, types_from_information_schema=True)
    assert_schema_matches(found, expected_schema(raw, POSTGRES_TYPES))
    engine = sa.create_engine(url)
    with engine.connect() as con:
        checks = {c["name"] for c in sa.inspect(con).get_check_constraints("patient", schema)}
        indexes = {i["name"] for i in sa.inspect(con).get_indexes("patient", schema)}
    engine.dispose()
    assert checks == {"ck_patient_gender", "ck_patient_employment_status"}
    assert indexes == {"ix_patient__job_id", "ix_patient_facility_id"}
    assert schema_version(url, schema) == ("ehr", "1.0")


def test_duckdb_enforces_value_sets_and_references(tmp_path, model):
    target = tmp_path / "target.duckdb"
    create_schema(target, model)
    con = duckdb.connect(str(target))
    con.execute("INSERT INTO facility VALUES ('f1', 'Main clinic')")
    con.execute("INSERT INTO patient (patient_id, identifier, gender) VALUES ('p1', '1', 'male')")
    with pytest.raises(duckdb.ConstraintException, match="CHECK"):
        con.execute("INSERT INTO patient (patient_id, identifier, gender) VALUES ('p2', '2', 'M')")
    with pytest.raises(duckdb.ConstraintException, match="foreign key"):
        con.execute("INSERT INTO encounter (encounter_id, patient_id) VALUES ('e1', 'nobody')")
    with pytest.raises(duckdb.ConstraintException, match="NOT NULL"):
        con.execute("INSERT INTO patient (patient_id) VALUES ('p3')")
    con.close()


def test_postgres_enforces_value_sets_and_references(pg_schema, model):
    url, schema = pg_schema
    create_schema(url, model, schema)
    engine = sa.create_engine(url)

    def insert(sql: str) -> None:
        with engine.begin() as con:
            con.exec_driver_sql(f'SET search_path TO "{schema}"')
            con.exec_driver_sql(sql)

    insert("INSERT INTO patient (patient_id, identifier, gender) VALUES ('p1', '1', 'female')")
    with pytest.raises(sa.exc.IntegrityError, match="ck_patient_gender"):
        insert("INSERT INTO patient (patient_id, identifier, gender) VALUES ('p2', '2', 'F')")
    with pytest.raises(sa.exc.IntegrityError, match="fk_encounter_patient_id"):
        insert("INSERT INTO encounter (encounter_id, patient_id) VALUES ('e1', 'nobody')")
    insert("INSERT INTO encounter (encounter_id, patient_id) VALUES ('e1', 'p1')")
    engine.dispose()


def test_create_schema_is_idempotent_and_refuses_another_version(tmp_path, model):
    target = tmp_path / "target.duckdb"
    assert schema_version(target) is None and not target.exists()
    assert create_schema(target, model) is True
    assert create_schema(str(target), model) is False
    newer = tmp_path / "ehr.yaml"
    newer.write_text(EHR_PATH.read_text().replace('version: "1.0"', 'version: "2.0"'))
    with pytest.raises(TargetError, match=r"holds target model ehr 1\.0, not ehr 2\.0"):
        create_schema(target, load_model(newer))
    # Another schema in the same database may hold another version.
    assert create_schema(target, load_model(newer), schema="v2") is True
    assert schema_version(target, "v2") == ("ehr", "2.0")


def test_a_failed_duckdb_create_leaves_no_partial_schema(tmp_path, model):
    target = tmp_path / "target.duckdb"
    duckdb.connect(str(target)).execute("CREATE TABLE document (x INTEGER)").close()
    with pytest.raises(TargetError, match=r"target\.duckdb: cannot create ehr tables"):
        create_schema(target, model)
    con = duckdb.connect(str(target))
    assert con.execute("SELECT table_name FROM information_schema.tables").fetchall() == [
        ("document",)
    ]
    con.close()


def test_a_failed_sqlite_create_leaves_no_partial_schema(tmp_path, model):
    path = tmp_path / "target.sqlite"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE document (x INTEGER)")
    con.close()
    with pytest.raises(TargetError, match="cannot create ehr tables"):
        create_schema(f"sqlite:///{path}", model)
    con = sqlite3.connect(path)
    assert con.execute("SELECT name FROM sqlite_master").fetchall() == [("document",)]
    con.close()


def test_ddl_text_runs_in_every_dialect(tmp_path, model, pg_schema):
    for dialect in ("duckdb", "postgresql", "sqlite"):
        text = ddl_text(model, dialect)
        statements = [s for s in text.split(";\n") if s.strip()]
        creates = [s for s in statements if s.strip().startswith("CREATE TABLE")]
        assert len(creates) == len(model.tables) + 1, dialect
        assert text.rstrip().endswith(";")
    con = duckdb.connect(str(tmp_path / "text.duckdb"))
    con.execute(ddl_text(model, "duckdb"))
    assert con.execute("SELECT version FROM _workbench_model").fetchall() == [("1.0",)]
    con.close()
    lite = sqlite3.connect(tmp_path / "text.sqlite")
    lite.executescript(ddl_text(model, "sqlite"))
    assert lite.execute("SELECT version FROM _workbench_model").fetchall() == [("1.0",)]
    url, schema = pg_schema
    engine = sa.create_engine(url)
    with engine.begin() as pg:
        pg.exec_driver_sql(ddl_text(model, "postgresql", schema=schema))
    assert schema_version(url, schema) == ("ehr", "1.0")
    engine.dispose()


# Malformed model files: one line, naming FILE:LINE and the cause.

MINI = """\
model: mini
version: "1.0"
title: A small model
value_sets:
  sex: {system: local, codes: [m, f]}
tables:
  patient:
    resource: Patient
    description: A person.
    primary_key: patient_id
    columns:
      patient_id: {type: varchar, required: true, description: Key.}
      sex: {type: varchar, value_set: sex, description: Sex.}
  visit:
    resource: Encounter
    description: A visit.
    primary_key: visit_id
    columns:
      visit_id: {type: varchar, required: true, description: Key.}
      patient_id: {type: varchar, references: patient.patient_id, description: Who.}
"""
LAST_VISIT = "      last_visit: {type: varchar, references: visit.visit_id, description: Last.}\n"


def test_the_small_model_loads(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text(MINI)
    model = load_model(path)
    assert [t.name for t in model.load_order()] == ["patient", "visit"]
    assert model.tables["visit"].foreign_keys == [("patient_id", "patient", "patient_id")]


@pytest.mark.parametrize(
    ("old", "new", "line", "cause"),
    [
        ("sex: {type: varchar,", "sex: {type: varchr,", 13, "unknown type 'varchr'"),
        ("patient.patient_id", "person.patient_id", 20, "no such table"),
        ("patient.patient_id", "patient.pid", 20, "patient has no column 'pid'"),
        ("patient.patient_id", "patient.sex", 20, "not the primary key of patient"),
        ("value_set: sex,", "value_set: gender,", 13, "unknown value set 'gender'"),
        ("primary_key: visit_id", "primary_key: id", 17, "primary key 'id' is not one of"),
        ("primary_key: visit_id", "primary_keys: visit_id", 17, "unknown key 'primary_keys'"),
        ("    description: A visit.\n", "", 14, "table visit has no 'description'"),
        ('version: "1.0"', "version: 1.0", 2, "version must be quoted"),
        ("codes: [m, f]", "codes: [m, m]", 5, "a code is listed twice"),
        ("description: A person.", "description: A person: adult.", 9, "YAML syntax error"),
        ("      sex: {", "      patient_id: {", 13, "duplicate key"),
        ("Sex.}\n", "Sex.}\n" + LAST_VISIT, 14, "cycle"),
    ],
)
def test_malformed_models_name_the_file_and_line(tmp_path, old, new, line, cause):
    assert old in MINI
    path = tmp_path / "bad.yaml"
    path.write_text(MINI.replace(old, new, 1))
    with pytest.raises(TargetError) as raised:
        load_model(path)
    message = str(raised.value)
    assert message.startswith(f"{path}:{line}: "), message
    assert cause in message and "\n" not in message


def test_find_model_searches_the_workspace_then_the_library(tmp_path):
    mappings = tmp_path / "mappings"
    (mappings / "targets").mkdir(parents=True)
    (mappings / "targets" / "mini.yaml").write_text(MINI)
    assert find_model(mappings, "mini").name == "mini"
    assert find_model(mappings, "ehr").path == EHR_PATH
    with pytest.raises(TargetError, match=r"no target model 'nope' \(known models: mini, ehr\)"):
        find_model(mappings, "nope")
    (mappings / "targets" / "other.yaml").write_text(MINI)
    with pytest.raises(TargetError, match="declares model 'mini'"):
        find_model(mappings, "other")


# The CLI.

runner = CliRunner()


def test_cli_ddl_for_sqlite_runs_in_sqlite3(workspace_dir, model):
    result = runner.invoke(app, ["target", "ddl", "--dialect", "sqlite", "-w", str(workspace_dir)])
    assert result.exit_code == 0, result.output
    con = sqlite3.connect(":memory:")
    con.executescript(result.stdout)
    tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {*model.tables, "_workbench_model"}


def test_cli_apply_and_show(workspace_dir, tmp_path, model):
    target = tmp_path / "t.duckdb"
    args = ["target", "ddl", "--apply", str(target), "-w", str(workspace_dir)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert first.stdout.startswith("created 13 tables of ehr 1.0 in ")
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "nothing to do" in again.stdout
    shown = runner.invoke(app, ["target", "show", "--json", "-w", str(workspace_dir)])
    assert shown.exit_code == 0, shown.output
    data = json.loads(shown.stdout)
    assert (data["model"], data["version"], data["sha256"]) == ("ehr", "1.0", model.sha256)
    encounter = next(t for t in data["tables"] if t["table"] == "encounter")
    assert encounter["columns"] == len(model.tables["encounter"].columns)
    assert "patient_id -> patient.patient_id" in encounter["foreign_keys"]
    table = runner.invoke(app, ["target", "show", "-w", str(workspace_dir)])
    assert table.exit_code == 0 and "encounter" in table.stdout


def test_cli_refuses_unknown_models_and_dialects(workspace_dir):
    missing = runner.invoke(app, ["target", "show", "-m", "nope", "-w", str(workspace_dir)])
    assert isinstance(missing.exception, TargetError) and "known models: ehr" in str(
        missing.exception
    )
    bad = runner.invoke(app, ["target", "ddl", "--dialect", "oracle", "-w", str(workspace_dir)])
    assert isinstance(bad.exception, TargetError) and "unknown dialect" in str(bad.exception)
    neither = runner.invoke(app, ["target", "ddl", "-w", str(workspace_dir)])
    assert neither.exit_code == 1 and "--dialect" in neither.output
