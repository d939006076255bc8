"""``--format csv``: one RFC 4180 file per table (header row, CRLF, quotes where needed)."""

from __future__ import annotations

import io

import polars as pl

from workbench.progress import SILENT, Progress
from workbench.synth.plan import Plan
from workbench.synth.tables import TableSpec
from workbench.synth.writers.base import HashedFile, Output, Staging, Writer, encode


class CsvWriter(Writer):
    def __init__(self, out, encoding: str = "utf-8"):
        super().__init__(out)
        self.encoding = encoding
        self.files: dict[str, HashedFile] = {}
        self.staging: Staging | None = None

    def begin(self, plan: Plan) -> None:
        self.staging = Staging(self.out)
        self.files = {
            t.name: HashedFile(self.staging.path(f"{t.name}.csv")) for t in plan.style.tables
        }

    def write(self, spec: TableSpec, frame: pl.DataFrame) -> None:
        f = self.files[spec.name]
        buf = io.BytesIO()
        frame.write_csv(buf, include_header=f.bytes == 0, line_terminator="\r\n")
        data = buf.getvalue()
        if self.encoding != "utf-8":
            data = encode(data.decode("utf-8"), self.encoding, f"{spec.name}.csv")
        f.write(data)

    def finish(self, progress: Progress = SILENT) -> Output:
        files = [f.close() for f in self.files.values()]
        self.staging.commit([f["path"] for f in files])
        return Output(files=files)

    def abort(self) -> None:
        for f in self.files.values():
            f.close()
        if self.staging:
            self.staging.abort()
