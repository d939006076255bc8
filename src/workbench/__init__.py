"""Migration workbench: acquire, profile, map, load and reconcile legacy EHR data."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("migration-workbench")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
