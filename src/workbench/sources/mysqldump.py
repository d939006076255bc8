"""mysqldump files, read directly: no MySQL server is needed.

```toml
[sources.legacy_dump]
kind = "mysqldump"
path = "data/ohm-export.sql"             # one dump (.sql, or gzipped)
# path = ["schema.sql", "data.sql"]      # several files, read in this order
# path = "data/dump/"                    # a folder: its .sql and .sql.gz files in name order
# encoding = "latin1"                    # the text's character set, if the dump's SET NAMES
#                                        # is wrong or missing (default: SET NAMES, or UTF-8)
```

Every table of a ``CREATE TABLE`` is staged under its own name, with the rows of its
``INSERT``/``REPLACE`` statements (``IGNORE`` and column lists included; keys are not
enforced, so every row read is kept, and columns an INSERT leaves out are NULL). A table
without rows is staged empty with its columns. Each column records its declared type and
takes the DuckDB equivalent when every value fits without loss, else stays text (a zero
date keeps its column text); binary values are staged as ``0x``-hex text and binary columns
become BLOBs (see :mod:`workbench.sources.mysqldump_types`).

Triggers, procedures, functions, views, events and any other statement that holds no rows
are skipped, and each skip is reported with its file and line. A tuple that cannot be read
(wrong number of values, an unterminated string, text that is not a value, bytes that are
not text in the dump's character set) is rejected with its file, line, reason and raw text.
A file that is not a dump at all is refused with a one-line error.

Rows take the fast path of :mod:`workbench.sources.mysqldump_values` (numpy over whole
statements, then DuckDB's CSV reader) when they are in mysqldump's own form, and the exact
parser of :mod:`workbench.sources.mysqldump_tuples` otherwise.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workbench.errors import ConfigError, SourceUnreachable
from workbench.progress import SILENT, Progress
from workbench.snapshot.staging import Staging
from workbench.sources.base import Source, resolve_path
from workbench.sources.mysqldump_charsets import codec_for
from workbench.sources.mysqldump_load import DumpLoad
from workbench.sources.mysqldump_spool import Spool

SUFFIXES = (".sql", ".sql.gz", ".dump")


class MysqldumpSource(Source):
    kind = "mysqldump"

    def input_files(self) -> list[Path]:
        return self.paths()

    def paths(self) -> list[Path]:
        """The dump files, in the order they are read."""
        configured = self.option("path", required=True)
        entries = configured if isinstance(configured, list) else [configured]
        if not entries or not all(isinstance(e, str) for e in entries):
            raise ConfigError(f"source {self.name!r}: 'path' must be a path or a list of paths")
        files: list[Path] = []
        for entry in entries:
            files.extend(self._expand(self._resolve(entry)))
        return files

    def codec(self) -> str | None:
        """The configured encoding of the dump's text, if any (else the dump's SET NAMES)."""
        name = self.option("encoding")
        if name is None:
            return None
        codec = codec_for(str(name))
        if codec is None:
            raise ConfigError(
                f"source {self.name!r}: encoding {name!r} is not read; use UTF-8 or a "
                "single-byte character set such as latin1 (cp1252)"
            )
        return codec

    def load(self, staging: Staging, progress: Progress = SILENT) -> None:
        files, codec = self.paths(), self.codec()
        with _spool_directory(staging) as directory:
            spool = Spool(staging, directory)
            try:
                load = DumpLoad(staging, spool, codec)
                for path in files:
                    load.read(path, self._shown(path), progress)
                load.finish(progress)
            finally:
                spool.close()

    def _resolve(self, entry: str) -> Path:
        return resolve_path(self.root, entry)

    def _expand(self, path: Path) -> list[Path]:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and _is_dump_name(p))
            if not found:
                raise SourceUnreachable(f"{path}: no .sql files in this folder")
            return found
        if not path.is_file():
            raise SourceUnreachable(f"{path}: no such file")
        return [path]

    def _shown(self, path: Path) -> str:
        """How a file is named in rejects and skips: relative to the workspace, or its name
        (never a machine's absolute path, so the same dump gives the same snapshot)."""
        root = self.root.resolve() if self.root else None
        resolved = path.resolve()
        if root and resolved.is_relative_to(root):
            return str(resolved.relative_to(root))
        return path.name


def _is_dump_name(path: Path) -> bool:
    return path.name.lower().endswith(SUFFIXES)


@contextmanager
def _spool_directory(staging: Staging) -> Iterator[Path]:
    """Where transcoded rows wait for DuckDB: beside the staging database, removed after."""
    parent = staging.path.parent if staging.path else None
    directory = Path(tempfile.mkdtemp(prefix=".mysqldump-spool-", dir=parent))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
