"""Sealed secrets: a real MariaDB user with a random password, used through the library and the
CLI, and then every byte the workbench wrote or printed is searched for that password.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa

from workbench import workspace as ws
from workbench.errors import ConfigError, SecretError
from workbench.secrets import SealedSecret
from workbench.snapshot import acquire, open_snapshot
from workbench.sources import open_source
from workbench.sources.database import DatabaseSource

pytestmark = pytest.mark.services

WORKBENCH = str(Path(sys.executable).parent / "workbench")
SECRET_ENV = "WB_TEST_SECRET"
WRONG_ENV = "WB_TEST_WRONG_SECRET"


def forms(secret: str) -> list[bytes]:
    """The secret as it could appear: plain, or escaped into a URL."""
    return [f.encode() for f in {secret, quote(secret, safe=""), quote_plus(secret)}]


def assert_absent(secret: str, where: str, data: bytes | str) -> None:
    blob = data.encode() if isinstance(data, str) else data
    for form in forms(secret):
        assert form not in blob, f"the secret leaked into {where}"


def run_all(commands: list[list[str]], env: dict) -> list[subprocess.CompletedProcess]:
    """Run independent CLI commands side by side (each pays the interpreter's start-up)."""

    def run(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(
            [WORKBENCH, *args], capture_output=True, text=True, env=env, timeout=120
        )

    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(run, commands))


def add_source(workspace_dir: Path, name: str, **options) -> None:
    lines = [f"\n[sources.{name}]", 'kind = "database"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in options.items()]
    with (workspace_dir / ws.CONFIG_NAME).open("a") as f:
        f.write("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def reader(mariadb_url):
    """A scratch database and a user who may only read it; yields (url, password)."""
    token = uuid.uuid4().hex[:10]
    db, user = f"wb_src_{token}", f"wb_reader_{token}"
    password = f"s3cr3t-{uuid.uuid4()}-p@ss:w/rd%"
    engine = sa.create_engine(mariadb_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as con:
        con.exec_driver_sql(f"CREATE DATABASE {db} CHARACTER SET utf8mb4")
        con.exec_driver_sql(f"CREATE TABLE {db}.patients (id INT PRIMARY KEY, name VARCHAR(50))")
        con.exec_driver_sql(f"INSERT INTO {db}.patients VALUES (1, 'Ann'), (2, 'Bö'), (3, NULL)")
        con.exec_driver_sql(f"CREATE TABLE {db}.notes (id INT, body TEXT)")
        con.exec_driver_sql(f"INSERT INTO {db}.notes VALUES (1, 'line\\nbreak')")
        con.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
        con.exec_driver_sql(f"GRANT SELECT, SHOW VIEW ON {db}.* TO '{user}'@'%%'")
    url = sa.make_url(mariadb_url).set(username=user, password=None, database=db)
    try:
        yield url.render_as_string(hide_password=False), password
    finally:
        with engine.connect() as con:
            con.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'%%'")
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS {db}")
        engine.dispose()


def test_sealed_secret_shows_only_its_reference(monkeypatch):
    value = f"s3cr3t-{uuid.uuid4()}"
    monkeypatch.setenv(SECRET_ENV, value)
    secret = SealedSecret.parse(f"env:{SECRET_ENV}", "test")
    assert secret.reveal() == value and secret.is_set
    for shown in (repr(secret), str(secret), f"{secret}", repr([secret]), repr({"p": secret})):
        assert value not in shown and SECRET_ENV in shown
    with pytest.raises(SecretError) as refused:
        SealedSecret.parse(value, "source 'x': password")
    assert value not in str(refused.value)
    monkeypatch.delenv(SECRET_ENV)
    with pytest.raises(SecretError, match="not set"):
        secret.reveal()


def test_literal_password_in_url_is_refused(workspace_dir):
    literal = f"hunter2-{uuid.uuid4().hex}"
    for url in (
        f"mysql+pymysql://reader:{literal}@127.0.0.1:3306/ohm",
        f"postgresql+psycopg://reader@127.0.0.1/ohm?password={literal}",
    ):
        with pytest.raises(ConfigError, match='password = "env:NAME"') as refused:
            DatabaseSource("legacy", {"url": url}, workspace_dir)
        assert literal not in str(refused.value)
    add_source(workspace_dir, "literal", url=f"mysql+pymysql://reader:{literal}@db/ohm")
    (result,) = run_all([["sources", "-w", str(workspace_dir)]], dict(os.environ))
    assert result.returncode != 0 and 'password = "env:NAME"' in result.stderr
    assert literal not in result.stdout + result.stderr


def test_driver_messages_are_scrubbed(monkeypatch, workspace_dir):
    value = f"s3cr3t-{uuid.uuid4()}/x y"
    monkeypatch.setenv(SECRET_ENV, value)
    source = DatabaseSource(
        "legacy",
        {"url": "mysql+pymysql://reader@127.0.0.1/ohm", "password": f"env:{SECRET_ENV}"},
        workspace_dir,
    )
    echo = RuntimeError(f"auth failed for {value} (as {quote_plus(value)})\nsecond line")
    reason = source._reason(echo)
    assert reason == "auth failed for *** (as ***)"


def test_secret_never_reaches_a_file_or_output(reader, workspace_dir, monkeypatch, capfd):
    url, password = reader
    wrong = f"wrong-{uuid.uuid4()}"
    no_db = str(sa.make_url(url).set(database="wb_no_such_db").render_as_string(False))
    add_source(workspace_dir, "live", url=url, password=f"env:{SECRET_ENV}")
    add_source(workspace_dir, "wrongdb", url=no_db, password=f"env:{SECRET_ENV}")
    add_source(workspace_dir, "badpass", url=url, password=f"env:{WRONG_ENV}")
    monkeypatch.setenv(SECRET_ENV, password)
    monkeypatch.setenv(WRONG_ENV, wrong)
    env = {**os.environ, "COLUMNS": "200"}

    # In process: the library API.
    wsp = ws.load(workspace_dir)
    source = open_source(wsp, "live")
    assert_absent(password, "describe()", repr(source.describe()))
    assert_absent(password, "repr(secret)", repr(source.secret))
    probe = source.probe()
    assert probe.reachable, probe.reason
    assert {t.name: t.rows for t in probe.tables} == {"notes": 1, "patients": 3}
    acquire(source, wsp.snapshots_dir, "api-snap")
    with open_snapshot(wsp.snapshots_dir, "api-snap").connect() as con:
        assert con.execute("SELECT count(*) FROM patients").fetchone()[0] == 3
    for name, fragment in (
        ("wrongdb", "to database 'wb_no_such_db'"),
        ("badpass", "using password: YES"),
    ):
        failed = open_source(wsp, name).probe()
        assert not failed.reachable and fragment in failed.reason
        assert_absent(password, f"probe reason of {name}", failed.reason)
        assert_absent(wrong, f"probe reason of {name}", failed.reason)

    # Through the CLI, as a user runs it.
    w = ["-w", str(workspace_dir)]
    first = run_all(
        [
            ["sources", *w], ["sources", "--json", *w],
            ["probe", "live", *w], ["probe", "live", "--json", *w],
            ["acquire", "live", "-s", "cli-snap", *w], ["probe", "wrongdb", *w],
        ],
        env,
    )  # fmt: skip
    second = run_all(
        [
            ["acquire", "live", "-s", "cli-snap", "--json", *w],
            ["snapshots", *w], ["snapshots", "--json", *w],
        ],
        env,
    )  # fmt: skip
    sources, sources_json, probe_text, probe_json, took, wrongdb = first
    again, listing, listing_json = second
    for ok in (sources, sources_json, probe_text, probe_json, took, *second):
        assert ok.returncode == 0, (ok.args, ok.stderr)
    assert f"env:{SECRET_ENV} (set)" in sources.stdout
    listed = {s["name"]: s for s in json.loads(sources_json.stdout)}
    assert listed["live"]["secrets"]["password"] == {"reference": f"env:{SECRET_ENV}", "set": True}
    assert "patients" in probe_text.stdout and json.loads(probe_json.stdout)["rows"] == 4
    assert json.loads(again.stdout)["created"] is False and "cli-snap" in listing.stdout
    assert {s["snapshot"] for s in json.loads(listing_json.stdout)} == {"api-snap", "cli-snap"}
    assert "unreachable" in wrongdb.stderr and "'wb_no_such_db'" in wrongdb.stderr

    # Nothing printed, by the CLI or in process, holds the secret...
    for result in (*first, *second):
        for stream in (result.stdout, result.stderr):
            assert_absent(password, f"output of {result.args[1:]}", stream)
            assert_absent(wrong, f"output of {result.args[1:]}", stream)
    captured = capfd.readouterr()
    assert_absent(password, "captured output", captured.out + captured.err)

    # ...and no file the workbench wrote does either, DuckDB databases included.
    files = [p for p in workspace_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"workbench.toml", "manifest.json", "staging.duckdb"} <= names
    assert sum(p.name == "staging.duckdb" for p in files) == 2
    for path in files:
        data = path.read_bytes()
        assert_absent(password, str(path.relative_to(workspace_dir)), data)
        assert_absent(wrong, str(path.relative_to(workspace_dir)), data)


def test_unset_secret_is_reported_not_guessed(reader, workspace_dir, monkeypatch):
    url, _ = reader
    monkeypatch.delenv(SECRET_ENV, raising=False)
    add_source(workspace_dir, "live", url=url, password=f"env:{SECRET_ENV}")
    probe = open_source(ws.load(workspace_dir), "live").probe()
    assert (
        not probe.reachable
        and probe.reason == f"secret env:{SECRET_ENV} is not set in the environment"
    )
    env = {k: v for k, v in os.environ.items() if k != SECRET_ENV} | {"COLUMNS": "200"}
    (listed,) = run_all([["sources", "-w", str(workspace_dir)]], env)
    assert listed.returncode == 0 and f"env:{SECRET_ENV} (NOT SET)" in listed.stdout
