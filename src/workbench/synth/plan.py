"""The plan: how many rows every table gets in every chunk, known before a byte is written.

Planning draws only the structure (who works when, who was registered twice, how many rows
each person owns) from each chunk's own plan stream. That is cheap even at a million people,
and it gives every chunk the global offsets of its row ids, so ids are contiguous and no chunk
depends on another having been generated first.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from workbench.synth import draw, people
from workbench.synth.dirt import Dirt
from workbench.synth.tables import Rows, Style

DEFAULT_CHUNK_SIZE = 10_000


@dataclass(frozen=True)
class ChunkPlan:
    index: int
    first: int  # global index of the chunk's first person
    size: int
    duplicates: int
    rows: dict[str, int]  # rows per table in this chunk (people table: size + duplicates)


@dataclass(frozen=True)
class Plan:
    style: Style
    seed: int
    people: int
    chunk_size: int
    dirt: Dirt
    chunks: tuple[ChunkPlan, ...]
    offsets: dict[str, tuple[int, ...]]  # rows of each table before each chunk
    duplicate_offsets: tuple[int, ...]

    @cached_property
    def totals(self) -> dict[str, int]:
        return {t.name: sum(c.rows[t.name] for c in self.chunks) for t in self.style.tables}

    @property
    def duplicates(self) -> int:
        return sum(c.duplicates for c in self.chunks)

    @property
    def max_person_id(self) -> int:
        return self.style.people_id_base + self.people + self.duplicates


def structure(style: Style, seed: int, chunk: int, first: int, size: int, dirt: Dirt):
    """A chunk's skeleton cohort and row owners, drawn from its plan stream. The same call
    during generation gives the same arrays."""
    rng = draw.stream(seed, style.name, chunk, "plan")
    cohort = people.skeleton(rng, first, size, dirt.duplicate_people)
    rows: dict[str, Rows] = style.plan_rows(rng, cohort)
    return cohort, rows


def make_plan(
    style: Style, people_count: int, seed: int, dirt: Dirt, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Plan:
    chunks = []
    for index, first in enumerate(range(0, people_count, chunk_size)):
        size = min(chunk_size, people_count - first)
        cohort, rows = structure(style, seed, index, first, size, dirt)
        dups = int(cohort.duplicated.sum())
        counts = {t.name: (size + dups if t.people else len(rows[t.name])) for t in style.tables}
        chunks.append(ChunkPlan(index, first, size, dups, counts))
    offsets = {
        t.name: tuple(int(x) for x in np.cumsum([0] + [c.rows[t.name] for c in chunks])[:-1])
        for t in style.tables
    }
    dup_offsets = tuple(int(x) for x in np.cumsum([0] + [c.duplicates for c in chunks])[:-1])
    return Plan(style, seed, people_count, chunk_size, dirt, tuple(chunks), offsets, dup_offsets)
