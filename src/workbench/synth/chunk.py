"""One chunk of people and everything they own: what a table builder sees."""

from __future__ import annotations

import numpy as np
import polars as pl

from workbench.synth import draw, people
from workbench.synth.plan import Plan, structure
from workbench.synth.tables import Rows

# Share of a duplicated person's clinical rows recorded under the duplicate id.
REPOINT_SHARE = 0.35


class Chunk:
    def __init__(self, plan: Plan, index: int):
        cp = plan.chunks[index]
        self.plan = plan
        self.index = index
        self.dirt = plan.dirt
        self.cohort, self.rows = structure(
            plan.style, plan.seed, index, cp.first, cp.size, plan.dirt
        )
        people.flesh_out(self.rng("people"), self.cohort)
        self.frames: dict[str, pl.DataFrame] = {}  # tables built so far, before dirt

    def rng(self, purpose: str) -> np.random.Generator:
        return draw.stream(self.plan.seed, self.plan.style.name, self.index, purpose)

    @property
    def size(self) -> int:
        return self.cohort.size

    def person_ids(self) -> np.ndarray:
        return self.plan.style.people_id_base + self.cohort.first + np.arange(self.size) + 1

    def duplicate_ids(self) -> np.ndarray:
        """Ids of this chunk's duplicates: after every original person's id."""
        k = int(self.cohort.duplicated.sum())
        base = self.plan.style.people_id_base + self.plan.people
        return base + self.plan.duplicate_offsets[self.index] + np.arange(k) + 1

    def row_ids(self, table: str) -> np.ndarray:
        n = len(self.rows[table])
        return self.plan.offsets[table][self.index] + np.arange(n, dtype=np.int64) + 1

    def ids(self, table: str) -> pl.Series:
        return draw.ints(self.row_ids(table))

    def owners(self, table: str) -> np.ndarray:
        return self.rows[table].owners

    def person_fk(self, table: str) -> pl.Series:
        """The people-table id each row points at. Some rows of a duplicated person point at
        the duplicate's id, as when a clinic keeps charting on the second registration."""
        owners = self.owners(table)
        fk = self.person_ids()[owners]
        dup_of = np.full(self.size, -1, dtype=np.int64)
        dup_of[self.cohort.duplicated] = self.duplicate_ids()
        moved = (dup_of[owners] >= 0) & (
            self.rng(f"repoint:{table}").random(len(owners)) < REPOINT_SHARE
        )
        return draw.ints(np.where(moved, dup_of[owners], fk))

    def event_days(self, table: str, purpose: str = "date") -> np.ndarray:
        """A day within each owner's time in the legacy system."""
        o = self.owners(table)
        rng = self.rng(f"{table}:{purpose}")
        return draw.between(rng, self.cohort.start[o], self.cohort.end[o])

    def parent(self, table: str) -> np.ndarray:
        parent = self.rows[table].parent
        assert parent is not None, f"{table} has no parent rows"
        return parent

    def from_parent(self, table: str, parent_table: str, column: str) -> pl.Series:
        """A column of each row's parent row (null where the row has none)."""
        parent = self.parent(table)
        source = self.frames[parent_table][column]
        taken = (
            source.gather(np.where(parent < 0, 0, parent))
            if len(source)
            else source.clear(len(parent))
        )
        return draw.nullify(taken, parent < 0)

    def missing_ids(self, table: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """Ids that no row of ``table`` has: where orphans point."""
        if table == self.plan.style.people_table.name:
            top = self.plan.max_person_id
        else:
            top = self.plan.totals[table]
        return top + 1 + rng.integers(0, max(top, 1000), n)


def combine(*parts: Rows) -> Rows:
    """Rows from several sources, ordered by owner (stable), as a legacy table usually is."""
    owners = np.concatenate([p.owners for p in parts])
    parent = np.concatenate(
        [p.parent if p.parent is not None else np.full(len(p), -1) for p in parts]
    )
    variant = np.concatenate([np.full(len(p), i) for i, p in enumerate(parts)])
    order = np.argsort(owners, kind="stable")
    return Rows(owners[order], parent[order], variant[order])
