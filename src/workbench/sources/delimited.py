"""CSV and other delimited text: one file, or a folder of files with one table per file.

```toml
[sources.legacy_csv]
kind = "csv"
path = "data/export/"     # a file, or a folder of .csv .tsv .txt .psv .dat files
# encoding, delimiter, quote, escape, header: detected per file unless set here
```
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from workbench.errors import ConfigError, SourceError, SourceUnreachable
from workbench.progress import SILENT, Progress
from workbench.snapshot.staging import Staging
from workbench.sources.base import Source
from workbench.sources.csv_loader import MAX_LINE_SIZE, load_file
from workbench.sources.dialect import detect

EXTENSIONS = (".csv", ".tsv", ".txt", ".psv", ".dat")
DIALECT_OPTIONS = ("encoding", "delimiter", "quote", "escape", "header")


class DelimitedSource(Source):
    kind = "csv"

    def input_files(self) -> list[Path]:
        return self._files()[0]

    def load(self, staging: Staging, progress: Progress = SILENT) -> None:
        files, ignored = self._files()
        for name, why in ignored:
            staging.note_skipped(name, None, "file", name, why)
        with progress.task(f"load {self.name}", total=len(files)) as task:
            for path, table in zip(files, table_names(files), strict=True):
                try:
                    self._load_file(staging, path, table)
                except OSError as e:
                    raise SourceError(f"{path.name}: cannot be read: {e.strerror or e}") from None
                task.advance()

    def _load_file(self, staging: Staging, path: Path, table: str) -> None:
        overrides = {k: self.config[k] for k in DIALECT_OPTIONS if k in self.config}
        max_line_size = self.option("max_line_size", MAX_LINE_SIZE)
        if not isinstance(max_line_size, int) or max_line_size < 1:
            raise ConfigError(f"source {self.name!r}: 'max_line_size' must be a number of bytes")
        try:
            dialect = detect(path, path.name, overrides)
        except ConfigError as e:
            raise ConfigError(f"source {self.name!r}: {e}") from None
        if dialect is not None:
            load_file(staging, table, path, path.name, dialect, max_line_size=max_line_size)
        elif self.path().is_dir():
            staging.note_skipped(
                path.name, None, "file", table, "empty file: no header, no records"
            )
        else:
            raise SourceError(f"{path.name}: the file is empty (no header, no records)")

    def _files(self) -> tuple[list[Path], list[tuple[str, str]]]:
        """The files to load, and what else the folder holds with why it is not read."""
        root = self.path()
        if root.is_file():
            return [root], []
        if not root.is_dir():
            raise SourceUnreachable(f"source {self.name!r}: {root}: no such file or folder")
        files, ignored = [], []
        for p in sorted(root.iterdir(), key=lambda p: p.name):
            if p.is_dir():
                ignored.append(
                    (p.name, "a folder: only the files directly in the source folder are read")
                )
            elif p.suffix.lower() in EXTENSIONS and not p.name.startswith("."):
                files.append(p)
            else:
                ignored.append((p.name, f"not read: only {', '.join(EXTENSIONS)} files are"))
        if not files:
            raise SourceError(f"{root}: no {', '.join(EXTENSIONS)} files in this folder")
        return files, ignored


def table_name(stem: str) -> str:
    """A file stem as a lower-case identifier (``Patient List (2019)``: ``patient_list_2019``)."""
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    name = re.sub(r"[^0-9a-z]+", "_", ascii_stem.lower()).strip("_") or "table"
    return f"t_{name}" if name[0].isdigit() else name


def table_names(files: list[Path]) -> list[str]:
    """One distinct table name per file, in file-name order.

    When two files normalise to the same name (``dummy.csv``, ``dummy.tsv``) the first keeps
    it and the next gets ``dummy_2``, never a name another file would have had on its own.
    """
    bases = [table_name(f.stem) for f in files]
    natural = set(bases)
    used: set[str] = set()
    names = []
    for base in bases:
        name, k = base, 1
        while name in used or (k > 1 and name in natural):
            k += 1
            name = f"{base}_{k}"
        used.add(name)
        names.append(name)
    return names
