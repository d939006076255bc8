"""The ``workbench`` command line. Each command group lives in its own module."""

from workbench.cli.app import app, main

__all__ = ["app", "main"]
