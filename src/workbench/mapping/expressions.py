"""What a field expression reads and calls, found without a full SQL parser: string literals
are removed, then identifiers are matched against the source's columns."""

from __future__ import annotations

import re

from workbench.mapping.transforms import PARSING, TRANSLATING

_STRING = re.compile(r"'(?:[^']|'')*'")
_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(")
_IDENT = re.compile(r'"((?:[^"]|"")+)"|\b([A-Za-z_][A-Za-z0-9_]*)\b(?!\s*\()')

# Words that look like identifiers in an expression but are SQL, when the source columns
# are not known (map sql without a snapshot).
_SQL_WORDS = {
    "and",
    "or",
    "not",
    "null",
    "true",
    "false",
    "case",
    "when",
    "then",
    "else",
    "end",
    "is",
    "in",
    "like",
    "ilike",
    "as",
    "between",
    "distinct",
    "interval",
    "year",
    "month",
    "day",
    "date",
    "timestamp",
    "varchar",
    "integer",
    "bigint",
    "double",
    "decimal",
    "boolean",
    "text",
    "cast",
    "try_cast",
    "current_date",
    "over",
    "partition",
    "by",
    "order",
    "asc",
    "desc",
    "nulls",
    "first",
    "last",
    "select",
    "from",
    "where",
}


def without_strings(expr: str) -> str:
    return _STRING.sub("''", expr)


def calls(expr: str) -> set[str]:
    return {m.group(1).lower() for m in _CALL.finditer(without_strings(expr))}


def failure_kind(expr: str) -> str | None:
    """'translate' if the field looks a code up in a crosswalk, 'parse' if it calls a
    parsing transform (or casts), else None: a NULL result is then simply an absent value."""
    called = calls(expr)
    if called & TRANSLATING:
        return "translate"
    if called & (PARSING | {"try_cast", "try_strptime"}):
        return "parse"
    return None


def columns_read(expr: str, known: set[str] | None) -> tuple[str, ...]:
    """Source columns an expression reads, in order of appearance (qualified names keep
    their qualifier). ``known`` holds the source's column names, lower-cased."""
    found: dict[str, None] = {}
    text = without_strings(expr)
    for m in re.finditer(r'((?:"[^"]+"|\w+)\.)?("(?:[^"]|"")+"|\b[A-Za-z_]\w*\b)(?!\s*\()', text):
        qualifier, name = m.group(1) or "", m.group(2)
        bare = name.strip('"')
        if known is not None:
            if bare.lower() in known:
                found.setdefault(qualifier + name)
        elif bare.lower() not in _SQL_WORDS and not bare.isdigit():
            found.setdefault(qualifier + name)
    return tuple(found)
