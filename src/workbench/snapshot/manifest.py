"""The manifest: what a snapshot holds and where it came from, with a content fingerprint.

The fingerprint covers content only (tables, columns, counts, per-table content hashes,
rejects), never times or paths, so the same input always gives the same fingerprint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"


@dataclass
class ColumnInfo:
    name: str
    type: str
    declared_type: str | None = None


@dataclass
class TableInfo:
    name: str
    rows: int
    rejected: int
    input_records: int | None
    content_hash: str
    columns: list[ColumnInfo] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.input_records is None or self.rows + self.rejected == self.input_records


@dataclass
class InputFile:
    path: str
    bytes: int
    sha256: str


@dataclass
class Manifest:
    snapshot: str
    source: dict[str, Any]
    tool_version: str
    duckdb_version: str
    started_at: str
    duration_s: float
    inputs: list[InputFile]
    tables: list[TableInfo]
    rejects_hash: str
    skipped: list[dict[str, Any]]
    staging_sha256: str = ""
    fingerprint: str = ""

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    @property
    def rejected(self) -> int:
        return sum(t.rejected for t in self.tables)

    def table(self, name: str) -> TableInfo:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def compute_fingerprint(self) -> str:
        content = {
            "kind": self.source.get("kind"),
            "tables": [
                {
                    "name": t.name,
                    "rows": t.rows,
                    "rejected": t.rejected,
                    "columns": [[c.name, c.type] for c in t.columns],
                    "content_hash": t.content_hash,
                }
                for t in sorted(self.tables, key=lambda t: t.name)
            ],
            "rejects_hash": self.rejects_hash,
        }
        blob = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows": self.rows, "rejected": self.rejected}

    def write(self, directory: Path) -> Path:
        path = directory / MANIFEST_NAME
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=False) + "\n")
        return path

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        data = json.loads((directory / MANIFEST_NAME).read_text())
        data.pop("rows", None)
        data.pop("rejected", None)
        data["inputs"] = [InputFile(**f) for f in data["inputs"]]
        data["tables"] = [
            TableInfo(**{**t, "columns": [ColumnInfo(**c) for c in t["columns"]]})
            for t in data["tables"]
        ]
        return cls(**data)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()
