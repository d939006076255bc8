"""The data migration map as data: what the profiler computes and every renderer reads.

A ``Profile`` is already safe to share when it leaves the profiler: values seen fewer than
``policy.min_cell_count`` times and values of identifier columns never enter it unless the
policy says so. Renderers (xlsx, html, json) only lay it out; they never see raw rare values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

PROFILE_SCHEMA_VERSION = 1

# The inferred types, in the words SMEs use.
INFERRED_TYPES = (
    "empty",
    "integer",
    "decimal",
    "boolean",
    "date",
    "datetime",
    "code",
    "identifier",
    "free_text",
)


@dataclass
class PrivacyPolicy:
    min_cell_count: int = 5
    show_identifiers: bool = False  # internal use only: shows identifier columns unmasked


@dataclass
class ValueCount:
    value: str
    count: int


@dataclass
class ColumnProfile:
    table: str
    name: str
    position: int
    declared_type: str | None  # as the source declared it (None for CSV)
    storage_type: str  # the column's type in the staging snapshot
    inferred_type: str  # one of INFERRED_TYPES
    n_rows: int
    n_non_empty: int  # neither NULL, nor blank after trim, nor a sentinel
    n_null: int  # SQL NULL
    n_blank: int  # blank after trim ('' or spaces)
    sentinels: dict[str, int]  # sentinel null text ('NULL', 'N/A', '0000-00-00', ...) -> rows
    n_distinct: int  # distinct non-empty values
    min_length: int | None = None
    max_length: int | None = None
    # min/max are None when suppressed (seen fewer than min_cell_count times) or masked.
    min: str | None = None
    max: str | None = None
    mean: float | None = None
    std: float | None = None
    q25: float | None = None
    median: float | None = None
    q75: float | None = None
    date_formats: dict[str, int] = field(default_factory=dict)  # e.g. {'MM/DD/YYYY': 120}
    top_values: list[ValueCount] = field(default_factory=list)
    patterns: list[ValueCount] = field(default_factory=list)  # e.g. '999-99-9999'
    # Bucketed distribution for charts: years (or months) for dates, equal-width bins for
    # numbers, labelled in order. Buckets under min_cell_count are merged or withheld.
    histogram: list[ValueCount] = field(default_factory=list)
    samples: list[str] = field(default_factory=list)
    identifier_kind: str | None = None  # 'name', 'ssn', 'dob', 'phone', 'address', 'mrn', ...
    masked: bool = False  # True when values of this column are withheld as identifiers
    suppressed_values: int = 0  # distinct values hidden because they were too rare

    @property
    def n_empty(self) -> int:
        return self.n_rows - self.n_non_empty

    @property
    def fraction_empty(self) -> float:
        return self.n_empty / self.n_rows if self.n_rows else 0.0

    @property
    def fraction_unique(self) -> float:
        return self.n_distinct / self.n_non_empty if self.n_non_empty else 0.0


@dataclass
class TableProfile:
    name: str
    n_rows: int
    columns: list[ColumnProfile]
    candidate_keys: list[list[str]] = field(default_factory=list)
    description: str = ""

    @property
    def n_columns(self) -> int:
        return len(self.columns)

    @property
    def empty_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.n_non_empty == 0]

    def column(self, name: str) -> ColumnProfile:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name}.{name}")


@dataclass
class Relationship:
    """An inferred foreign key: the child column's values are (mostly) found in the parent's."""

    child_table: str
    child_column: str
    parent_table: str
    parent_column: str
    coverage: float  # fraction of the child's distinct non-empty values found in the parent
    child_rows: int  # child rows with a non-empty value
    orphan_rows: int  # child rows whose value is not in the parent
    orphan_values: int  # distinct child values not in the parent
    parent_duplicate_keys: int  # parent values that occur more than once


@dataclass
class Profile:
    snapshot: str
    fingerprint: str
    tool_version: str
    policy: PrivacyPolicy
    tables: list[TableProfile]
    relationships: list[Relationship] = field(default_factory=list)
    approximations: list[str] = field(default_factory=list)  # empty: everything is exact
    schema_version: int = PROFILE_SCHEMA_VERSION

    def table(self, name: str) -> TableProfile:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        return cls(
            **{
                **_known(cls, data),
                "policy": PrivacyPolicy(**data["policy"]),
                "tables": [_table(t) for t in data["tables"]],
                "relationships": [Relationship(**r) for r in data.get("relationships", [])],
            }
        )


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}


def _table(data: dict[str, Any]) -> TableProfile:
    columns = [
        ColumnProfile(
            **{
                **_known(ColumnProfile, c),
                "top_values": [ValueCount(**v) for v in c.get("top_values", [])],
                "patterns": [ValueCount(**v) for v in c.get("patterns", [])],
                "histogram": [ValueCount(**v) for v in c.get("histogram", [])],
            }
        )
        for c in data["columns"]
    ]
    return TableProfile(**{**_known(TableProfile, data), "columns": columns})
