"""The target side of jobs: environments from workbench.toml, and batches loaded into a real
DuckDB file and a real PostgreSQL schema (a fresh one per test), checked with independent
SQL through the drivers themselves."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pytest
import sqlalchemy as sa

from workbench import workspace
from workbench.errors import ConfigError, SecretError, TargetError
from workbench.secrets import SealedSecret
from workbench.target import find_model
from workbench.target.database import (
    BATCHES,
    PARKED_COLUMNS,
    TargetDB,
    TargetUnreachable,
    open_target,
)
from workbench.target.environments import TargetEnv, target_env, target_envs

MODEL = find_model(None, "ehr")
PATIENT = MODEL.table("patient")
ENCOUNTER = MODEL.table("encounter")
OBSERVATION = MODEL.table("observation")


# -- fixtures ---------------------------------------------------------------------------------


class Raw:
    """Independent SQL on the target: the driver itself, not the workbench."""

    def __init__(self, env: TargetEnv, postgres_url: str | None) -> None:
        self.kind = env.kind
        self.schema = env.schema or "main"
        if env.kind == "duckdb":
            self.con: Any = duckdb.connect(str(env.path))
        else:
            u = sa.make_url(postgres_url or "")
            self.con = psycopg.connect(
                host=u.host, port=u.port or 5432, dbname=u.database, user=u.username,
                autocommit=True,
            )  # fmt: skip

    def rows(self, sql: str) -> list[tuple]:
        sql = sql.replace("{s}", f'"{self.schema}"')
        return list(self.con.execute(sql).fetchall())

    def one(self, sql: str) -> Any:
        return self.rows(sql)[0][0]

    def close(self) -> None:
        self.con.close()


@pytest.fixture(params=["duckdb", "postgresql"])
def env(request, tmp_path: Path) -> TargetEnv:
    if request.param == "duckdb":
        return TargetEnv("sandbox", "duckdb", path=tmp_path / "state" / "sandbox.duckdb")
    url = request.getfixturevalue("postgres_url")
    schema = f"wb_load_{uuid.uuid4().hex[:10]}"
    yield_env = TargetEnv("rehearsal", "postgresql", url=url, schema=schema)
    request.addfinalizer(lambda: _drop_schema(url, schema))
    return yield_env


def _drop_schema(url: str, schema: str) -> None:
    u = sa.make_url(url)
    with psycopg.connect(
        host=u.host, port=u.port or 5432, dbname=u.database, user=u.username, autocommit=True
    ) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def db(env: TargetEnv):
    with open_target(env) as target:
        assert target.ensure_schema(MODEL) is True
        target.execute(f"INSERT INTO {target.q('facility')} VALUES ('f1', 'Main clinic')")
        yield target


@pytest.fixture
def raw(env: TargetEnv, db: TargetDB, request):
    url = request.getfixturevalue("postgres_url") if env.kind == "postgresql" else None
    r = Raw(env, url)
    yield r
    r.close()


def batch(
    columns: dict[str, list], keys: list[str], mapping: str, source: str,
    variants: list[str | None] | None = None,
) -> pa.Table:  # fmt: skip
    """A batch as the projection hands it over: target columns plus lineage."""
    n = len(keys)
    return pa.table(
        {
            **columns,
            "_mapping": [mapping] * n,
            "_source_table": [source] * n,
            "_source_key": keys,
            "_variant": pa.array(variants or [None] * n, pa.string()),
        }
    )


def patients(ids: list[str], **columns: list) -> pa.Table:
    cols = {"patient_id": ids, "identifier": [i.upper() for i in ids], **columns}
    return batch(cols, [i.removeprefix("p") for i in ids], "patient", "demographics")


def parked(result) -> dict[str, str]:
    assert result.parked.column_names == list(PARKED_COLUMNS)
    return {r["_source_key"]: r["rule"] for r in result.parked.to_pylist()}


# -- environments -----------------------------------------------------------------------------


def test_workspace_without_targets_has_the_sandbox(workspace_dir: Path):
    ws = workspace.load(workspace_dir)
    envs = target_envs(ws)
    assert list(envs) == ["sandbox"]
    sandbox = target_env(ws, "sandbox")
    assert sandbox.kind == "duckdb"
    assert sandbox.path == ws.root / "state" / "targets" / "sandbox.duckdb"
    with pytest.raises(ConfigError, match=r"no target 'rehearsal' \(targets: sandbox\)"):
        target_env(ws, "rehearsal")


def test_targets_from_workbench_toml(workspace_dir: Path, monkeypatch):
    monkeypatch.setenv("EHR_TEST_PASSWORD", "hunter2-very-secret")
    with (workspace_dir / "workbench.toml").open("a") as f:
        f.write(
            '\n[targets.sandbox]\nkind = "duckdb"\npath = "state/targets/sandbox.duckdb"\n'
            '\n[targets.rehearsal]\nkind = "postgresql"\n'
            'url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"\n'
            'schema = "ehr_rehearsal"\npassword = "env:EHR_TEST_PASSWORD"\n'
        )
    ws = workspace.load(workspace_dir)
    envs = target_envs(ws)
    assert set(envs) == {"sandbox", "rehearsal"}
    rehearsal = envs["rehearsal"]
    assert rehearsal.password == SealedSecret("env:EHR_TEST_PASSWORD")
    assert rehearsal.describe() == (
        "target rehearsal (postgresql 127.0.0.1:5432/test schema ehr_rehearsal)"
    )
    for shown in (rehearsal.describe(), str(rehearsal), repr(rehearsal)):
        assert "hunter2" not in shown


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ('kind = "oracle"', "kind must be one of duckdb, postgresql"),
        ('kind = "duckdb"', "'path' is required"),
        ('kind = "postgresql"\nurl = "postgresql://u:pw@h/db"', "contains a password"),
        ('kind = "postgresql"\nurl = "mysql://u@h/db"', "needs a postgresql:// url"),
        ('kind = "duckdb"\npath = "x.duckdb"\nurl = "y"', "unknown key 'url'"),
    ],
)
def test_bad_target_config(workspace_dir: Path, spec: str, message: str):
    with (workspace_dir / "workbench.toml").open("a") as f:
        f.write(f"\n[targets.bad]\n{spec}\n")
    with pytest.raises(ConfigError, match=message) as info:
        target_envs(workspace.load(workspace_dir))
    assert "pw@" not in str(info.value)


def test_literal_password_is_refused(workspace_dir: Path):
    with (workspace_dir / "workbench.toml").open("a") as f:
        f.write('\n[targets.r]\nkind = "postgresql"\nurl = "postgresql://u@h/db"\n')
        f.write('password = "plain-text-secret"\n')
    with pytest.raises(SecretError) as info:
        target_envs(workspace.load(workspace_dir))
    assert "plain-text-secret" not in str(info.value)


# -- schema -----------------------------------------------------------------------------------


def test_schema_is_created_once_and_other_versions_refused(env: TargetEnv, db: TargetDB):
    assert db.schema_version() == ("ehr", "1.0")
    assert db.ensure_schema(MODEL) is False  # already there: nothing to do
    assert db.reference_rows("facility") == 1
    assert db.committed_batches("J1") == {}
    other = dataclasses.replace(MODEL, version="2.0")
    with pytest.raises(TargetError, match=r"holds target model ehr 1\.0, not ehr 2\.0"):
        db.ensure_schema(other)
    assert {BATCHES, "patient", "_workbench_model"} <= set(db.table_counts())


def test_reference_tables_are_never_loaded(db: TargetDB):
    facility = MODEL.table("facility")
    rows = batch({"facility_id": ["f2"], "name": ["x"]}, ["1"], "facility", "sites")
    with pytest.raises(TargetError, match="reference table"):
        db.load_batch("J1", 1, facility, rows)


# -- loading ----------------------------------------------------------------------------------


def test_clean_batch_loads(db: TargetDB, raw: Raw):
    result = db.load_batch(
        "J1", 1, PATIENT,
        patients(["p1", "p2", "p3"], gender=["male", "female", None], facility_id=["f1"] * 3),
    )  # fmt: skip
    assert (result.loaded, result.parked.num_rows, result.parked_rows) == (3, 0, 0)
    assert raw.one("SELECT count(*) FROM {s}.patient") == 3
    assert raw.rows(
        "SELECT patient_id, _job_id, _batch, _source_table, _source_key FROM {s}.patient "
        "ORDER BY patient_id"
    ) == [
        ("p1", "J1", 1, "demographics", "1"),
        ("p2", "J1", 1, "demographics", "2"),
        ("p3", "J1", 1, "demographics", "3"),
    ]
    encounters = batch(
        {"encounter_id": ["e1", "e2"], "patient_id": ["p1", "p2"], "class_code": ["ambulatory"] * 2,
         "period_start": [dt.datetime(2020, 1, 2, 3, 4, 5, 678901), None]},
        ["100", "101"], "encounter", "visits",
    )  # fmt: skip
    assert db.load_batch("J1", 2, ENCOUNTER, encounters).loaded == 2
    assert raw.one("SELECT count(*) FROM {s}.encounter WHERE _job_id = 'J1'") == 2
    assert db.job_counts("J1")["patient"] == 3
    assert db.job_counts("J1")["encounter"] == 2
    markers = raw.rows(
        f"SELECT batch, target_table, rows_loaded, rows_parked FROM {{s}}.{BATCHES} ORDER BY 1"
    )
    assert markers == [(1, "patient", 3, 0), (2, "encounter", 2, 0)]
    assert db.committed_batches("J1") == {1: (3, 0), 2: (2, 0)}


def test_bad_rows_are_parked_by_source_row_group(db: TargetDB, raw: Raw):
    db.load_batch("J1", 1, PATIENT, patients(["p1", "p2"]))
    second = patients(
        ["p1", "p3", "p4", "p5", "p6"],  # p1 is already in the target
        gender=["male", "x", "female", "female", "male"],  # x: not in the value set
        facility_id=["f1", "f1", "f1", "f1", "f9"],  # f9: no such facility
    )
    second = second.set_column(1, "identifier", pa.array(["P1", "P3", None, "P5", "P6"]))
    result = db.load_batch("J1", 2, PATIENT, second)
    assert parked(result) == {
        "1": "target:pk",
        "3": "target:check:gender",
        "4": "target:not_null:identifier",
        "6": "target:fk:facility_id",
    }
    reasons = {r["_source_key"]: r["reason"] for r in result.parked.to_pylist()}
    assert reasons["1"] == "patient_id 'p1' is already in patient (job J1)"
    assert reasons["6"] == "facility_id 'f9' has no row in facility"
    assert all(r["target_table"] == "patient" for r in result.parked.to_pylist())
    assert (result.loaded, result.parked_rows) == (1, 4)
    assert raw.rows("SELECT patient_id FROM {s}.patient ORDER BY 1") == [("p1",), ("p2",), ("p5",)]
    assert raw.one("SELECT _batch FROM {s}.patient WHERE patient_id = 'p1'") == 1  # untouched

    # Observations: one source row (vitals key) gives two variant rows (height, weight).
    obs = batch(
        {
            "observation_id": ["o1h", "o1w", "o2h", "o2w", "o3h", "o4h", "o4w", "o5h"],
            "patient_id": ["p1", "p1", "p2", "p9", "p2", "p5", "p5", "p2"],
            "category": ["vital-signs"] * 5 + ["vital-signs", "bogus", "vital-signs"],
            "display": ["Height", "Weight", "Height", "Weight", None, "Height", "Weight", "H"],
            "value_quantity": [170.0, 70.5, 160.0, 60.0, 1.0, 150.0, 50.0, 2.0],
        },
        ["v1", "v1", "v2", "v2", "v3", "v4", "v4", "v5"],
        "vitals", "vitals",
        ["height", "weight", "height", "weight", "height", "height", "weight", "height"],
    )  # fmt: skip
    result = db.load_batch("J1", 3, OBSERVATION, obs)
    assert parked(result) == {
        "v2": "target:fk:patient_id",  # its weight row is an orphan: its height row parks too
        "v3": "target:not_null:display",
        "v4": "target:check:category",
    }
    by_key = {r["_source_key"]: r["reason"] for r in result.parked.to_pylist()}
    assert by_key["v2"] == "patient_id 'p9' has no row in patient (variant weight)"
    assert (result.loaded, result.parked_rows) == (3, 5)
    assert raw.rows("SELECT observation_id FROM {s}.observation ORDER BY 1") == [
        ("o1h",), ("o1w",), ("o5h",)
    ]  # fmt: skip
    # Every input group is loaded or parked, exactly once.
    loaded_keys = {r[0] for r in raw.rows("SELECT DISTINCT _source_key FROM {s}.observation")}
    assert loaded_keys | set(parked(result)) == {"v1", "v2", "v3", "v4", "v5"}
    assert not loaded_keys & set(parked(result))
    # One marker per committed batch, with what it loaded and parked.
    assert raw.rows(
        "SELECT batch, target_table, rows_loaded, rows_parked FROM {s}." + BATCHES
        + " WHERE job_id = 'J1' ORDER BY batch"
    ) == [(1, "patient", 2, 0), (2, "patient", 1, 4), (3, "observation", 3, 5)]  # fmt: skip
    assert db.committed_batches("J1") == {1: (2, 0), 2: (1, 4), 3: (3, 5)}


def test_duplicates_within_a_batch_park_the_later_group(db: TargetDB, raw: Raw):
    rows = batch(
        {"patient_id": ["p1", "p1", "p2"], "identifier": ["A", "B", "C"]},
        ["1", "2", "3"], "patient", "demographics",
    )  # fmt: skip
    result = db.load_batch("J1", 1, PATIENT, rows)
    assert parked(result) == {"2": "target:pk"}
    assert raw.rows("SELECT patient_id, identifier FROM {s}.patient ORDER BY 1") == [
        ("p1", "A"), ("p2", "C")
    ]  # fmt: skip


def test_bisection_finds_what_set_based_checks_do_not(env: TargetEnv, db: TargetDB, raw: Raw):
    """Without the model the CHECK's value set is unknown, and a text date is only judged by
    the database: the bad groups are isolated by bisection, with the database's reason."""
    n = 40
    gender = ["male"] * n
    gender[7], gender[33] = "bogus", "nope"
    birth = ["1980-01-01"] * n
    birth[10] = "1980-13-45"
    rows = batch(
        {"patient_id": [f"p{i}" for i in range(n)], "identifier": [str(i) for i in range(n)],
         "gender": gender, "birth_date": birth},
        [str(i) for i in range(n)], "patient", "demographics",
    )  # fmt: skip
    with open_target(env) as plain:  # no model given
        result = plain.load_batch("J1", 1, PATIENT, rows)
    assert parked(result) == {
        "7": "target:check:gender",
        "10": "target:type:birth_date",
        "33": "target:check:gender",
    }
    for r in result.parked.to_pylist():
        assert "\n" not in r["reason"] and r["reason"]
        assert "Failing row" not in r["reason"]  # no patient data copied into a reason
    assert (result.loaded, raw.one("SELECT count(*) FROM {s}.patient")) == (37, 37)
    assert raw.one("SELECT count(DISTINCT birth_date) FROM {s}.patient") == 1


class Boom(Exception):
    pass


@pytest.mark.parametrize("dirty", [False, True], ids=["fast-path", "slow-path"])
def test_a_failing_batch_is_rolled_back_whole(db: TargetDB, raw: Raw, monkeypatch, dirty):
    db.load_batch("J1", 1, PATIENT, patients(["p1"]))
    before = db.checksums(MODEL)

    def marker(*args, **kwargs):  # the rows are in; the batch's last step fails
        raise Boom("the marker could not be written")

    monkeypatch.setattr(db, "_marker", marker)
    ids = ["p1", "p2", "p3"] if dirty else ["p2", "p3"]  # p1: a duplicate -> slow path
    with pytest.raises(Boom):
        db.load_batch("J1", 2, PATIENT, patients(ids))
    monkeypatch.undo()
    assert raw.rows("SELECT patient_id FROM {s}.patient") == [("p1",)]
    assert raw.one(f"SELECT count(*) FROM {{s}}.{BATCHES} WHERE batch = 2") == 0
    assert db.checksums(MODEL) == before
    # The same batch loads afterwards, as a resumed commit would.
    assert db.load_batch("J1", 2, PATIENT, patients(ids)).loaded == 2


def test_a_committed_batch_is_not_loaded_twice(db: TargetDB, raw: Raw):
    db.load_batch("J1", 1, PATIENT, patients(["p1"]))
    with pytest.raises(TargetError, match="batch 1 of job J1 is already committed"):
        db.load_batch("J1", 1, PATIENT, patients(["p2"]))
    assert raw.one("SELECT count(*) FROM {s}.patient") == 1


def test_delete_job_removes_exactly_its_rows(db: TargetDB, raw: Raw):
    db.load_batch("J1", 1, PATIENT, patients(["p1", "p2"]))
    obs = {"patient_id": ["p1", "p2"], "category": ["vital-signs"] * 2, "display": ["H", "W"]}
    obs_batch = batch({"observation_id": ["o1", "o2"], **obs}, ["a", "b"], "vitals", "vitals")
    db.load_batch("J1", 2, OBSERVATION, obs_batch)
    db.load_batch("J2", 1, PATIENT, patients(["p3"]))
    db.load_batch("J2", 2, OBSERVATION, batch(
        {"observation_id": ["o3"], "patient_id": ["p3"], "category": ["vital-signs"],
         "display": ["H"]}, ["c"], "vitals", "vitals"))  # fmt: skip
    j2_before = {t: raw.rows(f"SELECT * FROM {{s}}.{t} WHERE _job_id = 'J2' ORDER BY 1")
                 for t in ("patient", "observation")}  # fmt: skip

    deleted = db.delete_job("J1", MODEL)
    assert deleted["patient"] == 2
    assert deleted["observation"] == 2
    assert deleted[BATCHES] == 2
    assert sum(v for k, v in deleted.items() if k not in ("patient", "observation", BATCHES)) == 0
    assert set(db.job_counts("J1").values()) == {0}
    assert db.committed_batches("J1") == {}
    for t, rows in j2_before.items():
        assert raw.rows(f"SELECT * FROM {{s}}.{t} ORDER BY 1") == rows
    assert db.committed_batches("J2") == {1: (1, 0), 2: (1, 0)}
    assert db.delete_job("J1", MODEL)["patient"] == 0  # again: nothing left to do
    if raw.kind == "postgresql":  # the rollback's helper indexes are gone with it
        assert raw.one(r"SELECT count(*) FROM pg_indexes WHERE indexname LIKE '\_wb\_%'") == 0


def test_empty_batch_and_batch_without_variants(db: TargetDB, raw: Raw):
    result = db.load_batch("J1", 1, PATIENT, patients([]))
    assert (result.loaded, result.parked.num_rows) == (0, 0)
    rows = patients(["p1"]).drop_columns(["_variant"])
    assert db.load_batch("J1", 2, PATIENT, rows).loaded == 1
    assert db.committed_batches("J1") == {1: (0, 0), 2: (1, 0)}
    with pytest.raises(TargetError, match="has no _source_key column"):
        db.load_batch("J1", 3, PATIENT, patients(["p2"]).drop_columns(["_source_key"]))
    with pytest.raises(TargetError, match="patient has no column 'shoe_size'"):
        db.load_batch("J1", 3, PATIENT, patients(["p2"]).append_column("shoe_size", [[42]]))


def test_delete_job_refuses_when_another_job_refers_to_its_rows(db: TargetDB, raw: Raw):
    db.load_batch("J1", 1, PATIENT, patients(["p1"]))
    db.load_batch("J2", 1, OBSERVATION, batch(
        {"observation_id": ["o1"], "patient_id": ["p1"], "category": ["vital-signs"],
         "display": ["H"]}, ["a"], "vitals", "vitals"))  # fmt: skip
    before = db.checksums(MODEL)
    with pytest.raises(TargetError, match="1 observation rows not loaded by it refer to its"):
        db.delete_job("J1", MODEL)
    assert db.checksums(MODEL) == before


def test_checksums_prove_no_op_load_and_rollback(db: TargetDB):
    empty = db.checksums(MODEL)
    assert set(empty) == {*MODEL.tables, BATCHES}
    assert empty["facility"].rows == 1
    # Reads change nothing.
    db.job_counts("J1"), db.table_counts(), db.committed_batches("J1")
    db.fetch("SELECT count(*) AS n FROM patient")
    assert db.checksums(MODEL) == empty
    db.load_batch("J1", 1, PATIENT, patients(["p1", "p2"]))
    loaded = db.checksums(MODEL)
    changed = {t for t in loaded if loaded[t] != empty[t]}
    assert changed == {"patient", BATCHES}
    assert loaded["patient"].rows == 2
    db.delete_job("J1", MODEL)
    assert db.checksums(MODEL) == empty  # the rollback restored the pre-commit state


def test_checksums_see_a_changed_value(db: TargetDB):
    db.load_batch("J1", 1, PATIENT, patients(["p1", "p2"], family_name=["A", "B"]))
    before = db.checksums(MODEL)["patient"]
    db.execute(f"UPDATE {db.q('patient')} SET family_name = '' WHERE patient_id = 'p1'")
    after = db.checksums(MODEL)["patient"]
    assert after.rows == before.rows and after.digest != before.digest


ODD_TEXT = ["", None, "NULL", "\\N", 'say "hi", then\nleave', "Ünïcødé ✓", " padded ", "\\."]
DATES = [
    dt.date(1, 1, 1), None, dt.date(1900, 2, 28), dt.date(2000, 2, 29),
    dt.date(9999, 12, 31), dt.date(1970, 1, 1), dt.date(2024, 12, 31), dt.date(1999, 1, 1),
]  # fmt: skip
STAMPS = [
    dt.datetime(2020, 1, 2, 3, 4, 5, 678901), None, dt.datetime(1900, 1, 1),
    dt.datetime(2000, 2, 29, 23, 59, 59, 999999), dt.datetime(1970, 1, 1, 0, 0, 0, 1),
    dt.datetime(2038, 1, 19, 3, 14, 8), dt.datetime(2024, 6, 30, 12), dt.datetime(1, 1, 1),
]  # fmt: skip
DOUBLES = [0.1, None, 1 / 3, 1e-300, 1.7976931348623157e308, 5e-324, -0.0, 123456789.12345679]
BOOLS = [True, None, False, True, False, None, True, False]


@pytest.mark.parametrize("dirty", [False, True], ids=["fast-path", "slow-path"])
def test_null_empty_text_dates_and_numbers_round_trip(db: TargetDB, raw: Raw, dirty: bool):
    n = len(ODD_TEXT)
    ids = [f"p{i}" for i in range(n)]
    extra = [None] if dirty else []  # one bad row sends the batches through staging
    people = batch(
        {"patient_id": ids + ["px"] * len(extra), "identifier": [i.upper() for i in ids] + extra,
         "family_name": ODD_TEXT + extra, "birth_date": DATES + extra},
        [str(i) for i in range(n)] + ["x"] * len(extra), "patient", "demographics",
    )  # fmt: skip
    result = db.load_batch("J1", 1, PATIENT, people)
    assert result.loaded == n and result.parked.num_rows == (1 if dirty else 0)
    got = raw.rows(
        "SELECT patient_id, family_name, family_name IS NULL, birth_date FROM {s}.patient"
    )
    by_id = {r[0]: r[1:] for r in got}
    for i, text in enumerate(ODD_TEXT):
        assert by_id[f"p{i}"] == (text, text is None, DATES[i]), i
    encounters = batch(
        {"encounter_id": [f"e{i}" for i in range(n)] + ["ex"] * len(extra),
         "patient_id": ids + ["p-none"] * len(extra), "period_start": STAMPS + extra},
        [str(i) for i in range(n + len(extra))], "encounter", "visits",
    )  # fmt: skip
    assert db.load_batch("J1", 2, ENCOUNTER, encounters).loaded == n
    stamps = dict(raw.rows("SELECT encounter_id, period_start FROM {s}.encounter"))
    assert [stamps[f"e{i}"] for i in range(n)] == STAMPS
    obs = batch(
        {"observation_id": [f"o{i}" for i in range(n)], "patient_id": ids,
         "category": ["vital-signs"] * n, "display": ["x"] * n, "value_quantity": DOUBLES},
        [str(i) for i in range(n)], "vitals", "vitals",
    )  # fmt: skip
    assert db.load_batch("J1", 3, OBSERVATION, obs).loaded == n
    values = dict(raw.rows("SELECT observation_id, value_quantity FROM {s}.observation"))
    for i, want in enumerate(DOUBLES):
        got_value = values[f"o{i}"]
        if want is None:
            assert got_value is None
        else:
            assert got_value == want and math.copysign(1, got_value) == math.copysign(1, want)
    incidents = batch(
        {"incident_id": [f"i{i}" for i in range(n)], "patient_id": ids, "osha_recordable": BOOLS},
        [str(i) for i in range(n)], "incident", "injuries",
    )  # fmt: skip
    assert db.load_batch("J1", 4, MODEL.table("incident"), incidents).loaded == n
    flags = dict(raw.rows("SELECT incident_id, osha_recordable FROM {s}.incident"))
    assert [flags[f"i{i}"] for i in range(n)] == BOOLS
    # fetch() gives the same values back as Arrow.
    fetched = db.fetch(
        "SELECT patient_id, family_name, birth_date FROM patient WHERE patient_id <> ? "
        "ORDER BY patient_id", ["px"]
    )  # fmt: skip
    assert fetched.column("family_name").to_pylist() == [
        ODD_TEXT[int(p[1:])] for p in fetched.column("patient_id").to_pylist()
    ]


def test_nul_characters(env: TargetEnv, db: TargetDB, raw: Raw):
    """PostgreSQL text cannot hold NUL: that source row parks; DuckDB stores it."""
    rows = patients(["p1", "p2"], family_name=["nul\x00here", "fine"])
    result = db.load_batch("J1", 1, PATIENT, rows)
    names = dict(raw.rows("SELECT patient_id, family_name FROM {s}.patient"))
    if env.kind == "postgresql":
        assert parked(result) == {"1": "target:type:family_name"}
        assert names == {"p2": "fine"}
    else:
        assert result.parked.num_rows == 0
        assert names == {"p1": "nul\x00here", "p2": "fine"}


def test_fetch_placeholders_and_literals(db: TargetDB):
    db.load_batch("J1", 1, PATIENT, patients(["p1", "p2"], family_name=["100%", "a?b"]))
    got = db.fetch(
        "SELECT patient_id, family_name LIKE '%\\%' ESCAPE '\\' AS pct, 'x?' AS q "
        "FROM patient WHERE _job_id = ? AND family_name IS NOT NULL ORDER BY 1",
        ["J1"],
    )
    assert got.to_pylist() == [
        {"patient_id": "p1", "pct": True, "q": "x?"},
        {"patient_id": "p2", "pct": False, "q": "x?"},
    ]
    empty = db.fetch("SELECT patient_id FROM patient WHERE false")
    assert empty.num_rows == 0 and empty.column_names == ["patient_id"]


# -- errors and secrets -----------------------------------------------------------------------

SECRET = "Tr0ub4dor&3-never-show-me"


def test_unreachable_target_names_itself_and_hides_the_password(monkeypatch):
    monkeypatch.setenv("EHR_TEST_PASSWORD", SECRET)
    env = TargetEnv(
        "rehearsal", "postgresql", url="postgresql+psycopg://postgres@127.0.0.1:1/test",
        schema="ehr_rehearsal", password=SealedSecret("env:EHR_TEST_PASSWORD"),
    )  # fmt: skip
    with pytest.raises(TargetUnreachable) as info:
        open_target(env)
    message = str(info.value)
    assert message.startswith(
        "target rehearsal (postgresql 127.0.0.1:1/test schema ehr_rehearsal): "
    )
    assert "\n" not in message
    assert SECRET not in message


def test_missing_secret_is_named_not_shown(monkeypatch):
    monkeypatch.delenv("EHR_TEST_PASSWORD", raising=False)
    env = TargetEnv(
        "rehearsal", "postgresql", url="postgresql+psycopg://postgres@127.0.0.1:5432/test",
        password=SealedSecret("env:EHR_TEST_PASSWORD"),
    )  # fmt: skip
    with pytest.raises(TargetUnreachable, match="env:EHR_TEST_PASSWORD is not set"):
        open_target(env)


def test_server_errors_never_show_the_password(postgres_url: str, monkeypatch):
    monkeypatch.setenv("EHR_TEST_PASSWORD", SECRET)
    u = sa.make_url(postgres_url)
    secret = SealedSecret("env:EHR_TEST_PASSWORD")
    missing_db = u.set(database=f"no_such_db_{SECRET}")  # the server echoes the name back
    env = TargetEnv("rehearsal", "postgresql", url=missing_db.render_as_string(False),
                    password=secret)  # fmt: skip
    with pytest.raises(TargetUnreachable) as info:
        open_target(env)
    assert SECRET not in str(info.value)
    assert "***" in str(info.value)
    schema = f"wb_secret_{uuid.uuid4().hex[:8]}"
    env = TargetEnv("rehearsal", "postgresql", url=postgres_url, schema=schema, password=secret)
    try:
        with open_target(env) as target:
            with pytest.raises(TargetError) as info:
                target.fetch(f"SELECT '{SECRET}'::integer")
            assert SECRET not in str(info.value)
            assert str(info.value).startswith(f"target rehearsal (postgresql {u.host}:")
    finally:
        _drop_schema(postgres_url, schema)


def test_duckdb_target_that_cannot_open(tmp_path: Path):
    folder = tmp_path / "a-directory.duckdb"
    folder.mkdir()
    with pytest.raises(TargetUnreachable, match=r"^target sandbox \(duckdb "):
        open_target(TargetEnv("sandbox", "duckdb", path=folder))
