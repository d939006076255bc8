"""The people of the synthetic clinic: who they are, when they worked, what they look like.

A chunk's people are drawn in two steps from two streams. The *skeleton* (employment dates,
department, who was registered twice) comes from the plan stream because it decides how many
rows every table gets; the rest (names, birth dates, body size) from the people stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from workbench.synth import draw, vocab

AS_OF = date(2019, 6, 28)  # the day the legacy system was extracted
SYSTEM_START = date(1996, 1, 1)  # the legacy system's go-live: no clinical rows before it
EARLIEST_HIRE = date(1972, 1, 1)
SSN_SPACE = 665 * 99 * 9999  # area 001-665, group 01-99, serial 0001-9999
SSN_STEP = 406_819_619  # shares no factor with SSN_SPACE: idx -> SSN is one-to-one


@dataclass
class Cohort:
    """One chunk's people as numpy arrays; dates are days since 1970-01-01."""

    first: int  # global index of the chunk's first person
    hire: np.ndarray
    start: np.ndarray  # first day the person can have clinical rows
    end: np.ndarray  # last such day: termination or the extraction date
    terminated: np.ndarray
    dept: np.ndarray
    duplicated: np.ndarray  # registered a second time under a new id
    sex: np.ndarray | None = None  # 1 = male
    dob: np.ndarray | None = None
    height_in: np.ndarray | None = None
    bmi: np.ndarray | None = None

    @property
    def size(self) -> int:
        return len(self.hire)

    @property
    def noise_exposed(self) -> np.ndarray:
        return np.array([d[1] for d in vocab.DEPARTMENTS])[self.dept]

    @property
    def healthcare(self) -> np.ndarray:
        return np.array([d[2] for d in vocab.DEPARTMENTS])[self.dept]

    def years(self) -> np.ndarray:
        return np.maximum(self.end - self.start, 0) / 365.25

    def age_at(self, owners: np.ndarray, days: np.ndarray) -> np.ndarray:
        return (days - self.dob[owners]) / 365.25


def skeleton(rng: np.random.Generator, first: int, size: int, duplicate_rate: float) -> Cohort:
    as_of, go_live = draw.day(AS_OF), draw.day(SYSTEM_START)
    earliest = draw.day(EARLIEST_HIRE)
    # more recent hires are more common: a workforce that grows and turns over
    hire = (as_of - 30 - (as_of - 30 - earliest) * rng.random(size) ** 1.6).astype(np.int64)
    start = np.maximum(hire, go_live)
    terminated = rng.random(size) < 0.35
    term = draw.between(rng, np.minimum(start + 60, as_of), np.full(size, as_of))
    end = np.where(terminated, term, as_of)
    dept = rng.choice(len(vocab.DEPARTMENTS), size=size, p=draw.weights(vocab.DEPARTMENT_WEIGHTS))
    duplicated = rng.random(size) < duplicate_rate
    return Cohort(first, hire, start, end, terminated, dept, duplicated)


def flesh_out(rng: np.random.Generator, c: Cohort) -> None:
    n = c.size
    c.sex = (rng.random(n) < 0.62).astype(np.int64)
    age_at_hire = np.clip(rng.normal(31, 9, n), 18, 64)
    c.dob = c.hire - (age_at_hire * 365.25).astype(np.int64)
    c.height_in = np.where(c.sex == 1, rng.normal(69.3, 2.9, n), rng.normal(63.9, 2.7, n))
    c.bmi = np.clip(rng.lognormal(np.log(28.0), 0.18, n), 16.5, 58)


def ssn_digits(global_index: np.ndarray, seed: int) -> np.ndarray:
    """A distinct 9-digit SSN per person (never area 000, 666 or 9xx)."""
    x = (global_index.astype(np.int64) * SSN_STEP + (seed * 2_654_435_761) % SSN_SPACE) % SSN_SPACE
    area = x // (99 * 9999) + 1
    group = (x // 9999) % 99 + 1
    serial = x % 9999 + 1
    return area * 1_000_000 + group * 10_000 + serial


def format_ssn(ssn: np.ndarray, dashes: np.ndarray | bool = True) -> pl.Series:
    plain = draw.zfill(ssn, 9)
    dashed = pl.select(
        pl.concat_str(
            [
                pl.lit(plain).str.slice(0, 3),
                pl.lit(plain).str.slice(3, 2),
                pl.lit(plain).str.slice(5),
            ],
            separator="-",
        )
    ).to_series()
    if isinstance(dashes, bool):
        return dashed if dashes else plain
    return draw.where(dashes, dashed, plain)


def names(rng: np.random.Generator, c: Cohort, cp1252_rate: float) -> tuple[pl.Series, pl.Series]:
    """Last and first names; a share ``cp1252_rate`` of people get an accented name."""
    n = c.size
    accented = rng.random(n) < cp1252_rate
    which = rng.random(n)  # accented last name, first name, or both
    acc_last = accented & (which < 0.75)
    acc_first = accented & (which >= 0.55)
    last = draw.where(
        acc_last,
        draw.choice(rng, vocab.LAST_NAMES_CP1252, n),
        draw.choice(rng, vocab.LAST_NAMES, n),
    )
    male = c.sex == 1
    first_plain = draw.where(
        male, draw.choice(rng, vocab.FIRST_NAMES_M, n), draw.choice(rng, vocab.FIRST_NAMES_F, n)
    )
    first_acc = draw.where(
        male,
        draw.choice(rng, vocab.FIRST_NAMES_M_CP1252, n),
        draw.choice(rng, vocab.FIRST_NAMES_F_CP1252, n),
    )
    return last, draw.where(acc_first, first_acc, first_plain)


def person_frame(
    rng: np.random.Generator, c: Cohort, seed: int, cp1252_rate: float
) -> pl.DataFrame:
    """The people's registration details, in the style-neutral names the styles rename."""
    n = c.size
    last, first = names(rng, c, cp1252_rate)
    city = rng.integers(0, len(vocab.CITIES), n)
    cities = vocab.CITIES
    street_no = pl.Series(rng.integers(100, 9999, n)).cast(pl.Utf8)
    middle = draw.nullify(
        draw.choice(rng, [chr(ord("A") + i) for i in range(26)], n), rng.random(n) < 0.25
    )
    job = draw.choice(rng, vocab.JOB_TITLES, n)
    return pl.DataFrame(
        {
            "last": last,
            "first": first,
            "middle": middle,
            "ssn": format_ssn(ssn_digits(c.first + np.arange(n), seed)),
            "dob": draw.dates(c.dob),
            "sex": draw.pick(["F", "M"], c.sex),
            "address": draw.concat(
                street_no,
                " ",
                draw.choice(rng, vocab.STREETS, n),
                " ",
                draw.choice(rng, vocab.STREET_TYPES, n),
            ),
            "city": draw.pick([x[0] for x in cities], city),
            "state": draw.pick([x[1] for x in cities], city),
            "zip": draw.concat(draw.pick([x[2] for x in cities], city), draw.digits(rng, n, 2)),
            "phone": draw.concat(
                "(", draw.pick([x[3] for x in cities], city), ") 555-", draw.digits(rng, n, 4)
            ),
            "hire": draw.dates(c.hire),
            "term": draw.dates(c.end, null=~c.terminated),
            "dept": draw.pick([d[0] for d in vocab.DEPARTMENTS], c.dept),
            "job": job,
            "status": draw.pick(["A", "T"], c.terminated.astype(np.int64)),
        }
    )


def duplicates(rng: np.random.Generator, c: Cohort, people: pl.DataFrame) -> pl.DataFrame:
    """The same people registered again: new id (added by the caller), a re-hire date, and the
    small differences a second registration brings (name case, SSN without dashes)."""
    idx = np.flatnonzero(c.duplicated)
    dup = people[idx]
    k = len(idx)
    swap_case = rng.random(k) < 0.5
    rehire = draw.between(rng, c.hire[idx] + 30, np.full(k, draw.day(AS_OF)))
    plain_ssn = rng.random(k) < 0.5
    return dup.with_columns(
        last=draw.where(swap_case, dup["last"].str.to_uppercase(), dup["last"]),
        ssn=draw.where(plain_ssn, dup["ssn"].str.replace_all("-", "", literal=True), dup["ssn"]),
        hire=draw.dates(np.minimum(rehire, draw.day(AS_OF))),
        term=pl.Series([None] * k, dtype=pl.Date),
        status=pl.Series(["A"] * k, dtype=pl.Utf8),
    )
