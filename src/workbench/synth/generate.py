"""``generate``: the synthetic legacy clinic, from parameters to files and a manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from workbench.errors import SynthError
from workbench.progress import SILENT, Progress
from workbench.synth.build import build_chunk
from workbench.synth.dirt import Dirt
from workbench.synth.ledger import Ledger
from workbench.synth.manifest import SynthManifest, build_manifest
from workbench.synth.plan import DEFAULT_CHUNK_SIZE, Plan, make_plan
from workbench.synth.styles import get_style
from workbench.synth.tables import Style
from workbench.synth.writers import ENCODINGS, FORMATS, Writer, open_writer

MAX_PEOPLE = 20_000_000
ENCODING_ALIASES = {"utf8": "utf-8", "windows-1252": "cp1252", "cp-1252": "cp1252"}
MIN_PEOPLE = 1


def generate(
    style: str = "ohm",
    people: int = 1000,
    seed: int = 42,
    fmt: str = "csv",
    out: Path | str = Path("synth-output"),
    dirt: Dirt | None = None,
    *,
    encoding: str = "utf-8",
    url: str | None = None,
    schema: str | None = None,
    replace: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Progress = SILENT,
) -> SynthManifest:
    """Generate a legacy occupational-health clinic and write it as ``fmt``.

    The same arguments give byte-identical output. ``out`` is a folder: it receives the CSVs
    or the ``.sql`` dump, and always ``synth-manifest.json``, the ground truth.
    """
    spec, dirt, encoding = validate(style, people, seed, fmt, dirt, encoding, chunk_size)
    out = Path(out)
    plan = make_plan(spec, people, seed, dirt, chunk_size)
    writer = open_writer(fmt, out, encoding=encoding, url=url, schema=schema, replace=replace)
    with writer:
        writer.begin(plan)
        ledger, pairs = _write_chunks(plan, writer, progress)
        manifest = build_manifest(plan, fmt, encoding, ledger, pairs)
        output = writer.finish(progress)
    manifest.files, manifest.target = output.files, output.target
    out.mkdir(parents=True, exist_ok=True)  # a database output has only the manifest here
    manifest.write(out)
    return manifest


def _write_chunks(plan: Plan, writer: Writer, progress: Progress) -> tuple[Ledger, np.ndarray]:
    """Build and write every chunk in order; the people table's duplicates go last, after
    every original person, as their ids are the highest."""
    style = plan.style
    ledger = Ledger(style.name_columns)
    pairs, duplicates = [], []
    title = f"generating {style.name}: {plan.people:,} people"
    with progress.task(title, total=plan.people) as task:
        for index in range(len(plan.chunks)):
            built = build_chunk(plan, index)
            ledger.merge(built.ledger)
            pairs.append(built.duplicate_pairs)
            for table, frame in built.tables:
                if table.people:
                    duplicates.append(_copy(frame.slice(built.size)))
                    frame = frame.slice(0, built.size)
                writer.write(table, frame)
            task.advance(built.size)
    writer.write(style.people_table, pl.concat(duplicates))
    return ledger, np.concatenate(pairs)


def _copy(frame: pl.DataFrame) -> pl.DataFrame:
    """A real copy: a slice would keep the whole chunk's buffers alive until the end."""
    return pl.DataFrame(frame.rows(), schema=frame.schema, orient="row")


def validate(
    style: str,
    people_count: int,
    seed: int,
    fmt: str,
    dirt: Dirt | None = None,
    encoding: str = "utf-8",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> tuple[Style, Dirt, str]:
    """Check the parameters before anything is written; a SynthError names the bad one."""
    spec = get_style(style)
    dirt = (dirt or Dirt()).validate()
    if not MIN_PEOPLE <= people_count <= MAX_PEOPLE:
        raise SynthError(
            f"people must be between {MIN_PEOPLE} and {MAX_PEOPLE:,}, not {people_count}"
        )
    if seed < 0:
        raise SynthError(f"seed must be 0 or more, not {seed}")
    if fmt not in FORMATS:
        raise SynthError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    normalized = ENCODING_ALIASES.get(encoding.lower().replace("_", "-"), encoding.lower())
    if normalized not in ENCODINGS:
        raise SynthError(f"unknown encoding {encoding!r} (known: {', '.join(ENCODINGS)})")
    if chunk_size < 1:
        raise SynthError(f"chunk size must be at least 1, not {chunk_size}")
    return spec, dirt, normalized
