"""Free-text notes: plain sentences, and at the ``note_specials`` rate the characters that
break naive loaders (newlines, both quotes, commas, semicolons, tabs, backslashes, cp1252
punctuation). Notes never end in whitespace."""

from __future__ import annotations

import numpy as np
import polars as pl

from workbench.synth import draw, vocab

_SPECIALS = (
    vocab.SPECIAL_DOUBLE_QUOTE,
    vocab.SPECIAL_SINGLE_QUOTE,
    vocab.SPECIAL_COMMA,
    vocab.SPECIAL_SEMICOLON,
    vocab.SPECIAL_TAB,
    vocab.SPECIAL_BACKSLASH,
    vocab.SPECIAL_CP1252,
)
_SPECIAL_SHARE = (0.35, 0.35, 0.3, 0.2, 0.12, 0.12, 0.12)


def notes(rng: np.random.Generator, n: int, special_rate: float) -> pl.Series:
    special = rng.random(n) < special_rate
    first = draw.choice(rng, vocab.NOTE_SENTENCES, n)
    second = draw.choice(rng, vocab.NOTE_SENTENCES, n)
    third = draw.choice(rng, vocab.NOTE_SENTENCES, n)
    # plain notes join sentences with ". "; special ones sometimes with a line break
    breaks = draw.choice(rng, [".\n", ".\r\n", ".\n\n"], n, p=(6, 3, 1))
    newline = special & (rng.random(n) < 0.45)
    joint = draw.where(newline, breaks, pl.Series([". "] * n, dtype=pl.Utf8))
    length = rng.integers(1, 4, n)
    parts: list[pl.Series | str] = [first]
    parts.append(draw.where(length >= 2, draw.concat(joint, second), _empty(n)))
    parts.append(draw.where(length >= 3, draw.concat(". ", third), _empty(n)))
    for pool, share in zip(_SPECIALS, _SPECIAL_SHARE, strict=True):
        use = special & (rng.random(n) < share)
        parts.append(draw.where(use, draw.concat(". ", draw.choice(rng, pool, n)), _empty(n)))
    parts.append(".")
    return draw.concat(*parts)


def _empty(n: int) -> pl.Series:
    return pl.Series([""] * n, dtype=pl.Utf8)
