"""The character set a dump's text is written in, and turning it into UTF-8.

mysqldump writes text in the connection's character set and says which at the top of the
dump (``/*!40101 SET NAMES latin1 */``); legacy systems often dump in latin1. Only character
sets in which every byte below 0x80 is ASCII are read: in the others (Shift-JIS, GBK, UTF-16)
a quote or a backslash byte can be half of another character, so the dump cannot be split
into statements without decoding all of it first.
"""

from __future__ import annotations

import codecs
import re

from workbench.sources import encoding  # noqa: F401  (registers the "workbench-c1" handler)

UTF8 = "utf-8"
# MySQL's names for the character sets it can dump in, as Python's codecs spell them.
# MySQL's latin1 is Windows-1252, with its five undefined bytes read as C1 controls.
_MYSQL = {
    "utf8": UTF8, "utf8mb3": UTF8, "utf8mb4": UTF8, "binary": UTF8, "ascii": "ascii",
    "latin1": "cp1252", "latin2": "iso8859-2", "latin5": "iso8859-9", "latin7": "iso8859-13",
    "cp1250": "cp1250", "cp1251": "cp1251", "cp1256": "cp1256", "cp1257": "cp1257",
    "cp850": "cp850", "cp852": "cp852", "cp866": "cp866", "greek": "iso8859-7",
    "hebrew": "iso8859-8", "koi8r": "koi8-r", "koi8u": "koi8-u", "macroman": "mac-roman",
    "tis620": "cp874", "armscii8": "armscii8", "geostd8": "geostd8",
}  # fmt: skip
_SINGLE_BYTE = re.compile(r"(ascii|latin-1|cp(12\d\d|8\d\d)|iso8859-\d+|koi8-\w|mac-\w+)")
_SET_NAMES = re.compile(r"\s*SET\s+(?:NAMES|CHARACTER\s+SET|CHARSET)\s+['\"`]?(\w+)", re.I)


def codec_for(name: str) -> str | None:
    """The Python codec for a MySQL or Python character set name; None if it is unknown or
    not ASCII-compatible byte by byte."""
    mysql = _MYSQL.get(name.lower())
    if mysql:
        return mysql if _known(mysql) else None
    try:
        python = codecs.lookup(name).name
    except LookupError:
        return None
    if python in ("utf-8", "utf-8-sig"):
        return UTF8
    return python if _SINGLE_BYTE.fullmatch(python) else None


def named_by(statement: str) -> str | None:
    """The character set a cleaned ``SET NAMES x`` / ``SET CHARACTER SET x`` names."""
    m = _SET_NAMES.match(statement)
    return m.group(1) if m else None


def decode(data: bytes, codec: str, errors: str = "strict") -> str:
    """``data`` as text; MySQL's latin1 maps every byte, so it never fails."""
    if codec == "cp1252":
        errors = "workbench-c1"
    return data.decode(codec, errors)


def _known(codec: str) -> bool:
    try:
        codecs.lookup(codec)
    except LookupError:
        return False
    return True
