"""How a legacy style describes its tables: columns with MySQL types and what dirt each takes.

A column's ``kind`` says what it holds and so which dirt it can carry:

- ``id``: the table's integer primary key; ``key``: a string primary key (e.g. a case number)
- ``fk``: an integer reference to the people table (orphans, duplicate-person re-pointing)
- ``ref``: a reference to another table's key (``orphans=True`` lets it carry orphans)
- ``int`` / ``num``: numbers (real NULLs only)
- ``text``: VARCHAR text (trailing spaces if ``pad``, 'NULL'/'N/A' strings if ``sentinels``)
- ``code``: a local code with a crosswalk (trailing spaces if ``pad``)
- ``note``: free text (newlines, quotes, delimiters, tabs, backslashes)
- ``date``: a real DATE column (may hold '0000-00-00')
- ``dtext``: a date stored as VARCHAR text (mixed formats and every sentinel)
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from workbench.synth.chunk import Chunk
    from workbench.synth.people import Cohort

KINDS = {"id", "key", "fk", "ref", "int", "num", "text", "code", "note", "date", "dtext"}
DATE_KINDS = {"date", "dtext"}
STRING_KINDS = {"key", "text", "code", "note", "date", "dtext"}


@dataclass(frozen=True)
class Col:
    name: str
    sql: str  # the MySQL type as mysqldump prints it: int(11), varchar(50), date, text ...
    kind: str = "text"
    pad: bool = False
    sentinels: bool = False
    references: str | None = None  # "table.column" for fk/ref
    orphans: bool = False  # a ref column that may point at rows that do not exist
    crosswalk: str | None = None  # for code columns: the name of the crosswalk in codes.py
    source: str | None = None  # the builder's (style-neutral) name, when it differs

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column {self.name}: unknown kind {self.kind!r}")

    @property
    def is_string(self) -> bool:
        return self.kind in STRING_KINDS or (self.kind == "ref" and self.sql.startswith("var"))

    @property
    def varchar_length(self) -> int | None:
        m = re.fullmatch(r"(?:var)?char\((\d+)\)", self.sql)
        return int(m.group(1)) if m else None

    @property
    def decimal(self) -> tuple[int, int] | None:
        m = re.fullmatch(r"decimal\((\d+),(\d+)\)", self.sql)
        return (int(m.group(1)), int(m.group(2))) if m else None


Builder = Callable[["Chunk"], dict[str, Any]]

_LINE = re.compile(
    r"(?P<name>\w+)\s+(?P<sql>\S+)\s+(?P<kind>\w+)(?P<flags>(?:\s+(?:pad|sentinels|orphans))*)"
    r"(?:\s+->\s*(?P<ref>\w+\.\w+))?(?:\s+xw=(?P<xw>\w+))?(?:\s+<-\s*(?P<source>\w+))?\s*$"
)


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Col, ...]
    build: Builder
    people: bool = False  # the people table: one row per person plus duplicates

    @property
    def primary_key(self) -> Col:
        return next(c for c in self.columns if c.kind in ("id", "key"))


@dataclass(frozen=True)
class Rows:
    """Who owns the rows of one table in one chunk: a person index per row; for a row derived
    from a row of another table (vitals of an appointment), that row's index (-1: none)."""

    owners: np.ndarray
    parent: np.ndarray | None = None
    variant: np.ndarray | None = None  # which kind of row, when a table mixes kinds

    def __len__(self) -> int:
        return len(self.owners)


Planner = Callable[["np.random.Generator", "Cohort"], dict[str, Rows]]


@dataclass(frozen=True)
class Style:
    """A legacy system's layout: its tables in build order, and how many rows each person has."""

    name: str
    title: str
    tables: tuple[TableSpec, ...]
    plan_rows: Planner
    people_id_base: int = 0
    name_columns: tuple[str, ...] = ()  # where cp1252 names are counted

    @property
    def people_table(self) -> TableSpec:
        return next(t for t in self.tables if t.people)

    def table(self, name: str) -> TableSpec:
        return next(t for t in self.tables if t.name == name)


def layout(text: str, builders: dict[str, Builder]) -> tuple[TableSpec, ...]:
    """Tables written the way a schema listing reads, one column per line::

        [demographics] people
        EMP_ID     int(11)      id
        LASTNAME   varchar(50)  text  pad  <- last
        EMP_ID     int(11)      fk    -> demographics.EMP_ID

    after the kind: flags (pad, sentinels, orphans), ``-> table.column`` for a reference,
    ``xw=name`` for a code column's crosswalk, ``<- name`` for the builder's column name.
    """
    tables = []
    for block in re.split(r"^\[", text.strip(), flags=re.M)[1:]:
        header, *lines = block.splitlines()
        name, _, options = header.partition("]")
        columns = []
        for line in lines:
            line = line.split("#")[0].strip()
            if not line:
                continue
            m = _LINE.fullmatch(line)
            if not m:
                raise ValueError(f"layout of {name}: cannot read column line {line!r}")
            flags = m["flags"].split()
            columns.append(
                Col(
                    m["name"],
                    m["sql"],
                    m["kind"],
                    pad="pad" in flags,
                    sentinels="sentinels" in flags,
                    orphans="orphans" in flags,
                    references=m["ref"],
                    crosswalk=m["xw"],
                    source=m["source"],
                )
            )
        tables.append(TableSpec(name, tuple(columns), builders[name], "people" in options.split()))
    return tuple(tables)
