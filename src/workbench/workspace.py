"""A workspace is one customer's migration: ``workbench.toml``, ``mappings/``, snapshots,
state and ``reports/``. One installation serves many workspaces.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError

CONFIG_NAME = "workbench.toml"
WORKSPACE_ENV = "WORKBENCH_WORKSPACE"

TEMPLATE = """\
# workbench.toml: one customer's migration.
# Paths are relative to this file. Secrets are references ("env:NAME"), never values:
# the workbench reads the value from the environment when it connects, and never writes it.

[workspace]
name = "{name}"
# Reports never show a value seen fewer than this many times.
min_cell_count = 5

# ---- sources: the legacy system's exports or live database ----------------------------
# A mysqldump .sql file (the ideal), parsed directly without a MySQL server:
# [sources.legacy_dump]
# kind = "mysqldump"
# path = "data/ohm-export.sql"

# CSV or other delimited text: one file or a folder of files (one table per file).
# Delimiter, quoting, encoding and header are detected; set them to override.
# [sources.legacy_csv]
# kind = "csv"
# path = "data/export-csv/"
# encoding = "cp1252"      # utf-8, utf-8-sig, utf-16, cp1252, latin-1
# delimiter = ";"
# header = true

# An MS Access file, read through mdbtools:
# [sources.legacy_access]
# kind = "access"
# path = "data/legacy.accdb"

# A live database reachable with a SQLAlchemy URL (MariaDB/MySQL, PostgreSQL, SQLite).
# The password is sealed: name the environment variable that holds it.
# [sources.legacy_live]
# kind = "database"
# url = "mysql+pymysql://reader@db.clinic.example:3306/ohm"
# password = "env:OHM_DB_PASSWORD"
# schema = "ohm"           # optional
# tables = ["demographics", "immunization"]   # optional: default is every table

# ---- who may do what ---------------------------------------------------------------------
# Roles: migration_engineer (edit, publish, crosswalks, secrets) and onboarding (read, run).
# The current user comes from WORKBENCH_USER.
# [users]
# alice = "migration_engineer"
# bob = "onboarding"
"""


@dataclass(frozen=True)
class Workspace:
    root: Path
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return str(self.config.get("workspace", {}).get("name", self.root.name))

    @property
    def snapshots_dir(self) -> Path:
        return self.root / "snapshots"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def mappings_dir(self) -> Path:
        return self.root / "mappings"

    @property
    def min_cell_count(self) -> int:
        return int(self.config.get("workspace", {}).get("min_cell_count", 5))

    def source_configs(self) -> dict[str, dict[str, Any]]:
        sources = self.config.get("sources", {})
        if not isinstance(sources, dict):
            raise ConfigError(f"{self.root / CONFIG_NAME}: [sources] must be a table")
        return sources


def load(root: Path) -> Workspace:
    path = root / CONFIG_NAME
    try:
        with path.open("rb") as f:
            config = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: no workspace here (run 'workbench init DIR')") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: {e}") from None
    return Workspace(root.resolve(), config)


def find(start: Path | None = None) -> Workspace:
    """The workspace named by WORKBENCH_WORKSPACE, else the nearest one above ``start``."""
    if env := os.environ.get(WORKSPACE_ENV):
        return load(Path(env))
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_NAME).is_file():
            return load(candidate)
    raise ConfigError(f"no {CONFIG_NAME} in {here} or above (run 'workbench init DIR')")


def init(root: Path, name: str | None = None) -> Workspace:
    """Create a new customer workspace. Refuses to overwrite an existing config."""
    config = root / CONFIG_NAME
    if config.exists():
        raise ConfigError(f"{config}: a workspace already exists here")
    for sub in ("mappings", "reports", "snapshots"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / ".gitignore").write_text("snapshots/\nreports/\nstate/\ndata/\n")
    config.write_text(TEMPLATE.format(name=name or root.resolve().name))
    return load(root)
