"""The simple block model of a document (headings, paragraphs, tables, facts, code) and its
two renderers, Markdown and one self-contained HTML page.

``workbench.mapping.docs`` builds the ETL specification as a list of these blocks and
re-exports every name here, so both renderings always say the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.render import page
from workbench.render.page import Markup, esc, fmt_int, tag

# --- the block model ---------------------------------------------------------------------------


class Code(str):
    """SQL or a name, shown as code."""


class Missing(str):
    """Something the template should say and does not: shown so nobody signs it off unseen."""


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Para:
    text: object


@dataclass(frozen=True)
class Grid:
    headers: tuple[str, ...]
    rows: list[tuple[object, ...]]
    numeric: tuple[int, ...] = ()
    caption: str | None = None


@dataclass(frozen=True)
class Facts:
    pairs: list[tuple[str, object]]


@dataclass(frozen=True)
class CodeBlock:
    text: str


Block = Heading | Para | Grid | Facts | CodeBlock


# --- rendering ---------------------------------------------------------------------------------


def to_markdown(title: str, blocks: list[Block]) -> str:
    out = [f"# {title}", ""]
    for b in blocks:
        if isinstance(b, Heading):
            out += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, Para):
            out += [_md(b.text), ""]
        elif isinstance(b, Facts):
            out += ["| | |", "|---|---|", *(f"| **{k}** | {_md_cell(v)} |" for k, v in b.pairs), ""]
        elif isinstance(b, Grid):
            out += [f"*{_md(b.caption)}*", ""] if b.caption else []
            out.append("| " + " | ".join(b.headers) + " |")
            out.append(
                "|"
                + "|".join("---:" if i in b.numeric else "---" for i in range(len(b.headers)))
                + "|"
            )
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("")
        elif isinstance(b, CodeBlock):
            out += ["```sql", b.text.strip(), "```", ""]
    return "\n".join(out).rstrip() + "\n"


def _md(value: object) -> str:
    if isinstance(value, Missing):
        return f"**⚠ {value}**"
    if isinstance(value, Code):
        ticks = "``" if "`" in value else "`"
        return f"{ticks}{value}{ticks}" if value else ""
    if isinstance(value, int) and not isinstance(value, bool):
        return fmt_int(value)
    return "" if value is None else str(value)


def _md_cell(value: object) -> str:
    text = _md(value)
    return " ".join(text.split()).replace("|", "\\|")


def to_html(title: str, blocks: list[Block], subtitle: str = "") -> str:
    anchors, nav, parts = page.Anchors(), [], []
    for b in blocks:
        if isinstance(b, Heading):
            anchor = anchors.new(b.text)
            if b.level == 2:
                nav.append(page.TocEntry(anchor, b.text))
            elif b.level == 3 and nav:
                nav[-1].children.append(page.TocEntry(anchor, b.text))
            parts.append(tag(f"h{b.level}", b.text, id=anchor))
        elif isinstance(b, Para):
            parts.append(tag("p", _html(b.text)))
        elif isinstance(b, Facts):
            parts.append(page.facts((k, _html(v)) for k, v in b.pairs))
        elif isinstance(b, Grid):
            rows = [[_html(c) for c in row] for row in b.rows]
            parts.append(page.table(b.headers, rows, numeric=b.numeric, caption=b.caption))
        elif isinstance(b, CodeBlock):
            parts.append(tag("pre", tag("code", b.text.strip())))
    return page.page(title, Markup("".join(parts)), nav=nav, subtitle=subtitle)


def _html(value: object) -> Markup:
    if isinstance(value, Missing):
        return tag("strong", f"⚠ {value}", cls="missing", style="color:#9b1c1c")
    if isinstance(value, Code):
        return tag("code", str(value)) if value else Markup("")
    if isinstance(value, int) and not isinstance(value, bool):
        return esc(fmt_int(value))
    return esc(value)
