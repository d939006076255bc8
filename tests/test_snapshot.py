"""The acquisition contract, exercised through a minimal source plug-in."""

import json

import duckdb
import pytest

from workbench.errors import SnapshotError, SourceError
from workbench.snapshot import acquire, list_snapshots, open_snapshot
from workbench.sources.base import Source


class RowsSource(Source):
    """Loads the given rows, in the given order, into one table."""

    kind = "test-rows"

    def __init__(self, rows, fail=False, claim=None):
        super().__init__("rows", {}, root=None)
        self.rows, self.fail, self.claim = rows, fail, claim

    def load(self, staging, progress=None):
        staging.con.execute("CREATE TABLE people (id INTEGER, name VARCHAR)")
        staging.con.executemany("INSERT INTO people VALUES (?, ?)", self.rows)
        staging.declare_columns("people", [("id", "int(11)"), ("name", "varchar(40)")])
        staging.record_input("people", "people.txt", self.claim or len(self.rows))
        if self.fail:
            raise SourceError("people.txt: line 3: broken on purpose")


ROWS = [(1, "Ann"), (2, "Bo"), (3, None)]


def test_acquire_writes_manifest_and_seals(tmp_path):
    result = acquire(RowsSource(ROWS), tmp_path, "s1")
    assert result.created
    m = result.manifest
    assert m.table("people").rows == 3
    assert [c.declared_type for c in m.table("people").columns] == ["int(11)", "varchar(40)"]
    on_disk = json.loads((tmp_path / "s1" / "manifest.json").read_text())
    assert on_disk["fingerprint"] == m.fingerprint and on_disk["rows"] == 3
    assert oct((tmp_path / "s1" / "staging.duckdb").stat().st_mode)[-3:] == "444"
    snap = open_snapshot(tmp_path, "s1")
    assert snap.verify()
    with snap.connect() as con:
        assert con.execute("SELECT count(*) FROM people").fetchone()[0] == 3
        with pytest.raises(duckdb.Error):
            con.execute("DELETE FROM people")
    assert [s.name for s in list_snapshots(tmp_path)] == ["s1"]


def test_fingerprint_is_content_only_and_order_independent(tmp_path):
    a = acquire(RowsSource(ROWS), tmp_path, "a").manifest
    b = acquire(RowsSource(list(reversed(ROWS))), tmp_path, "b").manifest
    c = acquire(RowsSource([*ROWS, (3, None)]), tmp_path, "c").manifest
    assert a.fingerprint == b.fingerprint
    assert a.fingerprint != c.fingerprint  # a duplicate row changes the content


def test_reacquire_is_idempotent_and_different_content_is_refused(tmp_path):
    first = acquire(RowsSource(ROWS), tmp_path, "s")
    again = acquire(RowsSource(ROWS), tmp_path, "s")
    assert not again.created and again.manifest.fingerprint == first.manifest.fingerprint
    with pytest.raises(SnapshotError, match="immutable"):
        acquire(RowsSource([(9, "Zed")]), tmp_path, "s")
    assert open_snapshot(tmp_path, "s").manifest.rows == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]  # no partial directories left


def test_failed_load_leaves_nothing_behind(tmp_path):
    with pytest.raises(SourceError, match="line 3"):
        acquire(RowsSource(ROWS, fail=True), tmp_path, "broken")
    assert list(tmp_path.iterdir()) == []


def test_unbalanced_counts_are_refused(tmp_path):
    with pytest.raises(SnapshotError, match="3 loaded \\+ 0 rejected != 5 records read"):
        acquire(RowsSource(ROWS, claim=5), tmp_path, "u")
    assert list(tmp_path.iterdir()) == []


def test_tampering_is_detected(tmp_path):
    acquire(RowsSource(ROWS), tmp_path, "t")
    path = tmp_path / "t" / "staging.duckdb"
    path.chmod(0o644)
    with path.open("r+b") as f:
        f.seek(100)
        f.write(b"\x00tampered")
    assert not open_snapshot(tmp_path, "t").verify()


@pytest.mark.parametrize("name", ["../escape", "", "a/b", ".hidden"])
def test_bad_snapshot_names(tmp_path, name):
    with pytest.raises(SnapshotError, match="snapshot name"):
        acquire(RowsSource(ROWS), tmp_path, name)


class RejectingSource(RowsSource):
    def load(self, staging, progress=None):
        super().load(staging, progress)
        staging.add_rejects(
            "people",
            "people.txt",
            [(7, "too many fields", "4,Di,x"), (9, "too many fields", "5,Ed,y")],
        )
        staging.record_input("people", "people.txt", 2)


def test_views_for_notebooks(tmp_path):
    acquire(RejectingSource(ROWS), tmp_path, "r")
    snap = open_snapshot(tmp_path, "r")
    assert snap.tables_frame().to_dicts() == [
        {"table": "people", "rows": 3, "columns": 2, "rejected": 2, "records_read": 5}
    ]
    assert snap.rejects_summary().to_dicts() == [
        {
            "table_name": "people",
            "file": "people.txt",
            "reason": "too many fields",
            "records": 2,
            "first_line": 7,
        }
    ]
