"""MS Access acquisition through mdbtools, from Access 97 to 2019 files."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import require_tool
from workbench import workspace as ws
from workbench.errors import SourceError
from workbench.snapshot import acquire, open_snapshot
from workbench.sources import open_source

ACCESS = Path(__file__).parent / "fixtures" / "access"
FILES = sorted(p.name for p in ACCESS.iterdir() if p.suffix in (".mdb", ".accdb"))


def take(workspace_dir: Path, path: Path, snapshot: str = "s"):
    with (workspace_dir / "workbench.toml").open("a") as f:
        f.write(f'\n[sources.legacy]\nkind = "access"\npath = {json.dumps(str(path))}\n')
    wsp = ws.load(workspace_dir)
    return acquire(open_source(wsp, "legacy"), wsp.snapshots_dir, snapshot)


def exported_records(path: Path) -> dict[str, int]:
    """Records per table, counted with csv over mdb-export's own output (binary as hex)."""
    names = subprocess.run(
        ["mdb-tables", "-1", str(path)], capture_output=True, text=True, check=True
    ).stdout.split("\n")
    counts = {}
    for table in filter(None, names):
        out = subprocess.run(
            ["mdb-export", "-b", "hex", str(path), table], capture_output=True, check=True
        ).stdout.decode("utf-8", errors="surrogateescape")
        counts[table] = sum(1 for row in csv.reader(io.StringIO(out, newline="")) if row) - 1
    return counts


def test_all_six_files_are_listed():
    assert len(FILES) == 6


@pytest.mark.parametrize("name", FILES)
def test_every_table_loads_every_exported_record(workspace_dir, name):
    require_tool("mdb-export")
    expected = exported_records(ACCESS / name)
    manifest = take(workspace_dir, ACCESS / name).manifest
    assert {t.name: t.rows for t in manifest.tables} == expected
    assert all(t.rejected == 0 and t.input_records == t.rows for t in manifest.tables)
    assert not any(t.name.startswith("MSys") for t in manifest.tables)


def test_declared_types_iso_dates_and_text(workspace_dir):
    require_tool("mdb-export")
    acquired = take(workspace_dir, ACCESS / "testV1997.mdb")
    table1 = acquired.manifest.table("Table1")
    declared = {c.name: c.declared_type for c in table1.columns}
    assert declared["A"] == "Text (50)" and declared["G"] == "DateTime"
    assert {c.type for c in table1.columns} == {"VARCHAR"}
    with open_snapshot(acquired.path.parent, "s").connect() as con:
        dates = con.execute('SELECT "G" FROM "Table1" ORDER BY "A"').fetchall()
    assert dates == [("1981-12-12 00:00:00",), ("1974-09-21 00:00:00",)]


def test_unicode_compressed_text(workspace_dir):
    require_tool("mdb-export")
    acquired = take(workspace_dir, ACCESS / "testUnicodeCompV2003.mdb")
    with open_snapshot(acquired.path.parent, "s").connect() as con:
        values = {v for (v,) in con.execute('SELECT "Unicode" FROM "Table"').fetchall()}
    assert {"ääkkösiä", "Мир"} <= values


def test_unexportable_column_type_is_reported(workspace_dir):
    require_tool("mdb-export")
    manifest = take(workspace_dir, ACCESS / "extDateTestV2019.accdb").manifest
    assert [(s["kind"], s["name"]) for s in manifest.skipped] == [
        ("column values", "Table1.DateExt")
    ]


@pytest.mark.parametrize("damage", ["random bytes", "truncated"])
def test_a_corrupt_file_fails_in_one_line(workspace_dir, tmp_path, damage):
    require_tool("mdb-export")
    path = tmp_path / "broken.mdb"
    original = (ACCESS / "testV1997.mdb").read_bytes()
    path.write_bytes(bytes(range(256)) * 64 if damage == "random bytes" else original[:40_000])
    with pytest.raises(SourceError) as err:
        take(workspace_dir, path)
    message = str(err.value)
    assert "\n" not in message and message.startswith("broken.mdb: ")
    assert not any((workspace_dir / "snapshots").iterdir())


def test_missing_mdbtools_is_a_clear_error(workspace_dir, monkeypatch, tmp_path):
    path = tmp_path / "copy.mdb"
    shutil.copy(ACCESS / "testV1997.mdb", path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(SourceError, match=r"^mdbtools is not installed"):
        take(workspace_dir, path)
