"""``workbench synth``: generate a synthetic legacy occupational-health clinic."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from workbench.cli.edge import JsonOption, RichProgress, emit_json, out
from workbench.errors import SynthError
from workbench.secrets import SealedSecret
from workbench.synth import ENCODINGS, FORMATS, MANIFEST_NAME, STYLES, Dirt, generate
from workbench.synth.generate import validate

DIRT_HELP = (
    "Set one dirt rate, NAME=RATE between 0 and 1; repeat for more. Names: "
    + ", ".join(Dirt.names())
    + ". Starts from the defaults, or from none with --clean."
)


def synth(
    style: str = typer.Option("ohm", "--style", "-s", help=f"Legacy style: {', '.join(STYLES)}."),
    people: int = typer.Option(1000, "--people", "-n", help="How many people (20 to millions)."),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same seed, the same bytes."),
    fmt: str = typer.Option("csv", "--format", "-f", help=f"Output: {', '.join(FORMATS)}."),
    out_dir: Path = typer.Option(
        Path("synth-output"),
        "--out",
        "-o",
        help=f"Output folder: the CSVs or the .sql dump, and {MANIFEST_NAME}.",
    ),
    encoding: str = typer.Option(
        "utf-8", "--encoding", help=f"Text encoding of csv and mysqldump: {', '.join(ENCODINGS)}."
    ),
    url: str = typer.Option(
        None,
        "--url",
        help="SQLAlchemy URL for --format database, or env:NAME to read it from the environment.",
    ),
    schema: str = typer.Option(
        None,
        "--schema",
        help="Schema (MySQL: database) to create the "
        "tables in, for --format database; created if missing.",
    ),
    replace: bool = typer.Option(
        False, "--replace", help="Drop existing tables of the same names, for --format database."
    ),
    clean: bool = typer.Option(False, "--clean", help="No dirt at all (local codes remain)."),
    dirt_rates: list[str] = typer.Option([], "--dirt", help=DIRT_HELP),
    as_json: bool = JsonOption,
) -> None:
    """Generate a legacy occupational-health clinic, seeded and repeatable, with known dirt.

    Writes CSVs, a mysqldump file or a live database, plus synth-manifest.json (ground truth).
    """
    dirt = (Dirt.clean() if clean else Dirt()).with_rates(**_rates(dirt_rates))
    validate(style, people, seed, fmt, dirt, encoding)  # fail before the progress bar starts
    if url and url.startswith("env:"):
        url = SealedSecret.parse(url, "--url").reveal()
    with RichProgress() as progress:
        manifest = generate(
            style=style,
            people=people,
            seed=seed,
            fmt=fmt,
            out=out_dir,
            dirt=dirt,
            encoding=encoding,
            url=url,
            schema=schema,
            replace=replace,
            progress=progress,
        )
    if as_json:
        emit_json({**manifest.to_dict(), "manifest_path": str(out_dir / MANIFEST_NAME)})
        return
    table = Table(
        "table", "rows", title=f"{manifest.title}: {manifest.people:,} people, seed {manifest.seed}"
    )
    for name, rows in manifest.rows.items():
        table.add_row(name, f"{rows:,}")
    out.print(table)
    dirt_table = Table("dirt", "count", title="injected dirt")
    for name, n in manifest.dirt["totals"].items():
        dirt_table.add_row(name, f"{n:,}")
    out.print(dirt_table)
    where = manifest.target["url"] if manifest.target else out_dir
    out.print(
        f"{manifest.total_rows:,} rows written to {where}; ground truth in "
        f"{out_dir / MANIFEST_NAME}"
    )


def _rates(items: list[str]) -> dict[str, float]:
    rates = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep:
                raise ValueError
            rates[name.strip()] = float(value)
        except ValueError:
            raise SynthError(f"--dirt {item!r}: expected NAME=RATE, e.g. orphan_fks=0.01") from None
    return rates


def register(app: typer.Typer) -> None:
    app.command()(synth)
