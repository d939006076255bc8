"""What every output format provides, and the staging folder that keeps file outputs whole.

Files are written into a hidden staging folder next to the output and moved into place only
when everything is written, so a failure never leaves a partial output behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import polars as pl

from workbench.errors import SynthError
from workbench.progress import SILENT, Progress
from workbench.synth.plan import Plan
from workbench.synth.tables import TableSpec

MANIFEST_NAME = "synth-manifest.json"


@dataclass
class Output:
    files: list[dict[str, Any]] = field(default_factory=list)  # path, bytes, sha256
    target: dict[str, Any] | None = None  # where a database output went


class Writer(ABC):
    def __init__(self, out: Path):
        self.out = out

    @abstractmethod
    def begin(self, plan: Plan) -> None: ...

    @abstractmethod
    def write(self, spec: TableSpec, frame: pl.DataFrame) -> None:
        """Append one chunk of a table; chunks of a table arrive in row order."""

    @abstractmethod
    def finish(self, progress: Progress = SILENT) -> Output: ...

    @abstractmethod
    def abort(self) -> None: ...

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


class HashedFile:
    """A binary file that counts and hashes what is written to it."""

    def __init__(self, path: Path):
        self.path = path
        self._fh: IO[bytes] = path.open("wb")
        self._sha = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self._fh.write(data)
        self._sha.update(data)
        self.bytes += len(data)

    def close(self) -> dict[str, Any]:
        self._fh.close()
        return {"path": self.path.name, "bytes": self.bytes, "sha256": self._sha.hexdigest()}


class Staging:
    """A hidden folder inside ``out`` whose files replace the output's only on commit."""

    def __init__(self, out: Path):
        self.out = out
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SynthError(f"{out}: cannot create the output folder: {e.strerror}") from None
        if not out.is_dir():
            raise SynthError(f"{out}: exists and is not a folder")
        self.dir = out / f".synth-partial-{uuid.uuid4().hex[:12]}"
        self.dir.mkdir()

    def path(self, name: str) -> Path:
        return self.dir / name

    def commit(self, names: list[str]) -> None:
        """Move ``names`` into the output, first removing what an earlier run listed there."""
        for stale in _previous_outputs(self.out):
            if stale not in names:
                (self.out / stale).unlink(missing_ok=True)
        for name in names:
            os.replace(self.dir / name, self.out / name)
        shutil.rmtree(self.dir, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _previous_outputs(out: Path) -> list[str]:
    try:
        old = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
        return [Path(f["path"]).name for f in old.get("files", [])]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def encode(text: str, encoding: str, where: str) -> bytes:
    try:
        return text.encode(encoding)
    except UnicodeEncodeError as e:
        raise SynthError(
            f"{where}: {text[e.start : e.end]!r} cannot be written in {encoding}"
        ) from None
