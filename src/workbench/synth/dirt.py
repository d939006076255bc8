"""Dirt: what makes the synthetic clinic look like a real legacy export, injected at known
rates and counted exactly, so later stages can be checked against the ground truth.

The rates are per eligible value (a date, a text value, a row), and a value carries at most
one kind of dirt: a date is either a sentinel or formatted, never both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import polars as pl

from workbench.errors import SynthError
from workbench.synth import draw
from workbench.synth.ledger import Ledger
from workbench.synth.tables import Col, TableSpec

DATE_FORMATS = {
    "ISO": "%Y-%m-%d",
    "MM/DD/YYYY": "%m/%d/%Y",
    "YYYYMMDD": "%Y%m%d",
    "DD-Mon-YY": "%d-%b-%y",
}
SENTINELS = ("NULL", "N/A", "0000-00-00")
TEXT_SENTINELS = ("NULL", "N/A")
ZERO_DATE = "0000-00-00"
PADDING = (" ", "  ", "   ", "      ")


@dataclass(frozen=True)
class Dirt:
    """Rates of each kind of dirt. ``Dirt()`` is a plausible legacy export; ``Dirt.clean()``
    has none (local codes stay: a legacy clinic always has its own codes)."""

    mdy_dates: float = 0.08  # share of text dates written MM/DD/YYYY
    compact_dates: float = 0.04  # ... YYYYMMDD
    mon_dates: float = 0.03  # ... DD-Mon-YY
    null_strings: float = 0.01  # share of eligible values replaced by the string 'NULL'
    na_strings: float = 0.01  # ... by 'N/A'
    zero_dates: float = 0.005  # share of dates replaced by '0000-00-00'
    trailing_spaces: float = 0.03  # share of padded text values with trailing spaces
    duplicate_people: float = 0.02  # share of people registered a second time
    orphan_fks: float = 0.004  # share of child rows pointing at an id that does not exist
    unmapped_codes: float = 0.03  # share of vaccine rows with a local code that has no CVX
    cp1252_names: float = 0.05  # share of people with é ñ ü ’ ... in their name
    note_specials: float = 0.4  # share of notes with newlines, quotes, delimiters, tabs, \

    @classmethod
    def clean(cls) -> Dirt:
        return cls(**{f.name: 0.0 for f in fields(cls)})

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]

    def with_rates(self, **rates: float) -> Dirt:
        unknown = sorted(set(rates) - set(self.names()))
        if unknown:
            raise SynthError(
                f"unknown dirt rate {', '.join(unknown)} (known: {', '.join(self.names())})"
            )
        return replace(self, **rates)

    def validate(self) -> Dirt:
        for name, rate in asdict(self).items():
            if not 0.0 <= rate <= 1.0:
                raise SynthError(f"dirt rate {name}={rate} is not between 0 and 1")
        for group in (
            ("mdy_dates", "compact_dates", "mon_dates"),
            ("null_strings", "na_strings", "zero_dates"),
        ):
            total = sum(getattr(self, g) for g in group)
            if total > 1.0:
                raise SynthError(f"dirt rates {' + '.join(group)} add up to {total:g}, over 1")
        return self

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


Missing = Callable[[str, int, np.random.Generator], np.ndarray]
Stream = Callable[[str], np.random.Generator]


def apply(
    spec: TableSpec,
    frame: pl.DataFrame,
    dirt: Dirt,
    stream: Stream,
    missing_ids: Missing,
    ledger: Ledger,
) -> tuple[pl.DataFrame, np.ndarray]:
    """Dirty one table's chunk and count every change; dates become text here. Returns the
    dirty chunk and which of its rows got an orphan (in any column)."""
    orphaned = np.zeros(frame.height, dtype=bool)
    columns = []
    for col in spec.columns:
        s = frame[col.name]
        rng = stream(f"dirt:{spec.name}:{col.name}")
        if col.kind == "fk" or (col.kind == "ref" and col.orphans):
            s, hit = _orphans(s, col, dirt, rng, missing_ids, ledger, spec.name)
            orphaned |= hit
        elif col.kind in ("dtext", "date"):
            s = _dates(s, col, dirt, rng, ledger, spec.name)
        elif col.kind in ("text", "code"):
            s = _text(s, col, dirt, rng, ledger, spec.name)
        elif col.kind == "note":
            ledger.notes(spec.name, col.name, s)
        columns.append(s.alias(col.name))
    out = pl.DataFrame(columns)
    if spec.people:
        ledger.people_names(spec.name, out)
    return out, orphaned


def unloadable(
    spec: TableSpec,
    frame: pl.DataFrame,
    orphaned: np.ndarray,
    bad_keys: dict[str, pl.Series],
    referenced: set[str],
    ledger: Ledger,
) -> np.ndarray:
    """Count the rows of one table's dirty chunk that a migration cannot load: an orphan in
    any column, or a ``ref`` to a row that cannot load itself (its target row would have no
    parent), through any depth. ``bad_keys`` holds, per referenced ``table.column``, the
    values of the rows already found unloadable; this table's are added for the tables after
    it. Parents are built before children (the style's table order) and a reference never
    leaves its chunk (build checks it), so one chunk's keys are all there is to look at. A
    NULL reference is no reference; a row under a duplicate person id is re-pointed, not lost.
    """
    cascaded = np.zeros(frame.height, dtype=bool)
    for col in spec.columns:
        if col.kind != "ref":
            continue
        bad = bad_keys.get(col.references)
        if bad is None:
            raise SynthError(
                f"style table {spec.name}.{col.name}: {col.references} is not built before it"
            )
        if len(bad):
            cascaded |= frame[col.name].is_in(bad.implode()).fill_null(False).to_numpy()
    cascaded &= ~orphaned
    lost = orphaned | cascaded
    ledger.add(("expected", "unloadable_rows", spec.name), int(lost.sum()))
    ledger.add(("expected", "unloadable_cascaded", spec.name), int(cascaded.sum()))
    for col in spec.columns:
        key = f"{spec.name}.{col.name}"
        if key in referenced:
            bad_keys[key] = frame[col.name].filter(pl.Series(lost))
    return lost


def _orphans(s, col: Col, dirt, rng, missing_ids, ledger, table):
    eligible = s.is_not_null().to_numpy()
    mask = eligible & (rng.random(len(s)) < dirt.orphan_fks)
    k = int(mask.sum())
    ledger.add(("orphan_fks", table, col.name, "rows"), k)
    if k == 0:
        return s, mask
    values = s.to_numpy().copy()
    values[mask] = missing_ids(col.references.split(".")[0], k, rng)
    return draw.ints(values, null=~eligible), mask


def _dates(s: pl.Series, col: Col, dirt: Dirt, rng, ledger: Ledger, table: str) -> pl.Series:
    n = len(s)
    present = s.is_not_null().to_numpy()
    u, v = rng.random(n), rng.random(n)
    if col.kind == "dtext":
        cuts = np.cumsum([dirt.null_strings, dirt.na_strings, dirt.zero_dates])
        fmt_cuts = np.cumsum([dirt.mdy_dates, dirt.compact_dates, dirt.mon_dates])
    else:  # a real DATE column can only hold the zero date
        cuts = np.array([0.0, 0.0, dirt.zero_dates])
        fmt_cuts = np.zeros(3)
    sentinel = np.where(present, np.searchsorted(cuts, u, side="right"), 3)  # 3 = none
    fmt = np.where(present & (sentinel == 3), np.searchsorted(fmt_cuts, v, side="right"), -1)
    fmt = np.where(fmt == 3, 0, np.where(fmt >= 0, fmt + 1, -1))  # 0 = ISO, 1.. = dirty

    out = s.dt.strftime(DATE_FORMATS["ISO"])
    for i, name in enumerate(DATE_FORMATS):
        idx = np.flatnonzero(fmt == i)
        if col.kind == "dtext" or i == 0:
            ledger.add(("date_formats", table, col.name, name), len(idx))
        if len(idx) and i:
            out = out.scatter(idx, s.gather(idx).dt.strftime(DATE_FORMATS[name]))
    for i, value in enumerate(SENTINELS):
        idx = np.flatnonzero(sentinel == i)
        if col.kind == "dtext" or value == ZERO_DATE:
            ledger.add(("sentinels", table, col.name, value), len(idx))
            ledger.add(("expected", "unparseable_values", table, col.name), len(idx))
        if len(idx):
            out = out.scatter(idx, value)
    return out


def _text(s: pl.Series, col: Col, dirt: Dirt, rng, ledger: Ledger, table: str) -> pl.Series:
    n = len(s)
    present = s.is_not_null().to_numpy()
    if col.crosswalk:
        ledger.codes(table, col.name, col.crosswalk, s)
    sentinel = np.full(n, -1)
    if col.sentinels:
        u = rng.random(n)
        cuts = np.cumsum([dirt.null_strings, dirt.na_strings])
        sentinel = np.where(present, np.searchsorted(cuts, u, side="right"), 2)
        sentinel = np.where(sentinel == 2, -1, sentinel)
    if col.pad:
        pad = present & (sentinel < 0) & (rng.random(n) < dirt.trailing_spaces)
        k = int(pad.sum())
        ledger.add(("trailing_spaces", table, col.name), k)
        if k:
            idx = np.flatnonzero(pad)
            spaces = draw.choice(rng, PADDING, k, p=(6, 3, 2, 1))
            s = s.scatter(idx, draw.concat(s.gather(idx), spaces))
    for i, value in enumerate(TEXT_SENTINELS):
        if not col.sentinels:
            break
        idx = np.flatnonzero(sentinel == i)
        ledger.add(("sentinels", table, col.name, value), len(idx))
        if len(idx):
            s = s.scatter(idx, value)
    return s
