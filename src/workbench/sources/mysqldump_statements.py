"""The statements of a dump other than its rows: CREATE TABLE, INSERT headers, and the rest.

These statements are small, so they are read as text. A version comment ``/*!50003 ... */``
holds SQL that every current server runs, so its markers are dropped and its content kept;
a plain comment is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# One SQL token at a time; possessive quantifiers keep an unterminated string linear.
TOKEN = re.compile(
    rb"""
    (?P<ws>[ \t\r\n\f]++)
  | (?P<str>'(?:[^'\\]++|\\.|'')*+'|"(?:[^"\\]++|\\.|"")*+")
  | (?P<ident>`(?:[^`]++|``)*+`)
  | (?P<vopen>/\*![0-9]*+)
  | (?P<comment>/\*.*?\*/|--(?=[ \t\f\r\n]|\Z)[^\n]*+|\#[^\n]*+)
  | (?P<vclose>\*/)
  | (?P<word>[A-Za-z0-9_$@.]++)
  | (?P<other>.)
    """,
    re.S | re.X,
)
# A token that ends with the available text may go on in text not yet read.
OPEN_ENDED = frozenset(b"'\"`/-#*")

_TEXT_TOKEN = re.compile(
    r"""'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*"|`(?:[^`]|``)*`|/\*!\d*|/\*.*?\*/|\*/"""
    r"""|--(?=[ \t\f\r\n]|$)[^\n]*|\#[^\n]*|[^'"`/*#(),-]+|.""",
    re.S,
)
_NAME = r"(?:`(?:[^`]|``)*`|\"(?:[^\"]|\"\")*\"|[\w$]+)"
_QUALIFIED = rf"{_NAME}(?:\s*\.\s*{_NAME})?"
_CREATE_TABLE = re.compile(
    rf"\s*CREATE\s+(?:TEMPORARY\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?({_QUALIFIED})\s*(\(?)",
    re.I | re.S,
)
_INSERT = re.compile(
    rf"\s*(?:INSERT|REPLACE)(?:\s+(?:LOW_PRIORITY|DELAYED|HIGH_PRIORITY|IGNORE))*"
    rf"(?:\s+INTO)?\s+({_QUALIFIED})(?:\s+PARTITION\s*\([^)]*\))?\s*(?:\((.*)\))?\s*$",
    re.I | re.S,
)
_NOT_COLUMNS = {
    "PRIMARY", "KEY", "INDEX", "UNIQUE", "CONSTRAINT", "FOREIGN", "FULLTEXT", "SPATIAL",
    "CHECK", "PERIOD", "SYSTEM",
}  # fmt: skip
_COLUMN_TYPE = re.compile(
    r"""\s*([A-Za-z]+(?:\s+(?:precision|varying))?)"""
    r"""(?:\s*(\((?:[^()'"]|'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.|"")*")*\)))?"""
    r"""((?:\s+(?:unsigned|signed|zerofill))*)""",
    re.I | re.S,
)
# Statements that set up a session or wrap a load; they hold no data and change no table.
_SESSION = {
    "SET", "LOCK", "UNLOCK", "USE", "COMMIT", "ROLLBACK", "START", "BEGIN", "SAVEPOINT",
    "RELEASE", "FLUSH", "SELECT", "DO",
}  # fmt: skip
_OBJECTS = ("TRIGGER", "PROCEDURE", "FUNCTION", "EVENT", "VIEW", "INDEX", "PACKAGE", "SEQUENCE")
_KINDS = frozenset(("TABLE", "DATABASE", "SCHEMA", *_OBJECTS))
OBJECT_KINDS = frozenset(k.lower() for k in _OBJECTS)


@dataclass(frozen=True)
class TableDef:
    name: str
    columns: list[tuple[str, str]]  # (name, declared type)


@dataclass(frozen=True)
class Classified:
    """What a statement that is not a row insert means for staging."""

    action: str  # "table", "drop", "truncate", "ignore" (session, no data) or "skip" (reported)
    kind: str
    name: str


def clean(text: str) -> str:
    """The statement as a server runs it: comments dropped, version comments opened."""
    out, depth = [], 0
    for m in _TEXT_TOKEN.finditer(text):
        tok = m.group()
        if tok.startswith("/*!"):
            depth += 1
            out.append(" ")
        elif tok == "*/" and depth:
            depth -= 1
            out.append(" ")
        elif tok.startswith(("/*", "--", "#")):
            out.append(" ")
        else:
            out.append(tok)
    return "".join(out)


def unquote(name: str) -> str:
    """The last part of a possibly qualified, possibly quoted identifier."""
    parts = re.findall(_NAME, name)
    last = parts[-1] if parts else name
    if last[:1] == "`":
        return last[1:-1].replace("``", "`")
    if last[:1] == '"':
        return last[1:-1].replace('""', '"')
    return last


def parse_create_table(text: str) -> TableDef | None:
    """Columns of a cleaned ``CREATE TABLE``; None for ``CREATE TABLE .. LIKE/AS SELECT``."""
    m = _CREATE_TABLE.match(text)
    if not m or not m.group(2):
        return None
    body = _parenthesised(text, m.end() - 1)
    columns = []
    for item in _split_top_level(body):
        name_match = re.match(rf"\s*({_NAME})", item)
        if not name_match:
            continue
        raw_name = name_match.group(1)
        if raw_name[0] not in '`"' and raw_name.upper() in _NOT_COLUMNS:
            continue
        columns.append((unquote(raw_name), _declared_type(item[name_match.end() :])))
    return TableDef(unquote(m.group(1)), columns)


def parse_insert_header(text: str) -> tuple[str, list[str] | None] | None:
    """Table and column list of a cleaned ``INSERT ... INTO t (a, b)`` up to ``VALUES``."""
    m = _INSERT.match(text)
    if not m:
        return None
    columns = None
    if m.group(2) is not None:
        columns = [unquote(c) for c in re.findall(_NAME, m.group(2))]
    return unquote(m.group(1)), columns


def classify(text: str) -> Classified:
    """What a cleaned statement other than ``INSERT .. VALUES`` means for staging."""
    words = re.findall(r"`(?:[^`]|``)*`|[\w$@]+|=", text[:2000])
    upper = [w.upper() for w in words]
    first = upper[0] if upper else ""
    if first == "CREATE":
        return _classify_create(words, upper)
    if first == "DROP" and len(upper) > 1 and upper[1] == "TABLE":
        names = [unquote(w) for w in words[2:] if w.upper() not in ("IF", "EXISTS")]
        return Classified("drop", "table", ",".join(names))
    if first == "TRUNCATE":
        rest = [w for w in words[1:] if w.upper() != "TABLE"]
        return Classified("truncate", "table", unquote(rest[0]) if rest else "")
    if first in _SESSION or first == "DROP":
        return Classified("ignore", first.lower(), "")
    if first == "ALTER" and len(upper) > 1:
        if upper[1] in ("DATABASE", "SCHEMA"):
            return Classified("ignore", "alter database", "")
        if upper[1] == "TABLE" and len(upper) > 3 and upper[3] in ("DISABLE", "ENABLE"):
            return Classified("ignore", "alter table", unquote(words[2]))
        name = unquote(words[2]) if len(words) > 2 else ""
        return Classified("skip", f"alter {upper[1].lower()}", name)
    return Classified("skip", first.lower() or "statement", "")


def _classify_create(words: list[str], upper: list[str]) -> Classified:
    # The object's kind is the first bare keyword naming one; DEFINER=`x`@`y`, ALGORITHM=..
    # and OR REPLACE come before it, and a quoted word is a name, never the kind.
    for i in range(1, len(upper)):
        if upper[i] in _KINDS and words[i][:1] != "`":
            kind = upper[i]
            break
    else:
        return Classified("skip", "create", "")
    if kind == "TABLE":
        return Classified("table", "table", "")
    if kind in ("DATABASE", "SCHEMA"):
        return Classified("ignore", kind.lower(), "")
    return Classified("skip", kind.lower(), _object_name(words, i + 1))


def _object_name(words: list[str], i: int) -> str:
    while i < len(words) and words[i].upper() in ("IF", "NOT", "EXISTS"):
        i += 1
    return unquote(words[i]) if i < len(words) else ""


def _declared_type(rest: str) -> str:
    m = _COLUMN_TYPE.match(rest)
    if not m:
        return rest.strip().split(" ")[0] if rest.strip() else ""
    base, args, modifiers = m.group(1), m.group(2) or "", " ".join(m.group(3).split())
    return f"{' '.join(base.split())}{args}{' ' + modifiers if modifiers else ''}"


def _parenthesised(text: str, open_at: int) -> str:
    """The text inside the parenthesis opening at ``open_at`` (to the end if unbalanced)."""
    depth = 0
    for m in _TEXT_TOKEN.finditer(text, open_at):
        tok = m.group()
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : m.start()]
    return text[open_at + 1 :]


def _split_top_level(body: str) -> list[str]:
    items, depth, start = [], 0, 0
    for m in _TEXT_TOKEN.finditer(body):
        tok = m.group()
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif tok == "," and depth == 0:
            items.append(body[start : m.start()])
            start = m.end()
    items.append(body[start:])
    return [i for i in items if i.strip()]
