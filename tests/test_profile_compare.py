"""Drift between two snapshots of one source, through the library and the CLI, and the
``workbench profile`` command end to end."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import workspace
from workbench.profile.compare import Thresholds, compare_profiles, compare_snapshots
from workbench.profile.engine import profile_snapshot
from workbench.profile.store import read_profile
from workbench.snapshot import acquire, open_snapshot
from workbench.sources import open_source

WORKBENCH = str(Path(sys.executable).parent / "workbench")


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def rehearsal(data: Path) -> None:
    """The first export: three tables."""
    write_csv(
        data / "patients.csv",
        ["id", "sex", "status"],
        [[i, "MF"[i % 2], "A" if i % 10 else ""] for i in range(1, 201)],
    )
    write_csv(
        data / "visits.csv",
        ["id", "patient_id", "weight"],
        [[i, i % 200 + 1, 70] for i in range(1, 501)],
    )
    write_csv(data / "legacy_notes.csv", ["id", "text"], [[i, f"note {i}"] for i in range(1, 31)])


def go_live(data: Path) -> None:
    """The second export of the same source: a column added, a table gone, emptier status,
    more visits, and weights that became text."""
    write_csv(
        data / "patients.csv",
        ["id", "sex", "status", "email"],
        [[i, "MF"[i % 2], "A" if i % 2 else "", f"p{i}@x.org"] for i in range(1, 201)],
    )
    write_csv(
        data / "visits.csv",
        ["id", "patient_id", "weight"],
        [[i, i % 200 + 1, "70 kg"] for i in range(1, 601)],
    )
    (data / "legacy_notes.csv").unlink()


@pytest.fixture(scope="module")
def snapshots(tmp_path_factory):
    root = tmp_path_factory.mktemp("drift")
    data = root / "ws" / "data" / "export"
    wsp = workspace.init(root / "ws")
    data.mkdir(parents=True)
    with (root / "ws" / "workbench.toml").open("a") as f:
        f.write('\n[sources.clinic]\nkind = "csv"\npath = "data/export"\n')
    wsp = workspace.load(root / "ws")
    rehearsal(data)
    acquire(open_source(wsp, "clinic"), wsp.snapshots_dir, "rehearsal")
    go_live(data)
    acquire(open_source(wsp, "clinic"), wsp.snapshots_dir, "go-live")
    return wsp


def test_drift_shows_shape_changes_and_moves(snapshots):
    wsp = snapshots
    a = profile_snapshot(open_snapshot(wsp.snapshots_dir, "rehearsal"))
    b = profile_snapshot(open_snapshot(wsp.snapshots_dir, "go-live"))
    drift = compare_profiles(a, b)
    assert (drift.before, drift.after) == ("rehearsal", "go-live")
    assert drift.tables_added == [] and drift.tables_removed == ["legacy_notes"]
    assert drift.columns_added == [("patients", "email")] and drift.columns_removed == []
    changes = {(c.table, c.column, c.kind): (c.before, c.after) for c in drift.type_changes}
    assert changes == {("visits", "weight", "inferred_type"): ("integer", "code")}
    [rows] = drift.row_changes
    assert (rows.table, rows.before, rows.after, rows.flagged) == ("visits", 500, 600, True)
    assert rows.change == pytest.approx(0.2)
    [moved] = drift.null_rate_changes
    assert (moved.table, moved.column) == ("patients", "status")
    assert (moved.before, moved.after) == (pytest.approx(0.1), pytest.approx(0.5))
    assert drift.drifted
    # Raise the thresholds and the moves are no longer flagged; shape changes remain.
    lenient = compare_profiles(a, b, Thresholds(row_change=0.5, null_rate_change=0.5))
    assert not lenient.null_rate_changes and not lenient.row_changes[0].flagged
    assert lenient.drifted
    assert not compare_profiles(a, a).drifted


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([WORKBENCH, *args], capture_output=True, text=True, timeout=300)


def test_cli_profiles_writes_reports_and_compares(snapshots):
    wsp = snapshots
    root = str(wsp.root)
    done = run("profile", "rehearsal", "-w", root, "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    path = Path(summary["outputs"]["profile.json"])
    assert path == wsp.reports_dir / "rehearsal" / "profile.json"
    stored = read_profile(path)
    assert stored.snapshot == "rehearsal" and stored.policy.min_cell_count == 5
    assert summary["tables"] == 3 and summary["columns"] == 8
    for name in ("data-migration-map.xlsx", "data-migration-map.html"):
        written = summary["outputs"][name]
        assert written is None or Path(written).is_file()

    shown = run("profile", "rehearsal", "-w", root, "--json", "--min-cell-count", "0",
                "--show-identifiers", "--out", str(wsp.root / "internal"))  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    assert read_profile(wsp.root / "internal" / "profile.json").policy.min_cell_count == 0

    compared = run("profile", "--compare", "rehearsal", "go-live", "-w", root, "--json")
    assert compared.returncode == 0, compared.stderr
    drift = json.loads(compared.stdout)
    assert drift["tables_removed"] == ["legacy_notes"]
    assert drift["columns_added"] == [["patients", "email"]]
    assert [n["column"] for n in drift["null_rate_changes"]] == ["status"]
    table = run("profile", "--compare", "rehearsal", "go-live", "-w", root)
    assert (
        table.returncode == 0 and "table removed" in table.stdout and "legacy_notes" in table.stdout
    )


def test_compare_reuses_a_stored_profile_of_the_same_snapshot(snapshots):
    wsp = snapshots
    a, b = (open_snapshot(wsp.snapshots_dir, n) for n in ("rehearsal", "go-live"))
    drift = compare_snapshots(a, b, wsp.reports_dir)
    assert drift.tables_removed == ["legacy_notes"]


def test_cli_errors_are_one_line(snapshots):
    root = str(snapshots.root)
    for args in (
        ("profile", "-w", root),
        ("profile", "missing", "-w", root),
        ("profile", "rehearsal", "--compare", "rehearsal", "go-live", "-w", root),
        ("profile", "--compare", "rehearsal", "missing", "-w", root),
    ):
        result = run(*args)
        assert result.returncode == 1, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), (args, result.stderr)
