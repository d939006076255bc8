"""Row generators both legacy styles share. They return style-neutral column names; a style's
layout maps them to its legacy names (``LASTNAME <- last``)."""

from __future__ import annotations

import numpy as np
import polars as pl

from workbench.synth import clinical, codes, draw, events, notes, people, vocab
from workbench.synth.chunk import Chunk
from workbench.synth.tables import Rows

Columns = dict[str, pl.Series]


def per_person(rng: np.random.Generator, c: people.Cohort, per_year, extra=0) -> Rows:
    """Rows for each person: Poisson in their years in the system, plus ``extra``."""
    counts = rng.poisson(np.asarray(per_year) * c.years()) + extra
    return Rows(np.repeat(np.arange(c.size), counts))


def ranked_days(ch: Chunk, table: str) -> np.ndarray:
    """Event days sorted within each person (rows are ordered by person)."""
    days = ch.event_days(table)
    return days[np.lexsort((days, ch.owners(table)))]


def rank_in_person(owners: np.ndarray) -> np.ndarray:
    return np.arange(len(owners)) - np.searchsorted(owners, owners)


def as_days(s: pl.Series) -> np.ndarray:
    return s.to_physical().fill_null(0).to_numpy().astype(np.int64)


def person(ch: Chunk, name: str) -> Columns:
    """The people table: every person, then this chunk's duplicates."""
    p = people.person_frame(ch.rng(name), ch.cohort, ch.plan.seed, ch.dirt.cp1252_names)
    both = pl.concat([p, people.duplicates(ch.rng("duplicates"), ch.cohort, p)])
    ids = np.concatenate([ch.person_ids(), ch.duplicate_ids()])
    return {"id": draw.ints(ids), **{c: both[c] for c in both.columns}}


def audiometry(ch: Chunk, t: str) -> Columns:
    c, o, rng = ch.cohort, ch.owners(t), ch.rng(t)
    n = len(o)
    days = ranked_days(ch, t)
    age = c.age_at(o, days)
    susceptibility = rng.uniform(0.3, 1.4, c.size)[o]
    years_noise = np.clip((days - c.hire[o]) / 3650, 0, 1.5)
    exposure = c.noise_exposed[o] * susceptibility * years_noise
    db = clinical.audiogram(rng, age, exposure, rng.normal(0, 4, c.size)[o])
    rank = rank_in_person(o)
    test_type = np.where(rank == 0, 0, np.where(rng.random(n) < 0.08, 2, 1))
    out: Columns = {
        "id": ch.ids(t),
        "person": ch.person_fk(t),
        "date": draw.dates(days),
        "type": draw.pick(("BASELINE", "ANNUAL", "RETEST"), test_type),
    }
    out |= {k: draw.ints(np.nan_to_num(v), null=np.isnan(v)) for k, v in db.items()}
    for ear in "RL":
        avg = (db[f"{ear}2000"] + db[f"{ear}3000"] + db[f"{ear}4000"]) / 3
        sts = (rank > 0) & (avg >= 25) & (rng.random(n) < 0.5)
        out[f"sts_{ear}"] = draw.pick(("N", "Y"), sts.astype(np.int64))
    out["tech"] = draw.choice(rng, vocab.TECHNICIANS, n)
    out["audiometer"] = draw.choice(
        rng, ("TREMETRICS RA300", "BENSON CCA-200", "MAICO MA41", "INTERACOUSTICS AD629"), n
    )
    return out


def vital_signs(ch: Chunk, t: str, days: np.ndarray) -> Columns:
    c, o, rng = ch.cohort, ch.owners(t), ch.rng(t)
    v = clinical.vitals(rng, c.sex[o], c.age_at(o, days), c.height_in[o], c.bmi[o])
    out = {}
    for k in ("height", "weight", "bmi", "temp_f"):
        out[k] = draw.nums(np.nan_to_num(v[k]), 1, null=np.isnan(v[k]))
    for k in ("systolic", "diastolic", "pulse", "resp"):
        out[k] = draw.ints(v[k])
    return out


def _code_table(pool: tuple[codes.LocalCode, ...]):
    return (
        [x.code for x in pool],
        [x.name for x in pool],
        [x.route for x in pool],
        [(x.manufacturers or ("UNKNOWN",))[0] for x in pool],
        [(x.manufacturers or ("UNKNOWN",))[-1] for x in pool],
        [x.weight for x in pool],
    )


def vaccines(ch: Chunk, t: str, n: int, days: np.ndarray) -> Columns:
    """Vaccine rows with local codes; ``unmapped_codes`` of them carry a code with no CVX."""
    rng = ch.rng(f"{t}:vaccine")
    pool = codes.VACCINES + codes.UNMAPPED_VACCINES
    code, name, route, mfr_a, mfr_b, w = _code_table(pool)
    mapped = rng.choice(len(codes.VACCINES), n, p=draw.weights(w[: len(codes.VACCINES)]))
    unmapped = len(codes.VACCINES) + rng.choice(
        len(codes.UNMAPPED_VACCINES), n, p=draw.weights(w[len(codes.VACCINES) :])
    )
    idx = np.where(rng.random(n) < ch.dirt.unmapped_codes, unmapped, mapped)
    second_mfr = rng.random(n) < 0.4
    return {
        "code": draw.pick(code, idx),
        "name": draw.pick(name, idx),
        "dose": draw.choice(rng, ("0.5 ML", "0.5ML", ".5 ML", "1 ML"), n, p=(70, 12, 8, 10)),
        "route": draw.pick(route, idx),
        "site": draw.choice(rng, events.INJECTION_SITES[:2], n),
        "lot": events.lot_numbers(rng, n),
        "manufacturer": draw.where(second_mfr, draw.pick(mfr_b, idx), draw.pick(mfr_a, idx)),
        "expires": draw.dates(days + rng.integers(60, 540, n)),
        "given_by": draw.choice(rng, vocab.NURSES, n),
    }


def tb_tests(ch: Chunk, t: str, n: int, days: np.ndarray) -> Columns:
    """TB tests: Mantoux skin tests (placed, read 48-72 h later) and blood IGRAs."""
    rng = ch.rng(f"{t}:tb")
    code, name, _, _, _, w = _code_table(codes.TB_TESTS)
    idx = rng.choice(len(code), n, p=draw.weights(w))
    skin = idx == 0
    tst, ig = clinical.tb_skin_test(rng, n), clinical.igra(rng, n)
    result = np.where(skin, tst["result"], ig["result"])
    read = np.where(skin, days + tst["read_after"], days + rng.integers(1, 4, n))
    not_read = skin & tst["not_read"]
    return {
        "code": draw.pick(code, idx),
        "name": draw.pick(name, idx),
        "placed": draw.dates(days),
        "read": draw.dates(read, null=not_read),
        "induration": draw.ints(np.nan_to_num(tst["induration"]), null=~skin | not_read),
        "result": draw.pick(clinical.TB_RESULTS, result),
        "value": draw.nullify(pl.Series(ig["value"]).round(2).cast(pl.Utf8), skin),
        "lot": draw.nullify(events.lot_numbers(rng, n), ~skin),
        "site": draw.nullify(draw.choice(rng, events.INJECTION_SITES[2:4], n), ~skin),
        "read_by": draw.nullify(draw.choice(rng, vocab.NURSES, n), not_read),
    }


def note_rows(ch: Chunk, t: str, authors: tuple[str, ...] = vocab.PROVIDERS) -> Columns:
    rng = ch.rng(f"{t}:text")
    n = len(ch.rows[t])
    return {
        "id": ch.ids(t),
        "person": ch.person_fk(t),
        "date": draw.dates(ch.event_days(t)),
        "author": draw.choice(rng, authors, n),
        "type": draw.choice(
            rng, ("PROGRESS NOTE", "PHYSICAL EXAM", "PHONE CALL", "RTW EVALUATION"), n
        ),
        "text": notes.notes(rng, n, ch.dirt.note_specials),
    }


def restrictions(ch: Chunk, t: str, start: np.ndarray) -> Columns:
    rng = ch.rng(f"{t}:restriction")
    n = len(start)
    as_of = draw.day(people.AS_OF)
    permanent = rng.random(n) < 0.08
    end = start + np.clip(rng.lognormal(np.log(30), 0.8, n), 3, 365).astype(np.int64)
    open_ended = permanent | (end > as_of)
    return {
        "restriction": events.weighted(rng, events.RESTRICTIONS, n),
        "start": draw.dates(start),
        "end": draw.dates(np.minimum(end, as_of), null=open_ended),
        "permanent": draw.pick(("N", "Y"), permanent.astype(np.int64)),
        "issued_by": draw.choice(rng, vocab.PROVIDERS, n),
    }


def lost_time(ch: Chunk, t: str, start: np.ndarray) -> Columns:
    rng = ch.rng(f"{t}:lost")
    n = len(start)
    as_of = draw.day(people.AS_OF)
    days_lost = np.clip(rng.lognormal(np.log(7), 0.9, n), 1, 365).astype(np.int64)
    still_out = start + days_lost > as_of
    days_lost = np.where(still_out, as_of - start, days_lost)
    return {
        "start": draw.dates(start),
        "rtw": draw.dates(start + days_lost, null=still_out),
        "days": draw.ints(days_lost),
        "reason": events.weighted(rng, events.LOST_TIME_REASONS, n),
        "recordable": draw.pick(("N", "Y"), (rng.random(n) < 0.6).astype(np.int64)),
    }


def fill(values: str, n: int) -> pl.Series:
    return pl.Series([values] * n, dtype=pl.Utf8)
