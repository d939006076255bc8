"""`workbench demo`, the README's main job, on a small clinic in a fresh workspace."""

import json
import subprocess
import sys
from pathlib import Path

import openpyxl

WORKBENCH = str(Path(sys.executable).parent / "workbench")


def test_demo_takes_a_snapshot_and_writes_the_map(workspace_dir):
    args = [WORKBENCH, "demo", "--people", "60", "--seed", "3", "-w", str(workspace_dir)]
    first = subprocess.run([*args, "--json"], capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    truth = json.loads((workspace_dir / "data" / "demo" / "synth-manifest.json").read_text())
    assert result["snapshot"]["rows"] == truth["total_rows"]
    assert {t["name"]: t["rows"] for t in result["snapshot"]["tables"]} == {
        name: t["rows"] for name, t in truth["tables"].items()
    }
    book = openpyxl.load_workbook(result["map"]["data-migration-map.xlsx"], read_only=True)
    assert book.sheetnames[:2] == ["Field Overview", "Table Overview"]
    assert Path(result["map"]["data-migration-map.html"]).stat().st_size > 10_000
    # Running it again regenerates identical input: the snapshot is reported unchanged.
    again = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "unchanged" in again.stdout
