"""The ground-truth manifest, ``synth-manifest.json``, written next to the output.

It holds what was asked (style, seed, people, parameters), what came out (rows per table,
files with their checksums), and exactly what dirt went in, so that every later stage can be
checked against it. It has no timestamps: the same parameters give the same manifest.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench import __version__
from workbench.errors import SynthError
from workbench.synth import codes
from workbench.synth.ledger import Ledger
from workbench.synth.people import AS_OF, SYSTEM_START
from workbench.synth.plan import Plan
from workbench.synth.writers.base import MANIFEST_NAME

KIND = "workbench-synth-manifest"
VERSION = 1


@dataclass
class SynthManifest:
    style: str
    title: str
    seed: int
    people: int
    format: str
    parameters: dict[str, Any]
    tool: dict[str, str]
    tables: dict[str, dict[str, Any]]
    dirt: dict[str, Any]
    crosswalks: dict[str, Any]
    expected: dict[str, Any]
    files: list[dict[str, Any]] = field(default_factory=list)
    target: dict[str, Any] | None = None

    @property
    def rows(self) -> dict[str, int]:
        return {name: t["rows"] for name, t in self.tables.items()}

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def people_table(self) -> str:
        return next(name for name, t in self.tables.items() if t.get("people"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": KIND,
            "manifest_version": VERSION,
            **asdict(self),
            "total_rows": self.total_rows,
        }

    def write(self, directory: Path) -> Path:
        path = directory / MANIFEST_NAME
        tmp = directory / f".{MANIFEST_NAME}.tmp"
        tmp.write_text(
            json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, path: Path) -> SynthManifest:
        path = path / MANIFEST_NAME if path.is_dir() else path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise SynthError(f"{path}: not a readable synth manifest: {e}") from None
        if data.get("kind") != KIND:
            raise SynthError(f"{path}: not a synth manifest (kind {data.get('kind')!r})")
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in names})


def build_manifest(
    plan: Plan, fmt: str, encoding: str, ledger: Ledger, pairs: np.ndarray
) -> SynthManifest:
    """The manifest of a run from its plan and its ledger; files are added once written."""
    style = plan.style
    totals = plan.totals
    d = ledger.data
    tables = {
        t.name: {
            "rows": totals[t.name],
            "people": t.people,
            "primary_key": t.primary_key.name,
            "columns": [{"name": c.name, "type": c.sql, "kind": c.kind} for c in t.columns],
            "references": {c.name: c.references for c in t.columns if c.references},
        }
        for t in style.tables
    }
    for t in style.tables:
        for c in t.columns:
            if c.kind == "fk" or (c.kind == "ref" and c.orphans):
                d["orphan_fks"][t.name][c.name]["references"] = c.references
    dirt = {
        "rates": plan.dirt.to_dict(),
        "date_formats": d.get("date_formats", {}),
        "sentinels": d.get("sentinels", {}),
        "trailing_spaces": d.get("trailing_spaces", {}),
        "duplicate_people": {
            "table": style.people_table.name,
            **d.get("duplicate_people", {}),
            "pairs": [[int(a), int(b)] for a, b in pairs],
        },
        "orphan_fks": d.get("orphan_fks", {}),
        "local_codes": _sorted_codes(d.get("local_codes", {})),
        "cp1252_names": {
            "table": style.people_table.name,
            "columns": list(style.name_columns),
            "rows": d.get("cp1252_names", {}).get("rows", 0),
        },
        "notes": d.get("notes", {}),
        "totals": _totals(d),
    }
    expected = d.get("expected", {})
    unloadable = expected.get("unloadable_rows", {})
    unparseable = expected.get("unparseable_values", {})
    expected_out = {
        "unloadable_rows": {
            "why": (
                "a foreign key points at a row that does not exist (orphan), or a reference "
                "points at a row that is itself unloadable, through any depth (cascaded: in "
                "the target its foreign key would have no parent); a NULL reference is no "
                "reference, and rows under a duplicate person id load, re-pointed to the "
                "surviving person"
            ),
            "tables": unloadable,
            "total": sum(unloadable.values()),
            "cascaded": expected.get("unloadable_cascaded", {}),
        },
        "unparseable_values": {
            "why": "a date column holds NULL, N/A or 0000-00-00 as text: no date can be read",
            "tables": unparseable,
            "total": sum(sum(c.values()) for c in unparseable.values()),
        },
        "ambiguous_century": {
            "why": "DD-Mon-YY dates in birth-date columns: 2-digit years need a pivot",
            "tables": {
                t: {c: v["DD-Mon-YY"]}
                for t, cols in d.get("date_formats", {}).items()
                for c, v in cols.items()
                if c in ("DOB", "BirthDate")
            },
        },
    }
    return SynthManifest(
        style=style.name,
        title=style.title,
        seed=plan.seed,
        people=plan.people,
        format=fmt,
        parameters={
            "chunk_size": plan.chunk_size,
            "encoding": encoding,
            "as_of": AS_OF.isoformat(),
            "system_start": SYSTEM_START.isoformat(),
            "people_table": style.people_table.name,
            "people_id_base": style.people_id_base,
        },
        tool={"name": "workbench synth", "version": __version__},
        tables=tables,
        dirt=dirt,
        crosswalks=codes.crosswalk_tables(),
        expected=expected_out,
    )


def _sorted_codes(local: dict) -> dict:
    return {
        t: {
            c: {
                "crosswalk": v["crosswalk"],
                "rows": dict(sorted(v["rows"].items())),
                "unmapped": dict(sorted(v["unmapped"].items())),
            }
            for c, v in cols.items()
        }
        for t, cols in local.items()
    }


def _totals(d: dict) -> dict[str, int]:
    """One number per kind of dirt, for a quick look."""

    def leaves(node) -> int:
        return sum(leaves(v) for v in node.values()) if isinstance(node, dict) else int(node)

    formats = {}
    for cols in d.get("date_formats", {}).values():
        for counts in cols.values():
            for name, n in counts.items():
                formats[name] = formats.get(name, 0) + n
    sentinels = {}
    for cols in d.get("sentinels", {}).values():
        for counts in cols.values():
            for name, n in counts.items():
                sentinels[name] = sentinels.get(name, 0) + n
    local = d.get("local_codes", {})
    return {
        **{f"dates_{k}": v for k, v in formats.items()},
        **{f"sentinel_{k}": v for k, v in sentinels.items()},
        "trailing_spaces": leaves(d.get("trailing_spaces", {})),
        "duplicate_people": d.get("duplicate_people", {}).get("rows", 0),
        "orphan_fks": sum(
            c["rows"] for cols in d.get("orphan_fks", {}).values() for c in cols.values()
        ),
        **{
            f"rows_without_{system}": sum(
                sum(v["unmapped"].values())
                for cols in local.values()
                for v in cols.values()
                if v["crosswalk"] == crosswalk
            )
            for crosswalk, system in (
                ("vaccine_cvx", "cvx"),
                ("tb_loinc", "tb_loinc"),
                ("chemistry_loinc", "chemistry_loinc"),
            )
        },
        "cp1252_names": d.get("cp1252_names", {}).get("rows", 0),
        "notes_with_specials": sum(
            v["any_special"] for cols in d.get("notes", {}).values() for v in cols.values()
        ),
    }
