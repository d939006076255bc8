"""One self-contained HTML page: the frame every workbench report shares.

Reports go to people on closed hospital networks and are attached to tickets, so a page is
a single file: CSS inline, charts as inline SVG, no scripts, stylesheets or fonts fetched
from anywhere. Text from data is escaped here and only here; markup built by the
workbench travels as ``Markup`` so it is never escaped twice.
"""

from __future__ import annotations

import html
import math
import os
import re
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class Markup(str):
    """HTML built by the workbench, to be inserted as is."""


def esc(value: object) -> Markup:
    """Text as HTML; markup passes through unchanged, None becomes an empty cell."""
    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup("")
    return Markup(html.escape(str(value), quote=True))


def tag(name: str, content: object = "", **attrs: object) -> Markup:
    """``<name attrs>content</name>``; attribute values are always escaped (Markup too),
    ``cls`` stands for ``class``, and an attribute set to None is left out."""
    rendered = "".join(
        f' {_attr_name(k)}="{html.escape(str(v), quote=True)}"'
        for k, v in attrs.items()
        if v is not None
    )
    return Markup(f"<{name}{rendered}>{esc(content)}</{name}>")


def join(parts: Iterable[object], sep: str = "") -> Markup:
    return Markup(sep.join(esc(p) for p in parts))


def link(href: str, text: object) -> Markup:
    return tag("a", text, href=href)


def _attr_name(key: str) -> str:
    return "class" if key == "cls" else key.rstrip("_").replace("_", "-")


# Numbers the way a reader expects them: thousands separated, fractions as percentages.


def fmt_int(n: int | None) -> str:
    return "" if n is None else f"{n:,}"


def fmt_pct(fraction: float | None, digits: int = 1) -> str:
    if fraction is None:
        return ""
    text = f"{100 * fraction:.{digits}f} %"
    # Never show a rounded 0 or 100 % for a fraction that is not exactly that.
    if fraction > 0 and float(text[:-2]) == 0:
        return f"< {10**-digits:g} %"
    if fraction < 1 and float(text[:-2]) == 100:
        return f"> {100 - 10**-digits:g} %"
    return text


def fmt_num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 1e15 or abs(x) < 1e-3:
        return f"{x:.4g}"
    return f"{x:,.3f}".rstrip("0").rstrip(".")


def table(
    headers: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    numeric: Iterable[int] = (),
    cls: str | None = None,
    caption: object = None,
) -> Markup:
    """A plain table; columns whose index is in ``numeric`` are right-aligned."""
    right = set(numeric)

    def cells(row: Sequence[object], name: str) -> str:
        return "".join(
            tag(name, cell, cls="num" if i in right else None) for i, cell in enumerate(row)
        )

    head = f"<thead><tr>{cells(headers, 'th')}</tr></thead>"
    body = "".join(f"<tr>{cells(row, 'td')}</tr>" for row in rows)
    cap = tag("caption", caption) if caption is not None else ""
    return Markup(f"<table{_class(cls)}>{cap}{head}<tbody>{body}</tbody></table>")


def facts(pairs: Iterable[tuple[object, object]], *, cls: str = "facts") -> Markup:
    """A two-column table of labels and values."""
    body = "".join(f"<tr>{tag('th', k)}{tag('td', v)}</tr>" for k, v in pairs)
    return Markup(f"<table{_class(cls)}><tbody>{body}</tbody></table>")


def _class(cls: str | None) -> str:
    return f' class="{esc(cls)}"' if cls else ""


@dataclass
class Anchors:
    """Unique, readable, deterministic element ids for arbitrary names."""

    used: set[str] = field(default_factory=set)

    def new(self, *parts: str) -> str:
        base = "-".join(re.sub(r"[^0-9A-Za-z_]+", "-", p).strip("-").lower() for p in parts)
        base = base or "section"
        candidate, n = base, 1
        while candidate in self.used:
            n += 1
            candidate = f"{base}-{n}"
        self.used.add(candidate)
        return candidate


@dataclass
class TocEntry:
    anchor: str
    label: str
    children: list[TocEntry] = field(default_factory=list)


def toc(entries: Sequence[TocEntry]) -> Markup:
    if not entries:
        return Markup("")
    items = "".join(f"<li>{link('#' + e.anchor, e.label)}{toc(e.children)}</li>" for e in entries)
    return Markup(f"<ul>{items}</ul>")


def page(title: str, body: object, *, nav: Sequence[TocEntry] = (), subtitle: str = "") -> str:
    """The whole document; ``body`` is Markup (escaped otherwise)."""
    side = f'<nav aria-label="Contents"><h2>Contents</h2>{toc(nav)}</nav>' if nav else ""
    sub = tag("p", subtitle, cls="subtitle") if subtitle else ""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head>"
        f"<body>{side}<main><header><h1>{esc(title)}</h1>{sub}</header>{esc(body)}</main>"
        "</body></html>\n"
    )


def write(text: str, path: Path) -> Path:
    """Write the page whole or not at all: a reader never opens half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a report is meant to be read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


CSS = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --bg: #f5f7fa; --accent: #2f5d8a; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 Helvetica, Arial, sans-serif; color: var(--ink);
  background: var(--bg); display: flex; align-items: flex-start; }
nav { position: sticky; top: 0; width: 15rem; flex: none; max-height: 100vh; overflow-y: auto;
  padding: 1rem; border-right: 1px solid var(--line); background: white; font-size: 13px; }
nav h2 { font-size: 13px; text-transform: uppercase; color: var(--muted); margin: 0 0 .5rem; }
nav ul { list-style: none; margin: 0; padding-left: .8rem; }
nav > ul { padding-left: 0; }
nav a { color: var(--accent); text-decoration: none; display: block; padding: 1px 0;
  overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
main { flex: 1; min-width: 0; padding: 1rem 2rem 3rem; }
header h1 { margin: .2rem 0; font-size: 22px; }
.subtitle { color: var(--muted); margin: 0 0 1rem; }
h2 { font-size: 18px; margin: 2rem 0 .6rem; padding-bottom: .2rem;
  border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 1.2rem 0 .4rem; }
h4 { font-size: 13px; margin: .8rem 0 .3rem; color: var(--muted); }
section { margin-bottom: 1.5rem; }
table { border-collapse: collapse; background: white; margin: .3rem 0 .8rem; font-size: 13px; }
caption { text-align: left; color: var(--muted); padding: .2rem 0; }
th, td { border: 1px solid var(--line); padding: 3px 8px; text-align: left; vertical-align: top; }
thead th { background: #eef2f7; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.facts th { background: #eef2f7; font-weight: normal; color: var(--muted);
  white-space: nowrap; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(30rem, 1fr)); gap: 1rem; }
.card { background: white; border: 1px solid var(--line); border-radius: 6px;
  padding: .6rem .9rem; }
.card h3 { margin-top: 0; }
.chart { overflow-x: auto; margin: .3rem 0; }
.chart svg { display: block; max-width: 100%; height: auto; }
.badge { display: inline-block; font-size: 11px; font-weight: normal; padding: 0 6px;
  border-radius: 8px; background: #eef2f7; color: var(--muted); margin-left: .4rem; }
.badge.masked { background: #fde8e8; color: #9b1c1c; }
.note { color: var(--muted); font-size: 13px; margin: .3rem 0; }
.masked-note { color: #9b1c1c; }
code { font: 12px/1.3 Menlo, Consolas, monospace; background: #eef2f7; padding: 0 3px; }
@media print {
  nav { display: none; }
  body { background: white; display: block; }
  .card, section { break-inside: avoid; }
}
"""
