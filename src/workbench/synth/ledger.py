"""The ledger: exact counts of everything the generator injected, summed over chunks."""

from __future__ import annotations

from typing import Any

import polars as pl

from workbench.synth import codes as codebook

NOTE_MARKS = {
    "newline": "\n",
    "carriage_return": "\r",
    "double_quote": '"',
    "single_quote": "'",
    "comma": ",",
    "semicolon": ";",
    "tab": "\t",
    "backslash": "\\",
}
NON_ASCII = r"[^\x00-\x7F]"


class Ledger:
    """Nested counters (dicts of dicts of ints) that add up across chunks."""

    def __init__(self, name_columns: tuple[str, ...] = ()) -> None:
        self.data: dict[str, Any] = {}
        self.name_columns = name_columns
        self._crosswalks = {
            name: {c.code: c.standard for c in cs}
            | ({c.code: None for c in codebook.TB_TESTS} if name == "vaccine_cvx" else {})
            for name, (_, cs) in codebook.CROSSWALKS.items()
        }

    def add(self, path: tuple[str, ...], n: int) -> None:
        node = self.data
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = node.get(path[-1], 0) + int(n)

    def merge(self, other: Ledger) -> None:
        _merge(self.data, other.data)

    def notes(self, table: str, column: str, s: pl.Series) -> None:
        present = s.drop_nulls()
        self.add(("notes", table, column, "rows"), len(present))
        any_special = pl.Series([False] * len(present), dtype=pl.Boolean)
        for mark, char in NOTE_MARKS.items():
            hit = present.str.contains(char, literal=True)
            any_special = any_special | hit
            self.add(("notes", table, column, mark), int(hit.sum()))
        non_ascii = present.str.contains(NON_ASCII)
        self.add(("notes", table, column, "non_ascii"), int(non_ascii.sum()))
        self.add(("notes", table, column, "any_special"), int((any_special | non_ascii).sum()))

    def codes(self, table: str, column: str, crosswalk: str, s: pl.Series) -> None:
        known = self._crosswalks[crosswalk]
        entry = (
            self.data.setdefault("local_codes", {})
            .setdefault(table, {})
            .setdefault(column, {"crosswalk": crosswalk, "rows": {}, "unmapped": {}})
        )
        for code, n in s.drop_nulls().value_counts(name="n").iter_rows():
            entry["rows"][code] = entry["rows"].get(code, 0) + n
            if known.get(code) is None:
                entry["unmapped"][code] = entry["unmapped"].get(code, 0) + n

    def people_names(self, table: str, frame: pl.DataFrame) -> None:
        hit = pl.Series([False] * frame.height, dtype=pl.Boolean)
        for name in self.name_columns:
            hit = hit | frame[name].str.contains(NON_ASCII).fill_null(False)
        self.add(("cp1252_names", "rows"), int(hit.sum()))


def _merge(into: dict, other: dict) -> None:
    for key, value in other.items():
        if isinstance(value, dict):
            _merge(into.setdefault(key, {}), value)
        elif isinstance(value, int) and not isinstance(value, bool):
            into[key] = into.get(key, 0) + value
        else:
            into[key] = value
