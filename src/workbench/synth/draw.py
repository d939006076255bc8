"""Small vectorised drawing helpers shared by the value generators.

Dates are days since 1970-01-01 in numpy int64 arrays until they become polars Date series.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import date

import numpy as np
import polars as pl

EPOCH = date(1970, 1, 1)


def stream(seed: int, style: str, chunk: int, purpose: str) -> np.random.Generator:
    """The random stream for one purpose in one chunk: independent of every other chunk, so
    chunks can be generated in any order and give the same bytes."""
    key = (zlib.crc32(style.encode()), chunk, zlib.crc32(purpose.encode()))
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def day(d: date) -> int:
    return (d - EPOCH).days


def weights(w: Sequence[float]) -> np.ndarray:
    a = np.asarray(w, dtype=float)
    return a / a.sum()


def choice(
    rng: np.random.Generator, pool: Sequence[str], n: int, p: Sequence[float] | None = None
) -> pl.Series:
    idx = rng.choice(len(pool), size=n, p=None if p is None else weights(p))
    return pl.Series(list(pool), dtype=pl.Utf8).gather(idx)


def pick(pool: Sequence[str], idx: np.ndarray) -> pl.Series:
    return pl.Series(list(pool), dtype=pl.Utf8).gather(idx)


def digits(rng: np.random.Generator, n: int, width: int) -> pl.Series:
    return zfill(rng.integers(0, 10**width, n), width)


def zfill(values: np.ndarray, width: int) -> pl.Series:
    return pl.Series(values, dtype=pl.Int64).cast(pl.Utf8).str.zfill(width)


def between(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A uniform day in [lo, hi] (hi < lo is treated as lo)."""
    span = np.maximum(hi - lo, 0) + 1
    return lo + np.floor(rng.random(len(lo)) * span).astype(np.int64)


def dates(days: np.ndarray, null: np.ndarray | None = None) -> pl.Series:
    s = pl.Series(np.asarray(days, dtype=np.int32)).cast(pl.Date)
    return nullify(s, null)


def ints(values: np.ndarray, null: np.ndarray | None = None) -> pl.Series:
    return nullify(pl.Series(np.asarray(values, dtype=np.int64)), null)


def nums(values: np.ndarray, decimals: int, null: np.ndarray | None = None) -> pl.Series:
    return nullify(pl.Series(np.round(np.asarray(values, dtype=float), decimals)), null)


def nullify(s: pl.Series, null: np.ndarray | None) -> pl.Series:
    if null is None or not null.any():
        return s
    return (
        pl.select(pl.when(pl.lit(pl.Series(null))).then(pl.lit(None, s.dtype)).otherwise(pl.lit(s)))
        .to_series()
        .alias(s.name)
    )


def where(mask: np.ndarray, a: pl.Series, b: pl.Series) -> pl.Series:
    return pl.select(
        pl.when(pl.lit(pl.Series(mask))).then(pl.lit(a)).otherwise(pl.lit(b))
    ).to_series()


def concat(*parts: pl.Series | str) -> pl.Series:
    exprs = [pl.lit(p) for p in parts]
    return pl.select(pl.concat_str(exprs)).to_series()
