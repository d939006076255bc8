"""Build one chunk: every table's rows, dirtied, checked against its column types, counted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from workbench.errors import SynthError
from workbench.synth import dirt as dirtmod
from workbench.synth.chunk import Chunk
from workbench.synth.ledger import Ledger
from workbench.synth.plan import Plan
from workbench.synth.tables import Col, TableSpec


@dataclass
class BuiltChunk:
    index: int
    size: int  # people in the chunk; the people table has duplicates after them
    tables: list[tuple[TableSpec, pl.DataFrame]]
    ledger: Ledger
    duplicate_pairs: np.ndarray  # (duplicate id, original id)


def build_chunk(plan: Plan, index: int) -> BuiltChunk:
    ch = Chunk(plan, index)
    ledger = Ledger(plan.style.name_columns)
    tables = []
    referenced = {c.references for t in plan.style.tables for c in t.columns if c.kind == "ref"}
    bad_keys: dict[str, pl.Series] = {}  # unloadable rows' keys, per referenced table.column
    for spec in plan.style.tables:
        frame = assemble(spec, spec.build(ch))
        check_refs_in_chunk(spec, frame, ch.frames)
        ch.frames[spec.name] = frame
        dirty, orphaned = dirtmod.apply(spec, frame, plan.dirt, ch.rng, ch.missing_ids, ledger)
        dirtmod.unloadable(spec, dirty, orphaned, bad_keys, referenced, ledger)
        check_lengths(spec, dirty)
        tables.append((spec, dirty))
        if not spec.people:  # counted after dirt: an orphan may have replaced a moved id
            fk = next(c.name for c in spec.columns if c.kind == "fk")
            moved = np.isin(dirty[fk].to_numpy(), ch.duplicate_ids()).sum()
            ledger.add(("duplicate_people", "child_rows_under_duplicate_id", spec.name), moved)
    originals = ch.person_ids()[ch.cohort.duplicated]
    pairs = np.stack([ch.duplicate_ids(), originals], axis=1)
    ledger.add(("duplicate_people", "rows"), len(pairs))
    return BuiltChunk(index, ch.size, tables, ledger, pairs)


def _dtype(col: Col) -> pl.DataType:
    if col.kind in ("date", "dtext"):
        return pl.Date
    if col.is_string:
        return pl.Utf8
    return pl.Float64 if col.kind == "num" else pl.Int64


def assemble(spec: TableSpec, columns: dict) -> pl.DataFrame:
    """The builder's columns in the table's order, names and types. Shared generators may
    return columns a style does not keep; a missing column is a bug in the style."""
    missing = sorted({c.source or c.name for c in spec.columns} - set(columns))
    if missing:
        raise SynthError(f"style table {spec.name}: the builder gives no {', '.join(missing)}")
    return pl.DataFrame(
        [pl.Series(c.name, columns[c.source or c.name]).cast(_dtype(c)) for c in spec.columns]
    )


def check_refs_in_chunk(
    spec: TableSpec, frame: pl.DataFrame, built: dict[str, pl.DataFrame]
) -> None:
    """Before dirt, every reference points at a row of the same chunk, built before it: what
    lets a chunk count its unloadable rows (and be built) without the others."""
    for col in spec.columns:
        if col.kind != "ref":
            continue
        table, column = col.references.split(".")
        if table not in built:
            raise SynthError(f"style table {spec.name}.{col.name}: {table} is not built before it")
        values = frame[col.name].drop_nulls()
        outside = values.len() - values.is_in(built[table][column].implode()).sum()
        if outside:
            raise SynthError(
                f"style table {spec.name}.{col.name}: {outside} references leave the chunk"
            )


def check_lengths(spec: TableSpec, frame: pl.DataFrame) -> None:
    """Every text value fits its VARCHAR: a legacy server in non-strict mode would cut it."""
    for col in spec.columns:
        limit = col.varchar_length
        if limit is None or frame.height == 0:
            continue
        longest = frame[col.name].str.len_chars().max()
        if longest is not None and longest > limit:
            raise SynthError(
                f"style table {spec.name}.{col.name}: a value of {longest} characters does not "
                f"fit {col.sql}"
            )
