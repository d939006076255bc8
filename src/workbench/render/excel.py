"""Excel's hard limits, handled once for every report that writes a workbook.

Excel refuses (or silently repairs) a workbook that breaks its limits: sheet names over 31
characters or with ``[]:*?/\\`` in them, two sheet names equal but for case, cells over 32,767
characters, more than 16,384 columns or 1,048,576 rows, more than 65,530 hyperlinks on a sheet.
Scan-report tools such as WhiteRabbit failed on exactly these, so every writer goes through
the helpers here: nothing is cut without a visible marker, and every shortened sheet name can
be looked up back to the full name it stands for.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xlsxwriter

from workbench.errors import WorkbenchError

MAX_ROWS = 1_048_576
MAX_COLUMNS = 16_384
MAX_CELL_CHARS = 32_767
MAX_SHEET_NAME = 31
MAX_LINKS_PER_SHEET = 65_530

# Text stays text: never let "=..." become a formula, "http..." a link or "007" a number.
TEXT_ONLY = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}

# Excel keeps this name for its own change history.
RESERVED_SHEET_NAMES = ("History",)

_INVALID_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")
_NUMBER = re.compile(r"[+-]?(?P<mantissa>\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# Excel keeps 15 significant digits; a longer number would be silently rounded.
_EXCEL_DIGITS = 15


class ExcelLimitError(WorkbenchError):
    """A workbook cannot be laid out within Excel's limits."""


def truncate(text: str, limit: int = MAX_CELL_CHARS) -> str:
    """``text`` cut to fit one cell, ending in a marker that gives the original length."""
    if len(text) <= limit:
        return text
    marker = f"…[truncated: {len(text):,} chars]"
    return text[: limit - len(marker)] + marker


def is_truncated(text: str) -> bool:
    return re.search(r"…\[truncated: [\d,]+ chars\]$", text) is not None


def number_or_text(value: str) -> float | str:
    """A numeric string as a number when Excel can hold it exactly, otherwise the text.

    Leading zeros (``007``) and long digit strings stay text: as numbers they would change.
    """
    match = _NUMBER.fullmatch(value.strip())
    if match is None:
        return value
    mantissa = match["mantissa"]
    if len(mantissa) > 1 and mantissa[0] == "0" and mantissa[1] != ".":
        return value
    digits = mantissa.replace(".", "").lstrip("0")
    if "." in mantissa:
        digits = digits.rstrip("0")
    number = float(value)
    if len(digits) > _EXCEL_DIGITS or not math.isfinite(number):
        return value
    return number


def finite(value: float | None) -> float | None:
    """``value`` if Excel can store it; NaN and infinities become an empty cell."""
    if value is None or not math.isfinite(value):
        return None
    return value


def clean_sheet_name(name: str) -> str:
    """A valid sheet name for ``name``, at most 31 characters, not yet unique."""
    cleaned = _INVALID_SHEET_CHARS.sub("_", name)
    cleaned = "".join(ch if ch.isprintable() else "_" for ch in cleaned)
    # Excel rejects a name that begins or ends with an apostrophe.
    if cleaned.startswith("'"):
        cleaned = "_" + cleaned[1:]
    if cleaned.endswith("'"):
        cleaned = cleaned[:-1] + "_"
    return cleaned[:MAX_SHEET_NAME] or "_"


def is_valid_sheet_name(name: str) -> bool:
    return clean_sheet_name(name) == name


@dataclass(frozen=True)
class SheetEntry:
    sheet: str  # the sheet name in the workbook
    name: str  # the full name it stands for (e.g. the table's name)
    part: int = 1  # 2, 3, ... for the continuation sheets of a split table


class SheetNames:
    """Hands out unique, valid sheet names and remembers the full name behind each.

    A name that is already valid keeps itself, so tools that derive a sheet name from a table
    name (Rabbit-in-a-Hat truncates at 31 characters) find it. A clash, counted without case
    as Excel counts it, gets a ``~2``, ``~3`` tag; continuation parts end in `` (2)``, `` (3)``.
    """

    def __init__(self, reserved: tuple[str, ...] | list[str] = ()) -> None:
        self._taken = {n.casefold() for n in (*RESERVED_SHEET_NAMES, *reserved)}
        self._entries: dict[str, SheetEntry] = {}

    def allocate(self, name: str, part: int = 1) -> str:
        suffix = "" if part == 1 else f" ({part})"
        base = clean_sheet_name(name)
        for n in itertools.count(1):
            tag = "" if n == 1 else f"~{n}"
            candidate = base[: MAX_SHEET_NAME - len(tag) - len(suffix)] + tag + suffix
            if candidate.casefold() not in self._taken:
                break
        self._taken.add(candidate.casefold())
        self._entries[candidate] = SheetEntry(candidate, name, part)
        return candidate

    def entry(self, sheet: str) -> SheetEntry:
        return self._entries[sheet]

    @property
    def entries(self) -> list[SheetEntry]:
        """Every allocated sheet, in the order allocated."""
        return list(self._entries.values())

    @property
    def renamed(self) -> dict[str, str]:
        """Sheet name to full name, for the sheets whose name differs from what they hold."""
        return {e.sheet: e.name for e in self._entries.values() if e.sheet != e.name}


def split_columns(n_items: int, per_item: int = 1, reserved: int = 0) -> list[range]:
    """Consecutive ranges of items that each fit on one sheet.

    Each item takes ``per_item`` columns; ``reserved`` columns per sheet are kept for other
    content (navigation). An empty table still gets one (empty) sheet.
    """
    per_sheet = (MAX_COLUMNS - reserved) // per_item
    if per_sheet < 1:
        raise ExcelLimitError(f"{per_item} columns per item cannot fit on one sheet")
    if n_items == 0:
        return [range(0, 0)]
    return [range(i, min(i + per_sheet, n_items)) for i in range(0, n_items, per_sheet)]


def check_rows(sheet: str, rows: int) -> None:
    if rows > MAX_ROWS:
        raise ExcelLimitError(
            f"sheet {sheet!r} would need {rows:,} rows; Excel holds at most {MAX_ROWS:,}"
        )


def quote_sheet(sheet: str) -> str:
    """``sheet`` as a formula or link reference: quoted, apostrophes doubled."""
    return "'" + sheet.replace("'", "''") + "'"


def internal_link(sheet: str, cell: str = "A1") -> str:
    return f"internal:{quote_sheet(sheet)}!{cell}"


class LinkBudget:
    """Counts hyperlinks per sheet; past Excel's limit a link is written as plain text."""

    def __init__(self, limit: int = MAX_LINKS_PER_SHEET) -> None:
        self.limit = limit
        self._used: dict[str, int] = {}

    def write(self, worksheet, row: int, col: int, sheet: str, cell: str, text: str, fmt=None):
        """Write ``text`` at (row, col) of ``worksheet``, linking to ``sheet``!``cell``."""
        used = self._used.get(worksheet.name, 0)
        text = truncate(text)
        if used >= self.limit:
            worksheet.write_string(row, col, text, fmt)
            return
        self._used[worksheet.name] = used + 1
        worksheet.write_url(row, col, internal_link(sheet, cell), fmt, string=text)


@contextlib.contextmanager
def atomic_workbook(path: Path, **options: Any) -> Iterator[Any]:
    """An xlsxwriter workbook for ``path``, all or nothing: written next to it as
    ``.<name>.partial`` and moved into place when the ``with`` block completes; after an error
    nothing is left. Text stays text (``TEXT_ONLY``); ``options`` are further workbook options."""
    partial = path.with_name(f".{path.name}.partial")
    workbook = xlsxwriter.Workbook(str(partial), {**TEXT_ONLY, **options})
    try:
        yield workbook
        workbook.close()
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(Exception):
            workbook.close()
        raise
    finally:
        partial.unlink(missing_ok=True)


def finish_sheet(worksheet) -> None:
    """Release a finished sheet's temp file in xlsxwriter's constant_memory mode.

    constant_memory keeps one open temp file per sheet until the workbook closes; a schema of
    thousands of tables would run out of file handles. xlsxwriter reopens the file itself when
    it assembles the workbook, so closing it early is safe once nothing more is written.
    """
    release = getattr(worksheet, "_opt_close", None)
    if worksheet.constant_memory and release is not None:
        release()


def write_value(worksheet, row: int, col: int, value, fmt=None) -> None:
    """Write one value by its Python type: text never becomes a formula, number or link, and
    is truncated with a marker; None and "" leave the cell empty (formatted, if ``fmt``)."""
    if value is None or value == "":
        if fmt is not None:
            worksheet.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        worksheet.write_string(row, col, "yes" if value else "no", fmt)
    elif isinstance(value, int | float):
        number = finite(float(value))
        if number is not None:
            worksheet.write_number(row, col, number, fmt)
        elif fmt is not None:
            worksheet.write_blank(row, col, None, fmt)
    else:
        worksheet.write_string(row, col, truncate(str(value)), fmt)


class Styles:
    """The cell formats a report workbook uses, made once per workbook."""

    def __init__(self, workbook: Any) -> None:
        add = workbook.add_format
        self.header = add({"bold": True, "bg_color": "#D9E1F2", "bottom": 1})
        self.header_link = add(
            {"bold": True, "bg_color": "#D9E1F2", "bottom": 1, "font_color": "#0563C1"}
        )
        self.header_link.set_underline(1)
        # Cells a person is meant to type into stand out from the computed ones.
        self.input_header = add({"bold": True, "bg_color": "#FFC000", "bottom": 1})
        self.input = add({"bg_color": "#FFF2CC", "border": 1, "border_color": "#BF9000"})
        self.count = add({"num_format": "#,##0"})
        self.fraction = add({"num_format": "0.0%"})
        self.stat = add({"num_format": "0.00"})
        self.note = add({"italic": True, "font_color": "#7F7F7F"})
        self.title = add({"bold": True, "font_size": 14})
        self.key = add({"bold": True})

    def named(self, name: str | None):
        return getattr(self, name) if name else None
