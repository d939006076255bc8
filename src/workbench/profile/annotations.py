"""What SMEs type into the data migration map, and reading it back.

The map's overview sheets end in three annotation columns: Disposition (what happens to a
table or field: discrete, summary document or skip), Target (free text such as
``ehr.observation.value``) and Notes. A filled-in map is read back here so that the mapping
stage can seed a template from it. Columns are found by their header, so SMEs may insert,
hide or reorder columns; rows may be sorted or filtered.
"""

from __future__ import annotations

import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError

FIELD_OVERVIEW = "Field Overview"
TABLE_OVERVIEW = "Table Overview"
DISPOSITIONS = ("discrete", "summary document", "skip")
ANNOTATION_COLUMNS = ("Disposition", "Target", "Notes")


class AnnotationError(WorkbenchError):
    """A filled-in data migration map cannot be read back."""


@dataclass(frozen=True)
class Annotation:
    table: str
    field: str | None  # None: the annotation is on the table (Table Overview)
    disposition: str | None  # one of DISPOSITIONS
    target: str | None
    notes: str | None
    sheet: str  # where it was read, for messages that point back to the cell
    row: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_annotations(path: Path) -> list[Annotation]:
    """Every annotated table and field of a filled-in map: per table, the table's own
    annotation first, then its fields in map order. Rows with nothing typed are left out."""
    path = Path(path)
    workbook = _open(path)
    try:
        tables = _read_sheet(path, workbook, TABLE_OVERVIEW, with_field=False)
        fields = _read_sheet(path, workbook, FIELD_OVERVIEW, with_field=True)
    finally:
        workbook.close()
    order: dict[str, int] = {}
    for a in [*tables, *fields]:
        order.setdefault(a.table, len(order))
    return sorted([*tables, *fields], key=lambda a: (order[a.table], a.field is not None))


def _open(path: Path):
    try:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException
    except ImportError as e:  # openpyxl is not installed with the workbench
        raise AnnotationError("reading a map needs openpyxl: pip install openpyxl") from e
    if not path.is_file():
        raise AnnotationError(f"{path}: no such file")
    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise AnnotationError(f"{path}: not an xlsx workbook ({type(e).__name__}: {e})") from e
    except OSError as e:
        raise AnnotationError(f"{path}: cannot be read: {e.strerror or e}") from e


def _read_sheet(path: Path, workbook, sheet: str, with_field: bool) -> list[Annotation]:
    if sheet not in workbook.sheetnames:
        raise AnnotationError(f"{path}: no {sheet!r} sheet; is this a data migration map?")
    rows = workbook[sheet].iter_rows(values_only=True)
    header = [_text(v) for v in next(rows, ())]
    needed = ("Table", *(("Field",) if with_field else ()), *ANNOTATION_COLUMNS)
    at = {name: _column(path, sheet, header, name) for name in needed}
    found = []
    for number, values in enumerate(rows, start=2):
        typed = [_cell(values, at[name]) for name in ANNOTATION_COLUMNS]
        if not any(typed):
            continue
        table = _name(values, at["Table"])
        field = _name(values, at["Field"]) if with_field else None
        if table is None or (with_field and field is None):
            # Typed on a separator or a cleared row: say so rather than drop it.
            raise AnnotationError(
                f"{path}: sheet {sheet!r} row {number}: an annotation on a row without "
                f"a {'table' if table is None else 'field'} name"
            )
        disposition = _disposition(path, sheet, at["Disposition"], number, typed[0])
        found.append(Annotation(table, field, disposition, typed[1], typed[2], sheet, number))
    return found


def _column(path: Path, sheet: str, header: list[str | None], name: str) -> int:
    if name not in header:
        raise AnnotationError(f"{path}: sheet {sheet!r} has no {name!r} column in its first row")
    return header.index(name)


def _cell(values: tuple, index: int) -> str | None:
    return _text(values[index]) if index < len(values) else None


def _name(values: tuple, index: int) -> str | None:
    """A table or field name exactly as written: legacy names may keep their spaces."""
    value = values[index] if index < len(values) else None
    return None if value is None or value == "" else str(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text or None


def _disposition(path: Path, sheet: str, column: int, row: int, value: str | None) -> str | None:
    if value is None:
        return None
    canonical = " ".join(value.split()).casefold()
    if canonical in DISPOSITIONS:
        return canonical
    from openpyxl.utils import get_column_letter

    raise AnnotationError(
        f"{path}: sheet {sheet!r} cell {get_column_letter(column + 1)}{row}: disposition "
        f"{value!r} is not one of {', '.join(DISPOSITIONS)}"
    )
