"""``--format mysqldump``: one ``.sql`` file as MySQL 5.7's mysqldump writes it.

Tables come in name order (as SHOW TABLES lists them), each with DROP/CREATE, then its data
under LOCK TABLES with keys disabled, in extended INSERTs of at most about NET_BUFFER_LENGTH
bytes. Rows are generated chunk by chunk for all tables at once, so each table's INSERTs go to
a staging file first and are stitched into the dump at the end.
"""

from __future__ import annotations

import shutil

import polars as pl

from workbench.progress import SILENT, Progress
from workbench.synth import people
from workbench.synth.plan import Plan
from workbench.synth.tables import TableSpec
from workbench.synth.writers.base import HashedFile, Output, Staging, Writer, encode

NET_BUFFER_LENGTH = 1_046_528  # mysqldump's default: the longest extended INSERT it writes
SERVER = "5.7.42-log"
# mysql_real_escape_string's table
ESCAPES = {
    "\\": "\\\\",
    "\0": "\\0",
    "\n": "\\n",
    "\r": "\\r",
    "'": "\\'",
    '"': '\\"',
    "\x1a": "\\Z",
}
CHARSETS = {"utf-8": "utf8", "cp1252": "latin1"}  # MySQL's latin1 is Windows-1252


def literal(s: pl.Series) -> pl.Expr:
    """A column's values as SQL literals: numbers bare, strings quoted and escaped, NULL."""
    e = pl.lit(s)
    if s.dtype == pl.Utf8:
        e = pl.concat_str(
            [pl.lit("'"), e.str.replace_many(list(ESCAPES), list(ESCAPES.values())), pl.lit("'")]
        )
    else:
        e = e.cast(pl.Utf8)
    return e.fill_null("NULL")


def insert_statements(spec: TableSpec, frame: pl.DataFrame) -> str:
    if frame.height == 0:
        return ""
    values = pl.concat_str([literal(frame[c.name]) for c in spec.columns], separator=",")
    rows = pl.select(pl.concat_str([pl.lit("("), values, pl.lit(")")]).alias("row"))
    prefix = f"INSERT INTO `{spec.name}` VALUES "
    length = pl.col("row").str.len_bytes() + 1
    statements = (
        rows.with_columns(stmt=((length.cum_sum() - length) // (NET_BUFFER_LENGTH - len(prefix))))
        .group_by("stmt", maintain_order=True)
        .agg(pl.col("row").str.join(","))
    )
    return "".join(f"{prefix}{values};\n" for values in statements["row"])


def create_table(spec: TableSpec, rows: int, charset: str) -> str:
    lines = []
    pk = spec.primary_key
    for c in spec.columns:
        if c is pk:
            extra = " NOT NULL AUTO_INCREMENT" if c.kind == "id" else " NOT NULL"
        elif c.sql == "text":
            extra = ""
        else:
            extra = " DEFAULT NULL"
        lines.append(f"  `{c.name}` {c.sql}{extra}")
    lines.append(f"  PRIMARY KEY (`{pk.name}`)")
    lines += [f"  KEY `{c.name}` (`{c.name}`)" for c in spec.columns if c.kind in ("fk", "ref")]
    auto = f" AUTO_INCREMENT={rows + 1}" if pk.kind == "id" and rows else ""
    return (
        f"DROP TABLE IF EXISTS `{spec.name}`;\n"
        "/*!40101 SET @saved_cs_client     = @@character_set_client */;\n"
        f"/*!40101 SET character_set_client = {charset} */;\n"
        f"CREATE TABLE `{spec.name}` (\n" + ",\n".join(lines) + "\n"
        f") ENGINE=InnoDB{auto} DEFAULT CHARSET=latin1;\n"
        "/*!40101 SET character_set_client = @saved_cs_client */;\n"
    )


def header(database: str, charset: str) -> str:
    return (
        f"-- MySQL dump 10.13  Distrib 5.7.42, for Linux (x86_64)\n"
        f"--\n"
        f"-- Host: localhost    Database: {database}\n"
        f"-- ------------------------------------------------------\n"
        f"-- Server version\t{SERVER}\n\n"
        "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
        "/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;\n"
        "/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;\n"
        f"/*!40101 SET NAMES {charset} */;\n"
        "/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;\n"
        "/*!40103 SET TIME_ZONE='+00:00' */;\n"
        "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n"
        "/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n"
        "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n"
        "/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;\n"
    )


def trailer() -> str:
    return (
        "\n/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n\n"
        "/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n"
        "/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n"
        "/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;\n"
        "/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n"
        "/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;\n"
        "/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;\n"
        "/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n\n"
        f"-- Dump completed on {people.AS_OF.isoformat()} 23:14:07\n"
    )


class MysqldumpWriter(Writer):
    def __init__(self, out, encoding: str = "utf-8"):
        super().__init__(out)
        self.encoding = encoding
        self.charset = CHARSETS[encoding]
        self.parts: dict[str, HashedFile] = {}
        self.staging: Staging | None = None

    def begin(self, plan: Plan) -> None:
        self.plan = plan
        self.name = f"{plan.style.name}.sql"
        self.staging = Staging(self.out)
        self.parts = {
            t.name: HashedFile(self.staging.path(f"{t.name}.part")) for t in plan.style.tables
        }

    def write(self, spec: TableSpec, frame: pl.DataFrame) -> None:
        text = insert_statements(spec, frame)
        if text:
            self.parts[spec.name].write(encode(text, self.encoding, f"table {spec.name}"))

    def finish(self, progress: Progress = SILENT) -> Output:
        for part in self.parts.values():
            part.close()
        totals = self.plan.totals
        specs = sorted(self.plan.style.tables, key=lambda t: t.name)
        dump = HashedFile(self.staging.path(self.name))

        def put(text: str) -> None:  # dump structure is ASCII
            dump.write(text.encode(self.encoding))

        with progress.task(f"writing {self.name}", total=len(specs)) as task:
            put(header(self.plan.style.name, self.charset))
            for spec in specs:
                put(
                    f"\n--\n-- Table structure for table `{spec.name}`\n--\n\n"
                    + create_table(spec, totals[spec.name], self.charset)
                    + f"\n--\n-- Dumping data for table `{spec.name}`\n--\n\n"
                    f"LOCK TABLES `{spec.name}` WRITE;\n"
                    f"/*!40000 ALTER TABLE `{spec.name}` DISABLE KEYS */;\n"
                )
                part = self.parts[spec.name].path
                with part.open("rb") as src:
                    shutil.copyfileobj(src, _Tee(dump), 8 << 20)
                part.unlink()
                put(f"/*!40000 ALTER TABLE `{spec.name}` ENABLE KEYS */;\nUNLOCK TABLES;\n")
                task.advance()
            put(trailer())
        entry = dump.close()
        self.staging.commit([self.name])
        return Output(files=[entry])

    def abort(self) -> None:
        for part in self.parts.values():
            part.close()
        if self.staging:
            self.staging.abort()


class _Tee:
    """Lets shutil.copyfileobj write through a HashedFile."""

    def __init__(self, target: HashedFile):
        self.write = target.write
