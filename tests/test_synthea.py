"""A realistic clinical export: Synthea's 27-patient CSV folder, acquired as one source."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from workbench import workspace as ws
from workbench.snapshot import acquire, open_snapshot
from workbench.sources import open_source

SYNTHEA = Path(__file__).parent / "fixtures" / "synthea27"


def csv_records(path: Path) -> int:
    with path.open(encoding="utf-8", newline="") as f:
        return sum(1 for row in csv.reader(f) if row) - 1  # less the header


def test_synthea_folder_loads_every_record(workspace_dir):
    with (workspace_dir / "workbench.toml").open("a") as f:
        f.write(f'\n[sources.synthea]\nkind = "csv"\npath = {json.dumps(str(SYNTHEA))}\n')
    wsp = ws.load(workspace_dir)
    manifest = acquire(open_source(wsp, "synthea"), wsp.snapshots_dir, "synthea-1").manifest

    files = sorted(SYNTHEA.glob("*.csv"))
    assert sorted(t.name for t in manifest.tables) == [f.stem for f in files]
    for f in files:
        table = manifest.table(f.stem)
        assert (table.rows, table.rejected) == (csv_records(f), 0), f.name
        assert table.input_records == table.rows
    assert manifest.rejected == 0
    assert [s["file"] for s in manifest.skipped] == ["LICENSE"]  # reported, not read

    with open_snapshot(wsp.snapshots_dir, "synthea-1").connect() as con:
        # raw text: identifiers and codes keep their exact spelling, nothing is typed
        first = con.execute("SELECT * FROM patients LIMIT 1").fetchone()
        header = next(csv.reader((SYNTHEA / "patients.csv").open(encoding="utf-8")))
        assert [d[0] for d in con.description] == header
        row = next(
            r
            for r in csv.reader((SYNTHEA / "patients.csv").open(encoding="utf-8"))
            if r[0] == first[0]
        )
        assert [v or None for v in row] == list(first)
