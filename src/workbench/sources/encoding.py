"""Which text encoding a legacy file uses, and turning it into UTF-8 for DuckDB.

Detection reads only a sample: the head of the file plus a few blocks spread over the rest,
so that an ASCII head does not hide a Latin-1 tail. DuckDB reads UTF-8 itself (with or
without a BOM); anything else is transcoded to a UTF-8 spool file, in chunks, so memory stays
bounded however large the file is.
"""

from __future__ import annotations

import codecs
from pathlib import Path

from workbench.errors import ConfigError, SourceError

UTF8 = "utf-8"
UTF8_SIG = "utf-8-sig"

HEAD_BYTES = 1 << 20
BLOCK_BYTES = 1 << 16
BLOCKS = 16
CHUNK = 1 << 22

# Longest BOM first: the UTF-32 LE BOM starts with the UTF-16 LE one.
_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, UTF8_SIG),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]

# The five bytes that Windows-1252 leaves undefined; Python's codec refuses them.
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")
_C1 = frozenset(range(0x80, 0xA0))


def _c1_as_latin1(error: UnicodeDecodeError) -> tuple[str, int]:
    # As browsers do for windows-1252: an undefined byte stands for the C1 control of the same
    # value, so no byte is ever lost or refused.
    return error.object[error.start : error.end].decode("latin-1"), error.end


codecs.register_error("workbench-c1", _c1_as_latin1)


def normalise(name: str) -> str:
    """A configured encoding name, as Python's codec registry spells it."""
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        raise ConfigError(f"unknown encoding {name!r}") from None
    return {"utf-8": UTF8, "utf-8-sig": UTF8_SIG, "iso8859-1": "latin-1"}.get(canonical, canonical)


def needs_transcoding(encoding: str) -> bool:
    return encoding not in (UTF8, UTF8_SIG)


def detect(path: Path) -> str:
    """The encoding of ``path``: a BOM if there is one, else UTF-8, else cp1252 or Latin-1."""
    with path.open("rb") as f:
        head = f.read(HEAD_BYTES)
        blocks = [head, *_spread_blocks(f, path.stat().st_size)]
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name
    if utf16 := _bomless_utf16(head):
        return utf16
    whole = len(head) == path.stat().st_size
    if all(_is_utf8(b, final=whole and i == 0) for i, b in enumerate(blocks)):
        return UTF8
    high = set().union(*(set(b) & _C1 for b in blocks))
    if high and not high & _CP1252_UNDEFINED:
        return "cp1252"
    return "latin-1"


def _spread_blocks(f, size: int) -> list[bytes]:
    if size <= HEAD_BYTES + BLOCK_BYTES:
        return []
    last = size - BLOCK_BYTES
    out = []
    for i in range(1, BLOCKS + 1):
        f.seek(HEAD_BYTES + (last - HEAD_BYTES) * i // BLOCKS)
        out.append(f.read(BLOCK_BYTES))
    return out


def _is_utf8(block: bytes, *, final: bool) -> bool:
    # A block cut from the middle of the file may start inside a multi-byte character.
    start = 0
    while start < min(3, len(block)) and 0x80 <= block[start] < 0xC0:
        start += 1
    try:
        codecs.getincrementaldecoder(UTF8)().decode(block[start:], final=final)
    except UnicodeDecodeError:
        return False
    return True


def _bomless_utf16(head: bytes) -> str | None:
    sample = head[: len(head) // 2 * 2][:4096]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    zero_even, zero_odd = even.count(0) / len(even), odd.count(0) / len(odd)
    if zero_odd > 0.4 and zero_even < 0.05:
        return "utf-16-le"
    if zero_even > 0.4 and zero_odd < 0.05:
        return "utf-16-be"
    return None


def decode_sample(path: Path, encoding: str, limit: int) -> tuple[str, bool]:
    """The first ``limit`` bytes of ``path`` as text, and whether that is the whole file."""
    with path.open("rb") as f:
        raw = f.read(limit)
        whole = not f.read(1)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(raw, final=whole), whole


def transcode(path: Path, encoding: str, spool: Path, display: str) -> None:
    """Write ``path`` to ``spool`` as UTF-8 without a BOM, chunk by chunk."""
    errors = "workbench-c1" if encoding == "cp1252" else "strict"
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    done = 0
    try:
        with path.open("rb") as src, spool.open("wb") as dst:
            while chunk := src.read(CHUNK):
                text = decoder.decode(chunk)
                if done == 0:
                    text = text.removeprefix("\ufeff")
                dst.write(text.encode(UTF8))
                done += len(chunk)
            dst.write(decoder.decode(b"", final=True).encode(UTF8))
    except UnicodeDecodeError as e:
        raise SourceError(
            f"{display}: not valid {encoding} near byte {done + e.start}: {e.reason}; "
            "set 'encoding' for this source"
        ) from None
