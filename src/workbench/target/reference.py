"""Reference rows: what the tenant configures before any migration (facilities, staff), which
migrated rows point at. A clean environment is prepared with them; preflight checks them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.errors import TargetError
from workbench.mapping import library
from workbench.snapshot.staging import quote_ident
from workbench.target.model import TargetModel
from workbench.yamldoc import load_yaml


@dataclass(frozen=True)
class ReferenceRows:
    path: Path
    rows: dict[str, list[dict]]  # reference table -> rows

    def keys(self, model: TargetModel) -> dict[str, list[str]]:
        return {
            t: [str(r[model.tables[t].primary_key]) for r in rows] for t, rows in self.rows.items()
        }


def load_reference_rows(mappings_dir: Path | None, model: TargetModel) -> ReferenceRows | None:
    path = library.find(mappings_dir, "reference", model.name)
    if path is None:
        return None
    doc = load_yaml(path, TargetError)
    data = doc.data() or {}
    rows = data.get("rows") or {}
    for table, items in rows.items():
        if table not in model.tables or not model.tables[table].reference:
            raise TargetError(
                f"{doc.at(['rows', table])}: {table} is not a reference table of model {model.name}"
            )
        for j, row in enumerate(items):
            unknown = set(row) - set(model.tables[table].columns)
            if unknown:
                raise TargetError(
                    f"{doc.at(['rows', table, j])}: {table} has no column {sorted(unknown)[0]!r}"
                )
    return ReferenceRows(path, rows)


def seed(target, model: TargetModel, reference: ReferenceRows) -> dict[str, int]:
    """Insert the reference rows the target does not have yet (by primary key)."""
    added = {}
    order = [t.name for t in model.load_order() if t.name in reference.rows]
    with target.transaction():
        for table in order:
            pk = model.tables[table].primary_key
            have = set(
                target.fetch(f'SELECT "{pk}" AS k FROM {target.q(table)}').column("k").to_pylist()
            )
            new = [r for r in reference.rows[table] if str(r[pk]) not in have]
            for row in new:
                cols = list(row)
                placeholders = ", ".join("?" for _ in cols)
                target.execute(
                    f"INSERT INTO {target.q(table)} ({', '.join(quote_ident(c) for c in cols)}) "
                    f"VALUES ({placeholders})",
                    [row[c] for c in cols],
                )
            added[table] = len(new)
    return added
