"""Write the built-in crosswalks (mappings/crosswalks/*.csv) from the synthetic clinic's code
tables, so the shipped CSVs can always be regenerated from one source of truth.

    .venv/bin/python scripts/make_crosswalks.py [OUT_DIR]

Local codes with no standard code are left out on purpose: they are what coverage reports
list as unmapped and what ``workbench crosswalk suggest`` works on.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from workbench.mapping.crosswalk import CrosswalkEntry, write_crosswalk
from workbench.synth import codes

# One neutral name: both legacy styles (OHM and Medgate) share these local codes.
SOURCE_SYSTEM = "legacy-local"
SYSTEMS = {"CVX": "http://hl7.org/fhir/sid/cvx", "LOINC": "http://loinc.org"}
REVIEWER = "workbench"
REVIEWED = "2026-11-21"
# HEPB-1, HEPA-2, RAB-1: a local code per dose maps to the one standard code for the vaccine.
DOSE_SPECIFIC = re.compile(r"-\d+$")


def entries(name: str) -> list[CrosswalkEntry]:
    table = codes.crosswalk_tables()[name]
    return [
        CrosswalkEntry(
            source_system=SOURCE_SYSTEM,
            source_code=code,
            source_display=info["name"],
            target_system=SYSTEMS[table["system"]],
            target_code=info["standard"],
            target_display=info["standard_name"],
            equivalence="wider" if DOSE_SPECIFIC.search(code) else "equivalent",
            status="approved",
            reviewer=REVIEWER,
            date=REVIEWED,
        )
        for code, info in table["codes"].items()
        if info["standard"] is not None
    ]


def main(out_dir: Path) -> None:
    for name in codes.CROSSWALKS:
        path = write_crosswalk(entries(name), out_dir / f"{name}.csv")
        print(path)


if __name__ == "__main__":
    default = Path(__file__).resolve().parent.parent / "mappings" / "crosswalks"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
