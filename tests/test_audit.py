"""The audit log: a hash chain that reveals edits, insertions, deletions and truncation."""

import csv
import itertools
import json
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from workbench import state, workspace
from workbench.audit import GENESIS, AuditLog, canonical, entry_hash
from workbench.errors import AuditError
from workbench.roles import Actor

USERS = '\n[users]\nanalyst = "migration_engineer"\nonboarder = "onboarding"\n'
ANALYST = Actor("analyst", "migration_engineer")


def make_workspace(root: Path) -> workspace.Workspace:
    workspace.init(root, name="test-clinic")
    with (root / workspace.CONFIG_NAME).open("a") as f:
        f.write(USERS)
    return workspace.load(root)


@pytest.fixture
def ws(tmp_path):
    return make_workspace(tmp_path / "ws")


@pytest.fixture
def log(ws):
    """A log of five entries."""
    log = AuditLog(ws)
    template = {"ref": "clinic@v1", "version": "v1", "sha256": "ab" * 32}
    for i in range(5):
        log.append(
            "publish" if i % 2 else "run",
            actor=ANALYST,
            job=f"job-{i}",
            template=template,
            snapshot={"name": "s1", "fingerprint": "cd" * 32},
            counts={"loaded": i, "parked": 0},
            details={"note": f"entry {i}"},
        )
    return log


def lines(log) -> list[bytes]:
    return log.path.read_bytes().splitlines(keepends=True)


def rewrite(log, new_lines) -> None:
    log.path.write_bytes(b"".join(new_lines))


def test_state_database_is_migrated_once(ws):
    with state.connection(ws) as con:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        versions = con.execute("SELECT version FROM schema_version").fetchall()
    with state.connection(ws) as con:
        assert con.execute("SELECT version FROM schema_version").fetchall() == versions
    assert [v for (v,) in versions] == list(range(1, len(state.MIGRATIONS) + 1))
    assert (ws.root / "state" / "state.sqlite").is_file()


def test_entries_are_chained_and_hashed(log):
    entries = list(log.entries())
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0]["prev"] == GENESIS
    for before, after in itertools.pairwise(entries):
        assert after["prev"] == before["hash"]
    for e in entries:
        assert e["hash"] == entry_hash(e)
        assert e["at"].endswith("+00:00") and "." in e["at"]  # UTC, microseconds
    assert entries[2]["user"] == "analyst" and entries[2]["outcome"] == "ok"
    head = sqlite3.connect(log.path.parent / "state.sqlite").execute(
        "SELECT seq, hash FROM audit_head"
    )
    assert head.fetchone() == (5, entries[-1]["hash"])


def test_clean_log_verifies(log):
    result = log.verify()
    assert (result.ok, result.entries, result.problems) == (True, 5, [])


def test_empty_workspace_verifies(ws):
    assert AuditLog(ws).verify().ok


def test_a_flipped_byte_is_found(log):
    content = lines(log)
    at = content[1].index(b'"note":"entry 1"') + len(b'"note":"')
    content[1] = content[1][:at] + bytes([content[1][at] ^ 0x01]) + content[1][at + 1 :]
    rewrite(log, content)
    result = log.verify()
    assert not result.ok
    assert result.problems[0].startswith("state/audit.jsonl:2: entry 2 was edited")


def test_a_deleted_middle_line_is_found(log):
    content = lines(log)
    del content[2]
    rewrite(log, content)
    problems = log.verify().problems
    assert len(problems) == 1
    assert problems[0].startswith("state/audit.jsonl:3: seq 4 where 3 was expected")


def test_an_inserted_line_with_its_own_valid_hash_is_found(log):
    content = lines(log)
    second = json.loads(content[1])
    forged = {**second, "seq": 3, "prev": second["hash"], "details": {"note": "forged"}}
    forged["hash"] = entry_hash(forged)
    content.insert(2, (canonical(forged) + "\n").encode())
    rewrite(log, content)
    problems = log.verify().problems
    assert problems and problems[0].startswith("state/audit.jsonl:4: seq 3 where 4 was expected")


def test_a_truncated_tail_is_found(log):
    rewrite(log, lines(log)[:-1])
    problems = log.verify().problems
    assert problems == [
        "state/audit.jsonl:5: state.sqlite records 5 entries but the log has 4 lines: "
        "the tail was truncated"
    ]
    with pytest.raises(AuditError, match="truncated, replaced or deleted"):
        log.append("run", actor=ANALYST)  # appending would hide the loss


def test_a_deleted_log_is_found(log):
    log.path.unlink()
    problems = log.verify().problems
    assert len(problems) == 1 and problems[0].startswith("state/audit.jsonl:1: ")
    assert "the log is missing" in problems[0]


def test_a_line_that_is_not_json_is_found(log):
    content = lines(log)
    content[3] = b"this is not json\n"
    rewrite(log, content)
    problems = log.verify().problems
    assert problems[0].startswith("state/audit.jsonl:4: not a JSON audit entry")


def test_outcome_must_be_known(ws):
    with pytest.raises(ValueError):
        AuditLog(ws).append("run", actor=ANALYST, outcome="maybe")


def _append_many(root: str, worker: int, count: int) -> None:
    log = AuditLog(workspace.load(Path(root)))
    for i in range(count):
        log.append("run", actor=Actor(f"user{worker}", "onboarding"), counts={"i": i})


def test_concurrent_appends_from_four_processes(ws):
    context = multiprocessing.get_context("spawn")  # independent processes, no shared state
    workers = [context.Process(target=_append_many, args=(str(ws.root), w, 25)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
        assert p.exitcode == 0
    result = AuditLog(ws).verify()
    assert (result.ok, result.entries) == (True, 100), result.problems
    assert [e["seq"] for e in AuditLog(ws).entries()] == list(range(1, 101))


def test_export_csv_and_jsonl(log, tmp_path):
    expected = len(log.path.read_text().splitlines())
    assert log.export("jsonl", tmp_path / "a.jsonl") == expected
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == expected
    assert log.export("csv", tmp_path / "a.csv") == expected
    with (tmp_path / "a.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == expected
    assert json.loads(rows[0]["template"])["ref"] == "clinic@v1"
    assert rows[0]["seq"] == "1" and rows[0]["user"] == "analyst"
    with pytest.raises(AuditError, match="export format 'xml'"):
        log.export("xml", tmp_path / "a.xml")


def test_cli_verify_export_show(log):
    from workbench.cli import app  # here: the spawned workers above need not import the CLI

    runner = CliRunner()
    where = ["-w", str(log.ws.root)]
    verified = runner.invoke(app, ["audit", "verify", *where])
    assert verified.exit_code == 0 and "5 entries" in verified.stdout
    exported = runner.invoke(app, ["audit", "export", "--format", "jsonl", *where])
    assert len(exported.stdout.splitlines()) == 5
    exported = runner.invoke(app, ["audit", "export", "--format", "csv", *where])
    assert len(list(csv.reader(exported.stdout.splitlines()))) == 6  # with the header
    shown = runner.invoke(app, ["audit", "show", "--last", "2", "--json", *where])
    assert [e["seq"] for e in json.loads(shown.stdout)] == [4, 5]

    rewrite(log, lines(log)[:-1])
    broken = runner.invoke(app, ["audit", "verify", *where])
    assert broken.exit_code == 1
    assert "state/audit.jsonl:5:" in broken.stdout
