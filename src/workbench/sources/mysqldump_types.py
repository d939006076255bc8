"""What a column declared in a dump's CREATE TABLE becomes in staging.

Every value travels as text. After loading, a column takes the DuckDB equivalent of its
declared MySQL type only if *every* non-null value converts without loss; otherwise it stays
text, exactly as the dump wrote it. "Without loss" is checked by converting back: DuckDB's
casts are lenient (``'1.5'`` becomes the integer 2, ``'2.999'`` the DECIMAL(5,2) 3.00, a zero
date fails), so a value fits only if the typed value prints as the dump's own text. MySQL
dumps print every type in one canonical form, so real dumps type fully and anything odd
(zero dates, year 0, 25-hour TIME values) keeps its column as text.

Binary values (``0x..``, ``X'..'``, ``_binary '..'`` and strings in binary columns) are
staged as ``0x`` followed by hex digits; a binary or spatial column whose every value is in
that form becomes a BLOB. A BIT column becomes UBIGINT: a bit literal (``b'101'``) is staged
as its number, a string of bytes (as MariaDB's mysqldump writes BIT values) as hex. A hex
literal in a text column is staged as written (``0x41``), not as the text it would spell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_INTEGERS = {
    "tinyint": "TINYINT",
    "smallint": "SMALLINT",
    "mediumint": "INTEGER",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
}
_DECIMALS = {"decimal", "numeric", "dec", "fixed"}
_FLOATS = {"float", "double", "real"}
_BINARY = {
    "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
    "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring",
    "multipolygon", "geometrycollection", "geomcollection",
}  # fmt: skip
_DUCKDB_MAX_DECIMAL = 38
_TYPE = re.compile(r"\s*([A-Za-z]+)(?:\s+precision)?\s*(?:\(([^)]*)\))?(.*)", re.S | re.I)
_HEX_TEXT = "0x[0-9A-Fa-f]*"


@dataclass(frozen=True)
class ColumnType:
    """A column's declared type, and the DuckDB type it takes when every value fits."""

    declared: str
    target: str  # "VARCHAR" when the column always stays text
    fraction_digits: int = 0  # DATETIME(n), TIMESTAMP(n): digits MySQL prints after seconds

    @property
    def binary(self) -> bool:
        return self.target == "BLOB"

    @property
    def printed_width(self) -> int:
        """Characters in a DATETIME(n) value as MySQL prints it."""
        return 20 + min(self.fraction_digits, 6)

    @property
    def bit(self) -> bool:
        """A BIT(n) column: a string value holds the bits as bytes (MariaDB's mysqldump)."""
        return self.declared[:3].lower() == "bit"

    def misfit(self, col: str) -> str | None:
        """SQL that is true for a non-null text value that does not fit the target type."""
        if self.target == "VARCHAR":
            return None
        if self.target == "BLOB":
            return f"NOT regexp_full_match({col}, '{_HEX_TEXT}')"
        if self.target == "DOUBLE":  # any finite number: MySQL stored the same double
            return f"isfinite(TRY_CAST({col} AS DOUBLE)) IS NOT TRUE"
        if self.bit:
            typed = f"TRY_CAST({col} AS UBIGINT)"
            return f"({typed} IS NULL OR ({typed}::VARCHAR <> {col} AND {col} NOT LIKE '0x%'))"
        if self.target == "TIMESTAMP" and self.fraction_digits:
            # MySQL prints all n digits of DATETIME(n); DuckDB trims trailing zeros.
            typed = f"TRY_CAST({col} AS TIMESTAMP)"
            printed = f"left(strftime({typed}, '%Y-%m-%d %H:%M:%S.%f'), {self.printed_width})"
            return f"({printed} = {col} AND year({typed}) >= 1) IS NOT TRUE"
        # Printed back, the typed value must be the dump's text: a year 0 prints as BC.
        return f"(TRY_CAST({col} AS {self.target})::VARCHAR = {col}) IS NOT TRUE"

    def cast(self, col: str) -> str:
        """SQL converting the text column to the target type (only used when all values fit)."""
        if self.target == "BLOB":
            return f"unhex(substr({col}, 3))"
        return f"CAST({col} AS {self.target})"


def column_type(declared: str) -> ColumnType:
    """The staging plan for a declared MySQL type such as ``int(10) unsigned``."""
    declared = " ".join(declared.split())
    m = _TYPE.match(declared)
    if not m:
        return ColumnType(declared, "VARCHAR")
    base, args, rest = m.group(1).lower(), m.group(2) or "", m.group(3).lower()
    return ColumnType(declared, _target(base, args, rest), _fraction_digits(base, args))


def _target(base: str, args: str, rest: str) -> str:
    if base in _INTEGERS:
        return ("U" if "unsigned" in rest else "") + _INTEGERS[base]
    if base in ("bool", "boolean"):
        return "TINYINT"  # MySQL's BOOLEAN is TINYINT(1): 0, 1 or any other small number
    if base == "bit":
        return "UBIGINT"
    if base == "year":
        return "SMALLINT"
    if base in _FLOATS:
        return "DOUBLE"
    if base in _DECIMALS:
        return _decimal(args)
    if base == "date":
        return "DATE"
    if base in ("datetime", "timestamp"):
        return "TIMESTAMP"
    if base == "time":
        return "TIME" if not _int(args) else "VARCHAR"  # DuckDB prints fractions trimmed
    if base in _BINARY:
        return "BLOB"
    return "VARCHAR"  # char, varchar, text, enum, set, json, and anything unknown


def _decimal(args: str) -> str:
    parts = [p.strip() for p in args.split(",")] if args.strip() else []
    precision = int(parts[0]) if parts and parts[0].isdigit() else 10
    scale = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    if 0 < precision <= _DUCKDB_MAX_DECIMAL and scale <= precision:
        return f"DECIMAL({precision},{scale})"
    return "VARCHAR"


def _fraction_digits(base: str, args: str) -> int:
    return _int(args) if base in ("datetime", "timestamp") else 0


def _int(text: str) -> int:
    text = text.strip()
    return int(text) if text.isdigit() else 0
