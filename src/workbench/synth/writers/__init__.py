"""Output formats of the generator, by name."""

from __future__ import annotations

from pathlib import Path

from workbench.errors import SynthError
from workbench.synth.writers.base import MANIFEST_NAME, Output, Writer

FORMATS = ("csv", "mysqldump", "database")
ENCODINGS = ("utf-8", "cp1252")


def open_writer(
    fmt: str,
    out: Path,
    *,
    encoding: str = "utf-8",
    url: str | None = None,
    schema: str | None = None,
    replace: bool = False,
) -> Writer:
    if fmt == "csv":
        from workbench.synth.writers.csv_writer import CsvWriter

        return CsvWriter(out, encoding)
    if fmt == "mysqldump":
        from workbench.synth.writers.mysqldump import MysqldumpWriter

        return MysqldumpWriter(out, encoding)
    if fmt == "database":
        if not url:
            raise SynthError("--format database needs --url (an SQLAlchemy database URL)")
        from workbench.synth.writers.database import DatabaseWriter

        return DatabaseWriter(out, url, schema, replace)
    raise SynthError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")


__all__ = ["ENCODINGS", "FORMATS", "MANIFEST_NAME", "Output", "Writer", "open_writer"]
