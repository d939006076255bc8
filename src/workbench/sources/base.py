"""What every source kind provides: reach it (probe), and load it into a staging database."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from workbench.errors import ConfigError, WorkbenchError
from workbench.progress import SILENT, Progress

if TYPE_CHECKING:
    from workbench.snapshot.staging import Staging
    from workbench.workspace import Workspace


def resolve_path(root: Path, value: str | Path) -> Path:
    """A configured path: ``~`` expanded, relative to the workspace root."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else root / p


@dataclass(frozen=True)
class TableCount:
    name: str
    rows: int
    columns: int


@dataclass(frozen=True)
class Probe:
    """What is really there: counted, never estimated."""

    source: str
    kind: str
    reachable: bool
    reason: str | None = None
    tables: list[TableCount] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "table_count": len(self.tables), "rows": self.rows}


class Source(ABC):
    """A legacy system's export or live database, as named in ``workbench.toml``."""

    kind: ClassVar[str]

    def __init__(self, name: str, config: dict[str, Any], root: Path):
        self.name = name
        self.config = config
        self.root = root

    @classmethod
    def from_config(cls, name: str, config: dict[str, Any], workspace: Workspace) -> Source:
        return cls(name, config, workspace.root)

    def option(self, key: str, default: Any = None, *, required: bool = False) -> Any:
        if required and key not in self.config:
            raise ConfigError(f"source {self.name!r}: '{key}' is required for kind {self.kind!r}")
        return self.config.get(key, default)

    def path(self) -> Path:
        return resolve_path(self.root, self.option("path", required=True))

    def input_files(self) -> list[Path]:
        """The files whose checksums go into the manifest (none for a live database)."""
        return []

    def describe(self) -> dict[str, Any]:
        """What ``workbench sources`` shows. Never a secret's value."""
        return {"name": self.name, "kind": self.kind, "location": str(self.option("path", ""))}

    @abstractmethod
    def load(self, staging: Staging, progress: Progress = SILENT) -> None:
        """Load every table into ``staging``; record rejects, never drop a row silently."""

    def probe(self) -> Probe:
        """Reach the source and count what is there by reading it into a scratch database.

        Sources with a cheaper exact count (a live database's COUNT(*)) override this.
        """
        from workbench.snapshot.staging import Staging

        try:
            with Staging.scratch() as staging:
                self.load(staging)
                tables = [TableCount(t, r, c) for t, r, c in staging.table_counts()]
        except WorkbenchError as e:
            return Probe(self.name, self.kind, False, str(e))
        return Probe(self.name, self.kind, True, None, tables)
