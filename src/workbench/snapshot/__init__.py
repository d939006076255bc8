"""Snapshots: one acquisition of a source into a staging DuckDB database plus a manifest."""

from workbench.snapshot.acquire import acquire
from workbench.snapshot.manifest import Manifest
from workbench.snapshot.store import list_snapshots, open_snapshot

__all__ = ["Manifest", "acquire", "list_snapshots", "open_snapshot"]
