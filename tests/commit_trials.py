"""Shared by tests/test_jobs.py, tests/test_commit_kill.py and scripts/stress_commit.py: a
synthetic clinic in a temporary workspace, independent SQL on the target databases (the
drivers themselves, never the workbench's target code), and one SIGKILL commit trial.

A trial: a fresh prepared target, a job with small batches, ``workbench job commit J`` as a
subprocess, SIGKILL at a seeded random moment after the first batch marker is in the target,
``resume``, ``reconcile``; then the target must be balanced, hold no duplicate key, and hold
exactly what an uninterrupted commit of the same snapshot and template left in another fresh
target (content checksums without the ``_job_id``/``_batch`` lineage columns).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import sqlalchemy as sa

from workbench import workspace
from workbench.audit import AuditLog
from workbench.jobs import api
from workbench.jobs import job as jobs
from workbench.mapping import versions
from workbench.snapshot import acquire
from workbench.sources import from_config
from workbench.synth import generate
from workbench.target.prepare import prepare

WORKBENCH = str(Path(sys.executable).parent / "workbench")
MARKERS = "_workbench_batches"
SCHEMA_VERSION = "_workbench_model"  # when the schema was created: not loaded content
LINEAGE = ("_job_id", "_batch")  # differ between two jobs that load the same rows
ENGINEER, ONBOARDER = "analyst", "onboarder"
USERS = f'\n[users]\n{ENGINEER} = "migration_engineer"\n{ONBOARDER} = "onboarding"\n'
SNAPSHOT = "s1"


# -- targets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a job loads, as the test knows it (not as the workbench resolves it)."""

    name: str  # what a job names: a [targets.NAME] of workbench.toml, or "duckdb:PATH"
    kind: str  # duckdb | postgresql
    path: Path | None = None
    url: str | None = None
    schema: str | None = None

    @property
    def namespace(self) -> str:
        return self.schema or ("main" if self.kind == "duckdb" else "public")

    def toml(self) -> str:
        if self.kind == "duckdb":
            return f'\n[targets.{self.name}]\nkind = "duckdb"\npath = "{self.path}"\n'
        return (
            f'\n[targets.{self.name}]\nkind = "postgresql"\nurl = "{self.url}"\n'
            f'schema = "{self.schema}"\n'
        )


def duckdb_target(path: Path, name: str | None = None) -> Target:
    """A DuckDB file; without a name, the ad-hoc ``duckdb:PATH`` target (no config)."""
    return Target(name or f"duckdb:{path}", "duckdb", path=path)


def pg_target(name: str, url: str, schema: str | None = None) -> Target:
    return Target(name, "postgresql", url=url, schema=schema or random_schema())


def random_schema(prefix: str = "wb_test") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def pg_connect(url: str) -> psycopg.Connection:
    u = sa.make_url(url)
    return psycopg.connect(
        host=u.host or "localhost",
        port=u.port or 5432,
        dbname=u.database or "",
        user=u.username or "",
        autocommit=True,
    )


def drop_schemas(url: str, schemas: list[str]) -> None:
    with pg_connect(url) as con:
        for schema in schemas:
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class Raw:
    """Independent SQL on a target: duckdb or psycopg, never the workbench's target code.

    ``path`` reads another DuckDB file than the target's (a copy of it)."""

    def __init__(self, target: Target, *, path: Path | None = None, read_only: bool = False):
        self.kind = target.kind
        self.ns = target.namespace
        if self.kind == "duckdb":
            self.con: Any = duckdb.connect(str(path or target.path), read_only=read_only)
        else:
            self.con = pg_connect(target.url or "")

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def rows(self, sql: str, params: list | tuple = ()) -> list[tuple]:
        if self.kind == "postgresql":
            sql = sql.replace("?", "%s")
        return list(self.con.execute(sql, list(params) or None).fetchall())

    def q(self, table: str) -> str:
        return f'"{self.ns}"."{table}"'

    def tables(self) -> list[str]:
        catalog = " AND table_catalog = current_database()" if self.kind == "duckdb" else ""
        found = self.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
            f"AND table_type = 'BASE TABLE'{catalog} ORDER BY table_name",
            [self.ns],
        )
        return [r[0] for r in found]

    def columns(self, table: str) -> list[str]:
        catalog = " AND table_catalog = current_database()" if self.kind == "duckdb" else ""
        found = self.rows(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
            f"AND table_name = ?{catalog} ORDER BY ordinal_position",
            [self.ns, table],
        )
        return [r[0] for r in found]

    def count(self, table: str, where: str = "true", params: list | tuple = ()) -> int:
        return int(self.rows(f"SELECT count(*) FROM {self.q(table)} WHERE {where}", params)[0][0])

    def checksum(
        self, table: str, exclude: tuple[str, ...] = (), where: str = "true", params: list = ()
    ) -> tuple[int, str]:
        """(rows, md5 over the sorted md5s of every row's text): independent of row order."""
        text = "VARCHAR" if self.kind == "duckdb" else "text"
        cols = [c for c in self.columns(table) if c not in exclude]
        parts = ", ".join(f"coalesce(CAST(\"{c}\" AS {text}), '<null>')" for c in cols)
        row = f"md5(concat_ws(chr(31), {parts}))" if cols else "md5('')"
        found = self.rows(
            f"SELECT count(*), md5(coalesce(string_agg(h, ',' ORDER BY h), '')) "
            f"FROM (SELECT {row} AS h FROM {self.q(table)} WHERE {where}) r",
            params,
        )
        return int(found[0][0]), str(found[0][1])

    def checksums(
        self, exclude: tuple[str, ...] = (), skip: tuple[str, ...] = ()
    ) -> dict[str, tuple[int, str]]:
        """Every table of the schema (the batch markers too, unless skipped)."""
        return {t: self.checksum(t, exclude) for t in self.tables() if t not in skip}

    def content(self) -> dict[str, tuple[int, str]]:
        """What a job loaded, comparable across jobs: no lineage that names the job."""
        return self.checksums(exclude=LINEAGE, skip=(MARKERS, SCHEMA_VERSION))

    def lineage_tables(self) -> list[str]:
        return [t for t in self.tables() if "_job_id" in self.columns(t)]

    def job_counts(self, job_id: str) -> dict[str, int]:
        return {t: self.count(t, "_job_id = ?", [job_id]) for t in self.lineage_tables()}

    def job_checksums(self, job_id: str) -> dict[str, tuple[int, str]]:
        """The rows ``job_id`` loaded, per table, with all their columns."""
        return {
            t: self.checksum(t, where="_job_id = ?", params=[job_id]) for t in self.lineage_tables()
        }

    def markers(self, job_id: str) -> int:
        if MARKERS not in self.tables():
            return 0
        return self.count(MARKERS, "job_id = ?", [job_id])

    def primary_keys(self) -> dict[str, list[str]]:
        if self.kind == "duckdb":
            found = self.rows(
                "SELECT table_name, constraint_column_names FROM duckdb_constraints() "
                "WHERE constraint_type = 'PRIMARY KEY' AND schema_name = ? "
                "AND database_name = current_database()",
                [self.ns],
            )
            return {t: list(cols) for t, cols in found}
        found = self.rows(
            "SELECT tc.table_name, kcu.column_name FROM information_schema.table_constraints tc "
            "JOIN information_schema.key_column_usage kcu ON kcu.constraint_schema = "
            "tc.constraint_schema AND kcu.constraint_name = tc.constraint_name "
            "WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = ? "
            "ORDER BY tc.table_name, kcu.ordinal_position",
            [self.ns],
        )
        out: dict[str, list[str]] = {}
        for table, column in found:
            out.setdefault(table, []).append(column)
        return out

    def duplicate_keys(self) -> dict[str, int]:
        """Per table with a primary key: key values held by more than one row."""
        out = {}
        for table, cols in self.primary_keys().items():
            key = ", ".join(f'"{c}"' for c in cols)
            out[table] = int(
                self.rows(
                    f"SELECT count(*) FROM (SELECT {key} FROM {self.q(table)} "
                    f"GROUP BY {key} HAVING count(*) > 1) d"
                )[0][0]
            )
        return out


def checksums_of(target: Target, **kwargs: Any) -> dict[str, tuple[int, str]]:
    with Raw(target) as raw:
        return raw.checksums(**kwargs)


def content_of(target: Target) -> dict[str, tuple[int, str]]:
    with Raw(target) as raw:
        return raw.content()


# -- the synthetic clinic ---------------------------------------------------------------------


@dataclass
class Clinic:
    root: Path
    ws: workspace.Workspace
    truth: dict  # the generator's synth-manifest.json
    snapshot: str = SNAPSHOT
    template: str = "ohm@v1"
    schemas: list[str] = field(default_factory=list)  # PostgreSQL schemas in use: drop them

    def reload(self) -> workspace.Workspace:
        self.ws = workspace.load(self.ws.root)
        return self.ws

    def add_target(self, target: Target) -> Target:
        """Add a [targets.NAME] to workbench.toml (an ad-hoc duckdb: target needs none); a
        PostgreSQL schema is remembered, to be dropped."""
        if not target.name.startswith("duckdb:"):
            with (self.ws.root / workspace.CONFIG_NAME).open("a") as f:
                f.write(target.toml())
            self.reload()
        if target.kind == "postgresql" and target.schema:
            self.schemas.append(target.schema)
        return target


def make_clinic(root: Path, *, people: int, seed: int, targets: list[Target] = ()) -> Clinic:
    """Generate an OHM clinic (default dirt), acquire it as a snapshot into a new workspace
    with [users] (analyst is the default user) and ``targets``, and publish ``ohm@v1``."""
    import json

    data = root / "data"
    generate(style="ohm", people=people, seed=seed, fmt="mysqldump", out=data)
    truth = json.loads((data / "synth-manifest.json").read_text())
    ws = workspace.init(root / "ws", name="jobs-test-clinic")
    config = ws.root / workspace.CONFIG_NAME
    text = config.read_text()
    default_user = f'\\g<0>\ndefault_user = "{ENGINEER}"'
    text = re.sub(r"(?m)^min_cell_count = 5$", default_user, text, count=1)
    assert f'default_user = "{ENGINEER}"' in text, "the [workspace] table moved"
    config.write_text(text + USERS + "".join(t.toml() for t in targets))
    ws = workspace.load(ws.root)
    source = from_config("clinic", {"kind": "mysqldump", "path": str(data / "ohm.sql")}, ws)
    acquire(source, ws.snapshots_dir, SNAPSHOT)
    versions.publish(ws, "template", "ohm")
    return Clinic(root, ws, truth)


def cli_env(user: str = ENGINEER) -> dict[str, str]:
    return {**os.environ, "WORKBENCH_USER": user}


# -- an uninterrupted commit, the reference ---------------------------------------------------


@dataclass
class Reference:
    job_id: str
    content: dict[str, tuple[int, str]]
    batches: int
    load_seconds: float  # first to last batch marker, from the markers' own timestamps


def uninterrupted(clinic: Clinic, target: Target, batch_size: int) -> Reference:
    ws = clinic.ws
    prepare(ws, target.name)
    job = api.create(ws, clinic.snapshot, clinic.template, target.name, batch_size=batch_size)
    result = api.commit(ws, job.id)
    assert not result.paused and jobs.get(ws, job.id).status == "committed"
    with Raw(target) as raw:
        (seconds,) = raw.rows(
            f"SELECT extract(epoch FROM max(committed_at) - min(committed_at)) "
            f"FROM {raw.q(MARKERS)} WHERE job_id = ?",
            [job.id],
        )[0]
        return Reference(job.id, raw.content(), raw.markers(job.id), float(seconds or 0))


# -- one SIGKILL trial ------------------------------------------------------------------------


class TrialError(AssertionError):
    """The trial could not do what it set out to (not a finding about the workbench)."""


@dataclass
class Trial:
    seed: int
    target: str
    kind: str
    job_id: str = ""
    aim: int = 0  # kill once this many batch markers are seen ...
    jitter: float = 0.0  # ... and this many seconds later
    seen: int = 0  # markers seen when the jitter started
    batches_at_kill: int = 0  # markers in the target after the kill
    batches: int = 0
    status_at_kill: str = ""
    skipped: int = 0
    balanced: bool = False
    discrepancies: list[str] = field(default_factory=list)
    duplicate_keys: dict[str, int] = field(default_factory=dict)
    content: dict[str, tuple[int, str]] = field(default_factory=dict)
    mismatched: list[str] = field(default_factory=list)
    audit_ok: bool = False
    seconds: float = 0.0

    @property
    def kill_point(self) -> str:
        of = f" of {self.batches}" if self.batches else ""
        return (
            f"seed {self.seed} on {self.kind}: SIGKILL {self.jitter * 1000:.0f} ms after "
            f"{self.seen} batch markers were seen (aimed at {self.aim}); "
            f"{self.batches_at_kill}{of} batches committed, job {self.job_id} {self.status_at_kill}"
        )

    @property
    def passed(self) -> bool:
        return (
            self.balanced
            and not any(self.duplicate_keys.values())
            and not self.mismatched
            and self.audit_ok
            and self.skipped == self.batches_at_kill
        )

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        problems = []
        if not self.balanced:
            problems.append(f"unbalanced: {self.discrepancies[:3]}")
        if any(self.duplicate_keys.values()):
            problems.append(f"duplicate keys: {self.duplicate_keys}")
        if self.mismatched:
            problems.append(f"content differs in {self.mismatched}")
        if not self.audit_ok:
            problems.append("audit log fails verification")
        if self.skipped != self.batches_at_kill:
            problems.append(f"resume skipped {self.skipped} batches")
        tail = f" ({'; '.join(problems)})" if problems else ""
        return f"{verdict} {self.kill_point}; {self.seconds:.1f}s{tail}"


def _markers_duckdb(target: Target, job_id: str, scratch: Path) -> int:
    """DuckDB lets no other process open a file that a writer holds, even read-only: read a
    copy of the file and its WAL (a batch's commit is what writes the WAL)."""
    wal = Path(f"{target.path}.wal")
    if not wal.exists():
        return 0
    copy = scratch / "probe.duckdb"
    try:
        shutil.copyfile(target.path, copy)
        shutil.copyfile(wal, f"{copy}.wal")
        with Raw(target, path=copy, read_only=True) as raw:
            return raw.markers(job_id)
    except (OSError, duckdb.Error):
        return 0  # caught mid-checkpoint: look again


def _wait_for_markers(
    target: Target, job_id: str, proc: subprocess.Popen, at_least: int, scratch: Path
) -> int:
    """Poll the target's batch markers until ``at_least`` are in; 0 if the process ended."""
    raw = Raw(target) if target.kind == "postgresql" else None
    try:
        while proc.poll() is None:
            n = raw.markers(job_id) if raw else _markers_duckdb(target, job_id, scratch)
            if n >= at_least:
                return n
            time.sleep(0.005)
        return 0
    finally:
        if raw:
            raw.close()


def run_trial(
    clinic: Clinic,
    target: Target,
    reference: Reference,
    *,
    seed: int,
    batch_size: int,
    log: Callable[[str], None] = print,
    timeout: float = 300.0,
) -> Trial:
    """Prepare ``target`` (fresh), commit in a subprocess, SIGKILL it at a seeded random
    moment after the first batch marker, resume, reconcile, and compare with ``reference``."""
    started = time.monotonic()
    rng = random.Random(seed)
    # A random batch, then a random part of a batch's time: between two batches or inside
    # one. Not in the last 40%: polling a DuckDB file (through a copy) lags up to 15 batches
    # behind, and the kill must beat the end of the commit.
    aim = rng.randint(1, max(1, int(0.6 * reference.batches)))
    jitter = rng.uniform(0.0, reference.load_seconds / max(1, reference.batches - 1))
    trial = Trial(seed, target.name, target.kind, aim=aim, jitter=jitter)
    ws = clinic.ws
    prepare(ws, target.name)
    job = api.create(ws, clinic.snapshot, clinic.template, target.name, batch_size=batch_size)
    trial.job_id = job.id
    with tempfile.TemporaryDirectory(prefix="wb-kill-") as tmp:
        scratch = Path(tmp)
        out = (scratch / "commit.out").open("wb")
        proc = subprocess.Popen(
            [WORKBENCH, "job", "commit", job.id, "-w", str(ws.root)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=cli_env(),
        )
        try:
            trial.seen = _wait_for_markers(target, job.id, proc, aim, scratch)
            if not trial.seen:
                proc.wait(timeout=timeout)
                raise TrialError(
                    f"seed {seed}: the commit ended ({proc.returncode}) before {aim} batch "
                    f"markers were seen: {(scratch / 'commit.out').read_text()[-2000:]}"
                )
            time.sleep(jitter)
            if proc.poll() is not None:
                raise TrialError(
                    f"seed {seed}: the commit finished before the kill; use more batches"
                )
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            out.close()
    with Raw(target) as raw:
        trial.batches_at_kill = raw.markers(job.id)
    trial.status_at_kill = jobs.get(ws, job.id).status
    log(f"kill point: {trial.kill_point}")

    result = api.resume(ws, job.id)
    trial.batches, trial.skipped = result.batches, result.skipped
    if result.paused:
        raise TrialError(f"seed {seed}: the resumed commit paused")
    rec, _ = api.reconcile(ws, job.id)
    trial.balanced, trial.discrepancies = rec.balanced, list(rec.discrepancies)
    with Raw(target) as raw:
        trial.duplicate_keys = raw.duplicate_keys()
        trial.content = raw.content()
    trial.mismatched = sorted(
        t
        for t in set(trial.content) | set(reference.content)
        if trial.content.get(t) != reference.content.get(t)
    )
    trial.audit_ok = AuditLog(ws).verify().ok
    trial.seconds = time.monotonic() - started
    log(trial.summary())
    return trial
