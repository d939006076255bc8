"""Source kinds, looked up by the ``kind`` a source has in ``workbench.toml``."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from workbench.errors import ConfigError

if TYPE_CHECKING:
    from workbench.sources.base import Source
    from workbench.workspace import Workspace

# Imported lazily: the database drivers and mdbtools are only needed by their own kind.
KINDS = {
    "csv": "workbench.sources.delimited:DelimitedSource",
    "mysqldump": "workbench.sources.mysqldump:MysqldumpSource",
    "access": "workbench.sources.access:AccessSource",
    "database": "workbench.sources.database:DatabaseSource",
}


def source_class(kind: str) -> type[Source]:
    try:
        module, _, cls = KINDS[kind].partition(":")
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise ConfigError(f"unknown source kind {kind!r} (known: {known})") from None
    return getattr(import_module(module), cls)


def from_config(name: str, config: dict, workspace: Workspace) -> Source:
    kind = config.get("kind")
    if not kind:
        raise ConfigError(f"source {name!r}: 'kind' is required")
    return source_class(kind).from_config(name, config, workspace)


def open_source(workspace: Workspace, name: str) -> Source:
    configs = workspace.source_configs()
    if name not in configs:
        known = ", ".join(sorted(configs)) or "none"
        raise ConfigError(f"no source named {name!r} in workbench.toml (sources: {known})")
    return from_config(name, configs[name], workspace)


def all_sources(workspace: Workspace) -> list[Source]:
    return [from_config(n, c, workspace) for n, c in workspace.source_configs().items()]
