"""Dress rehearsals and the go-live end to end, in temporary workspaces: real notebooks
(papermill), real commands, a real PostgreSQL and a live MariaDB source.

Every run pays a kernel start per notebook and an interpreter start per command, so the
clinic is small and the runs are few and shared: one rehearsal and one go-live against
PostgreSQL (whose report is also looked at in Chromium and searched for the target's
password), one rehearsal that fails at its profile step (and the go-live it cannot unlock),
and one rehearsal from a live MariaDB source whose password is searched for everywhere.
The last two run through the CLI in the background while the first two run in this process.
"""

from __future__ import annotations

import html
import json
import os
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import nbformat
import pytest
import sqlalchemy as sa

from conftest import require_tool
from test_map_html import _png_colours, _rgb
from test_run_report import _bars
from workbench import workspace
from workbench.audit import AuditLog
from workbench.checklist import ledger, orchestrate
from workbench.checklist.definitions import BUILTIN_DIR
from workbench.errors import WorkbenchError
from workbench.mapping import versions
from workbench.render import browser, charts
from workbench.synth import generate
from workbench.target.prepare import prepare

pytestmark = pytest.mark.services

WORKBENCH = str(Path(sys.executable).parent / "workbench")
PEOPLE, SEED = 200, 7
USERS = '[users]\nanalyst = "migration_engineer"\nonboarder = "onboarding"\n'
# Who acknowledges the manual steps in advance: the onboarding team and the client's people.
REHEARSAL_ACKS = {"internal_verification": "onboarder", "client_validation": ("clinic.sme", "go")}
GO_LIVE_ACKS = {"legacy_read_only": "clinic.it", "client_signoff": ("clinic.sponsor", "go")}
ACK_ARGS = ["--ack", "internal_verification=onboarder", "--ack", "client_validation=clinic.sme:go"]
FAILURE = "profile check failed: 13 tables profiled, 99 expected"


# ---- shared set-up -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Iterator[pytest.MonkeyPatch]:
    """Who acts (the analyst, a migration engineer), for this process and its children."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_USER", "analyst")
        mp.delenv("WORKBENCH_WORKSPACE", raising=False)
        if os.environ.get("PYTHONDONTWRITEBYTECODE"):
            # Else every kernel and command of every run compiles every module it imports
            # (seconds each): they share a bytecode cache of their own instead.
            mp.delenv("PYTHONDONTWRITEBYTECODE")
            mp.setenv("PYTHONPYCACHEPREFIX", str(tmp_path_factory.mktemp("pycache")))
        yield mp


@pytest.fixture(scope="module")
def clinic(tmp_path_factory) -> tuple[Path, dict]:
    """A small synthetic OHM clinic as a mysqldump, and its generator's manifest."""
    out = tmp_path_factory.mktemp("clinic")
    truth = generate(style="ohm", people=PEOPLE, seed=SEED, fmt="mysqldump", out=out)
    return out / "ohm.sql", truth.to_dict()


def make_workspace(root: Path, config: str) -> workspace.Workspace:
    """A workspace with ``config`` appended to its workbench.toml and ohm published."""
    workspace.init(root, name="rehearsal-clinic")
    with (root / workspace.CONFIG_NAME).open("a") as f:
        f.write("\n" + USERS + config)
    ws = workspace.load(root)
    versions.publish(ws, "template", "ohm")
    return ws


def dump_source(dump: Path) -> str:
    return f'[sources.demo_clinic]\nkind = "mysqldump"\npath = "{dump}"\n'


def cli(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [WORKBENCH, *args], capture_output=True, text=True, env=env, timeout=timeout
    )


class Background:
    """A CLI command running in its own session while the tests go on; ``result`` waits."""

    def __init__(self, folder: Path, *args: str, env: dict | None = None) -> None:
        self.args = [WORKBENCH, *args]
        self.out, self.err = folder / "stdout.txt", folder / "stderr.txt"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                self.args, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                env=env, start_new_session=True,
            )  # fmt: skip

    def result(self, timeout: float = 900) -> subprocess.CompletedProcess:
        self.proc.wait(timeout=timeout)
        return subprocess.CompletedProcess(
            self.args, self.proc.returncode, self.out.read_text(), self.err.read_text()
        )

    def stop(self) -> None:
        """End the command and what it started (kernels), if it is still running."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def actions(ws: workspace.Workspace) -> list[dict]:
    return list(AuditLog(ws).entries())


def forms(secret: str) -> list[bytes]:
    """The secret as it could be written: plain, or escaped into a URL."""
    return [f.encode() for f in {secret, quote(secret, safe=""), quote_plus(secret)}]


def files_holding(root: Path, secret: str) -> list[str]:
    """Every file under ``root`` whose bytes contain the secret in any form."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if any(form in data for form in forms(secret)):
            found.append(str(path.relative_to(root)))
    return found


def assert_scanned_everything(ws: workspace.Workspace, run_id: str) -> None:
    """The search covered what a run writes: its report, the ledger, the audit log, the
    snapshot's and the target's databases."""
    root = ws.root
    for path in (
        root / "reports" / run_id / "index.html",
        root / "reports" / run_id / "checklist.xlsx",
        root / "state" / "state.sqlite",
        root / "state" / "audit.jsonl",
    ):
        assert path.is_file() and path.stat().st_size > 0, path
    assert list((root / "snapshots").glob("*/staging.duckdb"))


# ---- a: a dress rehearsal and a go-live against PostgreSQL --------------------------------


@pytest.fixture(scope="module")
def postgres(postgres_url, env, clinic, tmp_path_factory, failing_run, live_run):
    """Rehearsal and production as fresh schemas owned by a login role with a password
    (a sealed env:NAME reference); one rehearsal, then the go-live it unlocks. (The failing
    and the live-source rehearsals run meanwhile.)"""
    token = uuid.uuid4().hex[:8]
    role, secret = f"wb_owner_{token}", f"pg-s3cr3t-{uuid.uuid4()}-p@ss:w/rd%"
    schemas = {"rehearsal": f"wb_reh_{token}", "production": f"wb_prod_{token}"}
    url = sa.make_url(postgres_url)
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        # A utility statement takes no bind parameters; the password has no quote in it.
        literal = secret.replace("%", "%%")
        con.exec_driver_sql(f"CREATE ROLE {role} LOGIN PASSWORD '{literal}'")
        con.exec_driver_sql(f'GRANT CREATE ON DATABASE "{url.database}" TO {role}')
    env.setenv("WB_REH_PG_PASSWORD", secret)
    target_url = url.set(username=role, password=None).render_as_string(hide_password=False)
    targets = "".join(
        f'[targets.{name}]\nkind = "postgresql"\nurl = "{target_url}"\nschema = "{schema}"\n'
        f'password = "env:WB_REH_PG_PASSWORD"\n'
        for name, schema in schemas.items()
    )
    config = (
        dump_source(clinic[0])
        + targets
        + '[environments]\nrehearsal = "rehearsal"\ngo_live = "production"\n'
    )
    try:
        ws = make_workspace(tmp_path_factory.mktemp("postgres") / "ws", config)
        prepare(ws, "production")  # the client's production EHR is up, with its reference rows
        rehearsal, rehearsal_paths = orchestrate.rehearse(ws, auto_ack=REHEARSAL_ACKS)
        live, live_paths = orchestrate.go_live(ws, auto_ack=GO_LIVE_ACKS, pdf=False)
        yield {
            "ws": ws,
            "secret": secret,
            "schemas": schemas,
            "admin": admin,
            "rehearsal": rehearsal,
            "rehearsal_paths": rehearsal_paths,
            "live": live,
            "live_paths": live_paths,
        }
    finally:
        with admin.connect() as con:
            for schema in schemas.values():
                con.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            con.exec_driver_sql(f"DROP OWNED BY {role} CASCADE")
            con.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


def test_a_rehearsal_then_the_go_live_into_postgresql_both_go(postgres, clinic):
    rehearsal, live = postgres["rehearsal"], postgres["live"]
    for run in (rehearsal, live):
        failed = [(s.step, s.error) for s in run.steps if s.status != "passed"]
        assert run.status == "finished" and not failed, (run.reason, failed)
        assert run.decision["decision"] == "go", run.decision["reasons"]
    assert (rehearsal.kind, rehearsal.target) == ("rehearsal", "rehearsal")
    assert (live.kind, live.target) == ("go-live", "production")
    # The go-live's snapshot has the schema the rehearsal passed with.
    assert live.step("schema_check").status == "passed"
    assert live.parameters["rehearsal_snapshot"] == rehearsal.decision["snapshot"] == "rehearsal"
    assert live.decision["template"] == rehearsal.decision["template"] == "ohm@v1"
    assert live.decision["template_sha256"] == rehearsal.decision["template_sha256"]
    assert live.decision["snapshot_schema"] == rehearsal.decision["snapshot_schema"]
    # Who signed off, as the decision record names them.
    assert rehearsal.decision["signed_off_by"] == "clinic.sme"
    assert live.decision["signed_off_by"] == "clinic.sponsor"
    assert {a.step: a.user for a in live.acks} == {
        "legacy_read_only": "clinic.it",
        "client_signoff": "clinic.sponsor",
    }


def test_the_counts_tie_out_from_the_clinic_to_each_target(postgres, clinic):
    truth = clinic[1]
    admin = postgres["admin"]
    for run, schema in (
        (postgres["rehearsal"], postgres["schemas"]["rehearsal"]),
        (postgres["live"], postgres["schemas"]["production"]),
    ):
        acquired = run.step("acquire").counts
        assert acquired == {"rows": truth["total_rows"], "tables": len(truth["tables"]),
                            "rejected": 0}  # fmt: skip
        loaded = run.step("load").counts["rows_loaded"]
        assert loaded == run.step("validate").counts["rows_to_load"] > 0
        assert run.step("reconcile").counts == {"balanced": 1, "discrepancies": 0}
        job = run.decision["job_id"]
        with admin.connect() as con:
            tables = con.exec_driver_sql(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = %s AND column_name = '_job_id'",
                (schema,),
            ).scalars()
            in_target = sum(
                con.exec_driver_sql(
                    f'SELECT count(*) FROM "{schema}"."{t}" WHERE _job_id = %s', (job,)
                ).scalar()
                for t in list(tables)
            )
        assert in_target == loaded
    rehearsal = postgres["rehearsal"]
    profiled = rehearsal.step("profile").counts
    assert profiled["rows"] == truth["total_rows"] and profiled["tables"] == len(truth["tables"])


def test_decisions_and_the_promotion_are_audited_and_the_log_verifies(postgres):
    ws, rehearsal, live = postgres["ws"], postgres["rehearsal"], postgres["live"]
    entries = actions(ws)
    decisions = [e["details"] for e in entries if e["action"] == "run.decision"]
    assert [(d["run"], d["decision"]) for d in decisions] == [
        (rehearsal.id, "go"),
        (live.id, "go"),
    ]
    (promote,) = [e for e in entries if e["action"] == "golive.promote"]
    assert (promote["user"], promote["role"], promote["outcome"]) == (
        "analyst",
        "migration_engineer",
        "ok",
    )
    assert promote["details"]["rehearsal"] == rehearsal.id
    assert promote["details"]["target"] == "production"
    assert promote["template"]["sha256"] == rehearsal.decision["template_sha256"]
    # The promotion comes after the rehearsal's decision and before the go-live starts.
    order = [(e["action"], (e["details"] or {}).get("run")) for e in entries]
    assert (
        order.index(("run.decision", rehearsal.id))
        < order.index(("golive.promote", None))
        < order.index(("run.start", live.id))
    )
    verified = cli("audit", "verify", "-w", str(ws.root))
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_report_renders_offline_in_chromium_with_its_charts(postgres, tmp_path):
    require_tool("chromium")
    paths, run = postgres["rehearsal_paths"], postgres["rehearsal"]
    assert paths["pdf"].read_bytes().startswith(b"%PDF") and paths["pdf"].stat().st_size > 10_000
    assert paths["html"] == postgres["ws"].reports_dir / run.id / "index.html"
    page = paths["html"].read_text(encoding="utf-8")
    assert '<div class="verdict-box go"><p class="verdict">GO</p>' in page
    assert "http://" not in page and "https://" not in page
    dom = browser.dump_dom(paths["html"])
    parked = any(s.counts.get("source_rows_parked") for s in run.steps)
    assert dom.count("<svg") == (2 if parked else 1)  # the Gantt chart (+ parked records)
    assert run.id in dom
    for step in run.steps:
        assert f">{step.seq}. {step.step}</text>" in dom
    assert _bars(dom, "gantt_actual") == _bars(dom, "gantt_planned") == len(run.steps)
    png = browser.screenshot(paths["html"], tmp_path / "report.png", width=1280, height=3000)
    _, _, pixels = _png_colours(png)
    # The passed steps' bars: thin, as they took seconds of an hour-long plan, and the legend.
    assert pixels[_rgb(charts.COLOURS["good"])] > 20
    assert pixels[_rgb(charts.COLOURS["filled"])] > 1000  # the planned durations behind them
    assert pixels[_rgb(charts.COLOURS["bad"])] == 0  # nothing failed
    if parked:
        assert pixels[_rgb(charts.COLOURS["bar"])] > 100  # the parked records chart


def test_the_target_password_is_written_nowhere(postgres):
    ws, secret = postgres["ws"], postgres["secret"]
    for run in (postgres["rehearsal"], postgres["live"]):
        assert_scanned_everything(ws, run.id)
        assert secret not in json.dumps(run.to_dict(), default=str)
    assert files_holding(ws.root, secret) == []
    assert "workbench.toml" in files_holding(ws.root, "env:WB_REH_PG_PASSWORD")  # its name only


# ---- b, c: a step that fails; a go-live without a passing rehearsal ----------------------


def write_failing_notebook(path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}  # fmt: skip
    parameters = nbformat.v4.new_code_cell(
        "workspace_dir = None\nrun_id = None\nrun_dir = None\nstep = None\n"
        'source = "demo_clinic"\nsnapshot = "rehearsal"'
    )
    parameters.metadata["tags"] = ["parameters"]
    nb.cells = [
        parameters,
        nbformat.v4.new_code_cell('print("profiling", snapshot)'),
        nbformat.v4.new_code_cell(f'raise RuntimeError("{FAILURE}")'),
        nbformat.v4.new_code_cell('print("never reached")'),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def failing_run(env, clinic, tmp_path_factory):
    """The built-in dress rehearsal as a workspace override whose profile step fails,
    started in the background through the CLI."""
    config = (
        dump_source(clinic[0])
        + '[targets.sandbox]\nkind = "duckdb"\npath = "state/targets/sandbox.duckdb"\n'
        + '[targets.production]\nkind = "duckdb"\npath = "state/targets/production.duckdb"\n'
        + '[environments]\nrehearsal = "sandbox"\ngo_live = "production"\n'
    )
    folder = tmp_path_factory.mktemp("failing")
    ws = make_workspace(folder / "ws", config)
    builtin = (BUILTIN_DIR / "dress-rehearsal.yaml").read_text(encoding="utf-8")
    assert builtin.count("notebook: 02_profile.ipynb") == 1
    override = ws.mappings_dir / "checklists" / "dress-rehearsal.yaml"
    override.parent.mkdir(parents=True)
    override.write_text(builtin.replace("02_profile.ipynb", "failing_profile.ipynb"))
    write_failing_notebook(ws.root / "notebooks" / "failing_profile.ipynb")
    run = Background(folder, "rehearse", *ACK_ARGS, "--no-pdf", "--json", "-w", str(ws.root))
    yield ws, run
    run.stop()


@pytest.fixture(scope="module")
def failing(failing_run):
    ws, background = failing_run
    done = background.result()
    assert done.returncode == 1, done.stderr[-3000:]  # a no-go
    result = json.loads(done.stdout)
    return ws, ledger.get_run(ws, result["run"]), {k: Path(v) for k, v in result["reports"].items()}


def test_a_failing_step_is_a_no_go_and_the_report_shows_the_failing_cell(failing):
    ws, run, paths = failing
    assert run.status == "failed"
    assert [(s.step, s.status) for s in run.steps][:5] == [
        ("prepare", "passed"),
        ("preflight", "passed"),
        ("acquire", "passed"),
        ("profile", "failed"),
        ("validate", "skipped"),
    ]
    assert all(s.status == "skipped" for s in run.steps[4:])
    error = run.step("profile").error
    assert error == (
        f'failing_profile.ipynb cell 3 (raise RuntimeError("{FAILURE}")): RuntimeError: {FAILURE}'
    )
    decision = run.decision
    assert decision["decision"] == "no-go"
    assert f"step profile failed: {error}" in decision["reasons"]
    assert "no migration job ran" in decision["reasons"]
    assert decision["signed_off_by"] is None  # the run stopped before the client's step
    page = paths["html"].read_text(encoding="utf-8")
    assert '<div class="verdict-box no-go"><p class="verdict">NO-GO</p>' in page
    assert html.escape(error) in page
    assert 'href="04-profile.html"' in page
    # The step's own page shows the failing cell's source above its error.
    step_page = (ws.root / run.step("profile").artefact).read_text(encoding="utf-8")
    text = html.unescape(re.sub(r"<[^>]+>", "", step_page))
    assert f'raise RuntimeError("{FAILURE}")' in text
    assert f"RuntimeError: {FAILURE}" in text
    assert "The step failed at this cell" in text
    assert "never reached" not in text
    failures = [e["details"] for e in actions(ws) if e["action"] == "run.step_failed"]
    assert [(f["run"], f["step"]) for f in failures] == [(run.id, "profile")]


def test_a_go_live_without_a_passing_rehearsal_is_refused_in_one_line(failing):
    ws, rehearsal, _ = failing
    before = ledger.list_runs(ws)
    refused = cli("go-live", "--ack", "client_signoff=clinic.sponsor", "-w", str(ws.root))
    assert refused.returncode == 1
    lines = [ln for ln in refused.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), refused.stderr
    assert "no dress rehearsal" in lines[0] and "ohm@v1" in lines[0]
    assert rehearsal.id in lines[0]  # the rehearsal it tried, with its no-go
    assert refused.stdout == ""
    assert [r.id for r in ledger.list_runs(ws)] == [r.id for r in before]  # nothing ran
    (entry,) = [e for e in actions(ws) if e["action"] == "golive.refused"]
    assert entry["outcome"] == "refused" and "no dress rehearsal" in entry["details"]["why"]
    assert entry["details"]["target"] == "production"
    assert not any(e["action"] == "golive.promote" for e in actions(ws))


def test_a_go_live_whose_template_was_never_published_is_refused_and_audited(env, tmp_path):
    root = tmp_path / "ws"
    workspace.init(root, name="unpublished")
    with (root / workspace.CONFIG_NAME).open("a") as f:
        f.write(USERS + '[environments]\nrehearsal = "sandbox"\ngo_live = "sandbox"\n')
    ws = workspace.load(root)
    with pytest.raises(WorkbenchError, match="ohm has no published version"):
        orchestrate.go_live(ws, auto_ack=GO_LIVE_ACKS)
    (entry,) = actions(ws)
    assert (entry["action"], entry["outcome"]) == ("golive.refused", "refused")
    assert ledger.list_runs(ws) == []


# ---- e: a live MariaDB source with a password -----------------------------------------------


@pytest.fixture(scope="module")
def mariadb_source(mariadb_url, env, tmp_path_factory):
    """The clinic in a scratch MariaDB database, readable by a user with a random password."""
    token = uuid.uuid4().hex[:10]
    db, user = f"wb_src_{token}", f"wb_reader_{token}"
    secret = f"s3cr3t-{uuid.uuid4()}-p@ss:w/rd%"
    admin = sa.create_engine(mariadb_url, isolation_level="AUTOCOMMIT")
    url = sa.make_url(mariadb_url)
    try:
        with admin.connect() as con:
            con.exec_driver_sql(f"CREATE DATABASE {db} CHARACTER SET utf8mb4")
            con.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (secret,))
            con.exec_driver_sql(f"GRANT SELECT, SHOW VIEW ON {db}.* TO '{user}'@'%%'")
        loader = url.set(database=db).render_as_string(hide_password=False)
        out = tmp_path_factory.mktemp("live-clinic")
        generate(style="ohm", people=PEOPLE, seed=SEED, fmt="database", url=loader, out=out)
        reader = url.set(username=user, password=None, database=db)
        yield reader.render_as_string(hide_password=False), secret
    finally:
        with admin.connect() as con:
            con.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'%%'")
            con.exec_driver_sql(f"DROP DATABASE IF EXISTS {db}")
        admin.dispose()


@pytest.fixture(scope="module")
def live_run(mariadb_source, tmp_path_factory):
    """A rehearsal from the live source, its password in the environment, started in the
    background through the CLI."""
    url, secret = mariadb_source
    config = (
        f'[sources.legacy_live]\nkind = "database"\nurl = "{url}"\n'
        'password = "env:WB_REH_SOURCE_PASSWORD"\n'
        '[environments]\nrehearsal = "sandbox"\ngo_live = "sandbox"\n'
    )
    folder = tmp_path_factory.mktemp("live")
    ws = make_workspace(folder / "ws", config)
    run_env = {**os.environ, "WB_REH_SOURCE_PASSWORD": secret}
    params = ["--param", "source=legacy_live", "--param", "snapshot=live-rehearsal"]
    args = ["rehearse", *params, *ACK_ARGS, "--no-pdf", "--json", "-w", str(ws.root)]
    run = Background(folder, *args, env=run_env)
    yield ws, run, secret
    run.stop()


def test_a_rehearsal_from_a_live_source_writes_its_password_nowhere(live_run):
    ws, background, secret = live_run
    done = background.result()
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["decision"]["decision"] == "go", result["decision"]["reasons"]
    run = ledger.get_run(ws, result["run"])
    # Parameters carry names, of the source and never of its secret's value.
    assert run.parameters == {
        "source": "legacy_live",
        "snapshot": "live-rehearsal",
        "template": "ohm@latest",
    }
    assert run.step("acquire").counts["rows"] > 0
    assert_scanned_everything(ws, run.id)
    assert list((ws.root / "state" / "targets").glob("*.duckdb"))
    for where, text in (("stdout", done.stdout), ("stderr", done.stderr)):
        assert not any(form in text.encode() for form in forms(secret)), where
    assert files_holding(ws.root, secret) == []
    assert "workbench.toml" in files_holding(ws.root, "env:WB_REH_SOURCE_PASSWORD")
