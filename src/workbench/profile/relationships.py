"""Keys within tables and references between them, found from the data.

A candidate key is a column (or, for a table with none, a pair of columns) whose values are
all present and all different. An inferred foreign key is an inclusion dependency: the child
column's distinct values are found, for at least ``MIN_COVERAGE`` of them, among a parent
key's values. Inclusion alone would match every small integer column to every id, so a pair
is only tested when the names agree (``rental.customer_id`` and ``customer.customer_id``,
``store.manager_staff_id`` and ``staff.staff_id``, ``encounters.PATIENT`` and ``patients.Id``)
or when the parent's values are long opaque identifiers (UUIDs), which do not match by chance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations

import duckdb

from workbench.profile.columns import ColumnFacts, non_empty_sql
from workbench.profile.infer import name_tokens
from workbench.profile.model import Relationship
from workbench.snapshot.staging import quote_ident

MIN_COVERAGE = 0.9
NEAR_KEY_UNIQUE = 0.95  # a parent that is its table's own key may hold a few duplicates
OPAQUE_KEY_LENGTH = 8  # text keys at least this long match only their own kind
PAIR_COLUMNS = 6  # columns tried in pairs, for a table without a single-column key
NOT_KEYS = ("free_text", "decimal", "boolean", "date", "datetime", "empty")
_GENERIC = {"id", "key", "uid", "guid", "code", "no", "num", "number"}
_KEY_SUFFIXES = ("", "id", "key", "uid", "guid", "no", "num", "number", "code")


@dataclass(frozen=True)
class KeyColumn:
    facts: ColumnFacts
    inferred_type: str

    @property
    def table(self) -> str:
        return self.facts.table

    @property
    def name(self) -> str:
        return self.facts.name

    @property
    def value_class(self) -> str | None:
        """'int' or 'text' for columns whose values could be keys; None for the others."""
        f, kind = self.facts, self.facts.storage_kind
        if self.inferred_type in NOT_KEYS or f.n_distinct == 0:
            return None
        if kind == "integer":
            return "int"
        if kind == "text":
            integral = f.numeric is not None and f.numeric.integral
            return "int" if integral and not f.leading_zero_values else "text"
        return None

    @property
    def unique(self) -> bool:
        f = self.facts
        return f.n_rows > 0 and f.n_non_empty == f.n_rows == f.n_distinct

    @property
    def own_key(self) -> bool:
        """Named as its table's key: ``Id``, ``customer_id`` in ``customer``."""
        column = "".join(name_tokens(self.name))
        return column in _GENERIC or column in {
            stem + suffix for stem in _table_stems(self.table) for suffix in _KEY_SUFFIXES[1:]
        }

    @property
    def opaque(self) -> bool:
        f = self.facts
        return self.value_class == "text" and (f.min_length or 0) >= OPAQUE_KEY_LENGTH


def _table_stems(table: str) -> set[str]:
    """``patients`` -> {'patients', 'patient'}; ``allergies`` -> {..., 'allergy'}."""
    name = "".join(name_tokens(table))
    stems = {name}
    if name.endswith("ies"):
        stems.add(name[:-3] + "y")
    elif name.endswith("ses"):
        stems.add(name[:-2])
    elif name.endswith("s"):
        stems.add(name[:-1])
    return stems


# -- candidate keys ------------------------------------------------------------------------


def candidate_keys(
    con: duckdb.DuckDBPyConnection, table: str, n_rows: int, columns: list[KeyColumn]
) -> list[list[str]]:
    """Single columns unique and always present; else pairs of them that are unique together."""
    singles = [[c.name] for c in columns if c.unique and c.value_class]
    if singles or n_rows < 2:
        return singles
    full = [
        c
        for c in columns
        if c.value_class and c.facts.n_non_empty == n_rows and c.facts.n_distinct > 1
    ]
    full.sort(key=lambda c: (-c.facts.n_distinct, c.facts.position))
    pairs = []
    for a, b in combinations(full[:PAIR_COLUMNS], 2):
        if a.facts.n_distinct * b.facts.n_distinct < n_rows:
            continue
        duplicated = con.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM snap.main.{quote_ident(table)} "
            f"GROUP BY {quote_ident(a.name)}, {quote_ident(b.name)} HAVING count(*) > 1)"
        ).fetchone()[0]
        if not duplicated:
            pairs.append(sorted([a.name, b.name], key=lambda n: _position(columns, n)))
    return pairs


def _position(columns: list[KeyColumn], name: str) -> int:
    return next(c.facts.position for c in columns if c.name == name)


# -- foreign keys --------------------------------------------------------------------------


def infer_foreign_keys(
    con: duckdb.DuckDBPyConnection,
    columns: list[KeyColumn],
    keys: dict[str, list[list[str]]],
) -> list[Relationship]:
    """Every (child, parent) pair that passes the name and type checks, measured exactly."""
    found: dict[tuple[str, str], list[tuple[Relationship, KeyColumn]]] = {}
    for child, parent in _candidate_pairs(columns, keys):
        rel = _measure(con, child, parent)
        if rel.coverage >= MIN_COVERAGE:
            found.setdefault((child.table, child.name), []).append((rel, parent))
    kept = []
    for matches in found.values():
        # inventory.film_id is in film.film_id and in film_category.film_id: the table whose
        # own key it is (film) is the parent.
        own = [rel for rel, parent in matches if parent.own_key]
        kept += own or [rel for rel, _ in matches]
    return sorted(
        kept, key=lambda r: (r.child_table, r.child_column, r.parent_table, r.parent_column)
    )


def _parents(columns: list[KeyColumn], keys: dict[str, list[list[str]]]) -> list[KeyColumn]:
    """Each table's own key (``Id``, ``customer_id`` in customer), else its first single key.

    A small table has many columns that happen to be unique (staff.store_id with two staff):
    they are not what other tables refer to.
    """
    by_table: dict[str, list[KeyColumn]] = {}
    for c in columns:
        by_table.setdefault(c.table, []).append(c)
    out = []
    for table, cols in by_table.items():
        singles = [c for c in cols if c.value_class and [c.name] in keys.get(table, [])]
        own = [
            c
            for c in cols
            if c.value_class
            and c.own_key
            and c.facts.n_distinct >= NEAR_KEY_UNIQUE * max(c.facts.n_non_empty, 1)
        ]
        out += own or singles[:1]
    return out


def _candidate_pairs(
    columns: list[KeyColumn], keys: dict[str, list[list[str]]]
) -> Iterator[tuple[KeyColumn, KeyColumn]]:
    for parent in _parents(columns, keys):
        for child in columns:
            if (child.table, child.name) == (parent.table, parent.name):
                continue
            if child.value_class != parent.value_class or not _plausible(child, parent):
                continue
            if child.own_key and not parent.own_key and child.unique:
                continue  # the reference runs the other way
            if _names_agree(child, parent) or (parent.opaque and _same_shape(child, parent)):
                yield child, parent


def _plausible(child: KeyColumn, parent: KeyColumn) -> bool:
    """Cheap necessary conditions for the coverage to reach MIN_COVERAGE."""
    c, p = child.facts, parent.facts
    if c.n_distinct * MIN_COVERAGE > p.n_distinct:
        return False
    too_short = (c.max_length or 0) < (p.min_length or 0)
    return not (too_short or (c.min_length or 0) > (p.max_length or 0))


def _same_shape(child: KeyColumn, parent: KeyColumn) -> bool:
    """The commonest patterns have the same punctuation at the same places (UUIDs)."""

    def skeleton(k: KeyColumn) -> str | None:
        top = k.facts.patterns[0][0] if k.facts.patterns else None
        return None if top is None else top.strip().replace("A", "x").replace("9", "x")

    return skeleton(child) is not None and skeleton(child) == skeleton(parent)


def _names_agree(child: KeyColumn, parent: KeyColumn) -> bool:
    """customer_id -> customer_id; manager_staff_id -> staff_id; PATIENT -> patients.Id."""
    c = "".join(name_tokens(child.name))
    p = "".join(name_tokens(parent.name))
    if p not in _GENERIC and (c == p or (len(p) >= 4 and c.endswith(p))):
        return True
    stems = [s for s in _table_stems(parent.table) if len(s) >= 3]
    return parent.own_key and any(
        c.endswith(stem + suffix) for stem in stems for suffix in _KEY_SUFFIXES
    )


def _measure(con, child: KeyColumn, parent: KeyColumn) -> Relationship:
    def distinct(k: KeyColumn) -> str:
        col = quote_ident(k.name)
        return (
            f"SELECT CAST({col} AS VARCHAR) AS v, count(*) AS n "
            f"FROM snap.main.{quote_ident(k.table)} "
            f"WHERE {non_empty_sql(col, k.facts.storage_type)} GROUP BY ALL"
        )

    values, found, rows, orphan_rows, duplicates = con.execute(
        f"WITH c AS ({distinct(child)}), p AS ({distinct(parent)}) "
        "SELECT count(*), count(p.v), coalesce(sum(c.n), 0), "
        "coalesce(sum(c.n) FILTER (p.v IS NULL), 0), "
        "(SELECT count(*) FROM p WHERE n > 1) "
        "FROM c LEFT JOIN p ON c.v = p.v"
    ).fetchone()
    return Relationship(
        child_table=child.table,
        child_column=child.name,
        parent_table=parent.table,
        parent_column=parent.name,
        coverage=found / values if values else 0.0,
        child_rows=int(rows),
        orphan_rows=int(orphan_rows),
        orphan_values=int(values - found),
        parent_duplicate_keys=int(duplicates),
    )
