"""MS Access files (.mdb, .accdb), read through mdbtools.

```toml
[sources.legacy_access]
kind = "access"
path = "data/legacy.accdb"
```

Each user table is exported by ``mdb-export`` (ISO dates, binary as hex) to a spool file and
loaded through the same CSV loader as delimited text, with the dialect mdb-export writes.
Declared column types come from ``mdb-schema``. A rejected record's line is a line of
mdb-export's output, and its file reads ``<file>:<table>``.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from workbench.errors import SourceError, SourceUnreachable
from workbench.progress import SILENT, Progress
from workbench.snapshot.staging import Staging
from workbench.sources.base import Source
from workbench.sources.csv_loader import load_file
from workbench.sources.dialect import Dialect, header_names

TOOLS = ("mdb-tables", "mdb-schema", "mdb-export")
ISO_DATETIME = "%Y-%m-%d %H:%M:%S"
_TABLE = re.compile(r"^CREATE TABLE \[(?P<name>.*)\]\s*$")
_COLUMN = re.compile(r"^\s*\[(?P<name>.*)\]\s+(?P<type>.+?)\s*,?\s*$")
# mdb-tables prints these on stderr (with exit status 0) for a damaged file.
_DAMAGE = re.compile(r"beyond EOF|Unrecognized format|Unable to read|Couldn't open", re.I)


class AccessSource(Source):
    kind = "access"

    def input_files(self) -> list[Path]:
        return [self._file()]

    def load(self, staging: Staging, progress: Progress = SILENT) -> None:
        path = self._file()
        tools = _tools()
        tables = _table_names(tools, path)
        schema = _schema(tools, path)
        spool_dir = Path(tempfile.mkdtemp(prefix="workbench-mdb-"))
        try:
            with progress.task(f"export {self.name}", total=len(tables)) as task:
                for table in tables:
                    self._load_table(staging, tools, path, table, schema.get(table, []), spool_dir)
                    task.advance()
        finally:
            shutil.rmtree(spool_dir, ignore_errors=True)

    def _file(self) -> Path:
        path = self.path()
        if not path.is_file():
            raise SourceUnreachable(f"source {self.name!r}: {path}: no such file")
        return path

    def _load_table(
        self,
        staging: Staging,
        tools: dict[str, str],
        path: Path,
        table: str,
        declared: list[tuple[str, str]],
        spool_dir: Path,
    ) -> None:
        spool = spool_dir / "export.csv"
        display = f"{path.name}:{table}"
        cmd = [tools["mdb-export"], "-D", ISO_DATETIME, "-T", ISO_DATETIME, "-b", "hex"]
        _run([*cmd, str(path), table], path, stdout=spool)
        columns = header_names(_header(spool))
        if not columns:
            raise SourceError(f"{display}: mdb-export wrote no header")
        dialect = Dialect("utf-8", ",", '"', "", True, 0, tuple(columns))
        load_file(staging, table, spool, display, dialect)
        types = dict(declared)
        staging.declare_columns(table, [(c, types.get(c)) for c in columns])
        for name, declared_type in declared:
            if declared_type.startswith("Unknown_"):
                staging.note_skipped(
                    path.name, None, "column values", f"{table}.{name}",
                    f"mdbtools cannot export type {declared_type}; the column is loaded empty",
                )  # fmt: skip


def _tools() -> dict[str, str]:
    found = {name: shutil.which(name) for name in TOOLS}
    missing = [name for name, where in found.items() if where is None]
    if missing:
        raise SourceError(
            f"mdbtools is not installed ({', '.join(missing)} not found); "
            "install it (Debian/Ubuntu: apt-get install mdbtools)"
        )
    return found


def _run(cmd: list[str], path: Path, stdout: Path | None = None) -> str:
    """Run an mdbtools command; its output goes to ``stdout`` (a file) or is returned."""
    with tempfile.TemporaryFile() as err:
        if stdout is not None:
            with stdout.open("wb") as out:
                proc = subprocess.run(cmd, stdout=out, stderr=err, check=False)
            text = ""
        else:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, check=False)
            text = proc.stdout.decode("utf-8", errors="replace")
        err.seek(0)
        problems = err.read(1 << 16).decode("utf-8", errors="replace")
    tool = Path(cmd[0]).name
    if proc.returncode < 0:
        raise SourceError(
            f"{path.name}: {tool} crashed (signal {-proc.returncode}); "
            "the file is damaged or not an Access database"
        )
    if proc.returncode != 0 or _DAMAGE.search(problems):
        raise SourceError(f"{path.name}: not a readable Access database: {_first(problems, tool)}")
    return text


def _first(stderr: str, tool: str) -> str:
    damage = [line.strip() for line in stderr.splitlines() if _DAMAGE.search(line)]
    lines = damage or [line.strip() for line in stderr.splitlines() if line.strip()]
    return f"{tool}: {lines[0]}" if lines else f"{tool} failed"


def _table_names(tools: dict[str, str], path: Path) -> list[str]:
    # mdb-tables leaves out the MSys* system tables unless asked (-S); drop any that slip in.
    out = _run([tools["mdb-tables"], "-1", str(path)], path)
    names = [n for n in out.splitlines() if n.strip() and not n.startswith("MSys")]
    return sorted(names)


def _schema(tools: dict[str, str], path: Path) -> dict[str, list[tuple[str, str]]]:
    """Each table's columns with their declared Access types, as mdb-schema writes them."""
    out = _run([tools["mdb-schema"], "--no-not-null", str(path), "access"], path)
    tables: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for line in out.splitlines():
        if m := _TABLE.match(line):
            current = tables.setdefault(m["name"], [])
        elif line.startswith(");"):
            current = None
        elif current is not None and (m := _COLUMN.match(line)):
            current.append((m["name"], m["type"]))
    return tables


def _header(spool: Path) -> list[str]:
    with spool.open(encoding="utf-8", errors="replace", newline="") as f:
        return next(csv.reader(f), [])
