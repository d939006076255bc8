"""The target model: the contract of the new EHR's tables, read from ``targets/NAME.yaml``.

A model file is reviewed by people, so every fault in it is reported as ``FILE:LINE: cause``
(ruamel's round-trip loader keeps the line of every key), and a model that loads is whole:
every type, value set and reference in it resolves.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from workbench.errors import TargetError
from workbench.mapping import library

TYPES = ("varchar", "text", "integer", "bigint", "double", "date", "timestamp", "boolean")
DECIMAL = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")
# Lower-case names need no quoting in any dialect or in a template's SQL; a leading
# underscore is reserved for the lineage columns the load stage adds.
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
TEXT_TYPES = ("varchar", "text")


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass(frozen=True)
class ValueSet:
    """The codes a column may hold: a local enumeration (``codes``) or the shape of the
    codes of a standard system (``pattern``), which is too large to enumerate."""

    name: str
    system: str
    codes: tuple[str, ...] | None = None
    pattern: str | None = None

    @property
    def local(self) -> bool:
        return self.codes is not None

    def sql_check(self, column_sql: str) -> str:
        """A DuckDB boolean expression: is ``column_sql`` in this value set."""
        if self.codes is not None:
            return f"{column_sql} IN ({', '.join(_literal(c) for c in self.codes)})"
        return f"regexp_full_match({column_sql}, {_literal(self.pattern or '')})"


@dataclass(frozen=True)
class TargetColumn:
    name: str
    type: str
    required: bool = False
    description: str = ""
    value_set: str | None = None
    references: tuple[str, str] | None = None  # (table, column)

    @property
    def decimal(self) -> tuple[int, int] | None:
        """(precision, scale) of a ``decimal(p,s)`` column."""
        m = DECIMAL.match(self.type)
        return (int(m[1]), int(m[2])) if m else None


@dataclass(frozen=True)
class TargetTable:
    name: str
    resource: str
    description: str
    primary_key: str
    columns: dict[str, TargetColumn]
    reference: bool = False  # provided by the tenant; a migration never loads it

    @property
    def foreign_keys(self) -> list[tuple[str, str, str]]:
        """(column, referenced table, referenced column) for each reference."""
        return [(c.name, *c.references) for c in self.columns.values() if c.references]

    @property
    def required(self) -> list[str]:
        """Columns that may not be null; the primary key always is."""
        return [c.name for c in self.columns.values() if c.required or c.name == self.primary_key]


@dataclass(frozen=True)
class TargetModel:
    name: str
    version: str
    title: str
    value_sets: dict[str, ValueSet]
    tables: dict[str, TargetTable]
    path: Path
    sha256: str

    def table(self, name: str) -> TargetTable:
        if name not in self.tables:
            known = ", ".join(self.tables)
            raise TargetError(f"model {self.name} has no table {name!r} (tables: {known})")
        return self.tables[name]

    def load_order(self) -> list[TargetTable]:
        """Tables with the tables they reference first; ties keep the file's order."""
        order, cyclic = _topological(self.tables)
        if cyclic:
            raise TargetError(f"{self.path}: tables reference each other in a cycle: {cyclic}")
        return [self.tables[name] for name in order]


def _topological(tables: dict[str, TargetTable]) -> tuple[list[str], list[str]]:
    """The load order, and the tables left over because they form a cycle."""
    parents = {
        name: {ref for _, ref, _ in t.foreign_keys if ref != name} for name, t in tables.items()
    }
    order: list[str] = []
    while len(order) < len(tables):
        ready = [n for n in tables if n not in order and parents[n] <= set(order)]
        if not ready:
            return order, [n for n in tables if n not in order]
        order.append(ready[0])
    return order, []


def find_model(mappings_dir: Path | None, name: str = "ehr") -> TargetModel:
    """The target model ``name``: the workspace's ``mappings/targets`` first, then the library."""
    path = library.find(mappings_dir, "targets", name)
    if path is None:
        known = ", ".join(library.names(mappings_dir, "targets")) or "none"
        raise TargetError(f"no target model {name!r} (known models: {known})")
    model = load_model(path)
    if model.name != name:
        raise TargetError(f"{path}: declares model {model.name!r}, but the file names {name!r}")
    return model


def load_model(path: Path) -> TargetModel:
    """Read and validate a target model file."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TargetError(f"{path}: cannot read the target model: {e.strerror or e}") from None
    try:
        root = YAML(typ="rt").load(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise TargetError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else 1
        raise TargetError(f"{path}:{line}: YAML syntax error: {e.problem or e}") from None
    except YAMLError as e:
        raise TargetError(f"{path}: YAML syntax error: {e}") from None
    return _Reader(path).model(root, hashlib.sha256(data).hexdigest())


class _Reader:
    """Builds a model from the YAML tree; every fault names the line it is on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reference_lines: dict[tuple[str, str], int] = {}

    def fail(self, line: int, message: str) -> TargetError:
        return TargetError(f"{self.path}:{line}: {message}")

    def model(self, root: Any, sha256: str) -> TargetModel:
        if not isinstance(root, CommentedMap):
            raise self.fail(1, "a target model is a mapping with model, version, title, tables")
        self.keys(root, 1, "the model", {"model", "version", "title", "tables"}, {"value_sets"})
        version = root["version"]
        if not isinstance(version, str):
            raise self.fail(value_line(root, "version"), 'version must be quoted, e.g. "1.0"')
        sets_node = self.mapping(root, "value_sets", optional=True)
        value_sets = {
            name: self.value_set(name, node, key_line(sets_node, name))
            for name, node in sets_node.items()
        }
        tables_node = self.mapping(root, "tables")
        if not tables_node:
            raise self.fail(key_line(root, "tables"), "the model has no tables")
        tables = {
            name: self.table(name, node, key_line(tables_node, name), value_sets)
            for name, node in tables_node.items()
        }
        self.check_references(tables)
        return TargetModel(
            name=self.text(root, "model", "model"),
            version=str(version),
            title=self.text(root, "title", "title"),
            value_sets=value_sets,
            tables=tables,
            path=self.path,
            sha256=sha256,
        )

    def value_set(self, name: str, node: Any, line: int) -> ValueSet:
        what = f"value set {name}"
        self.keys(node, line, what, {"system"}, {"codes", "pattern"})
        if ("codes" in node) == ("pattern" in node):
            raise self.fail(line, f"{what} needs either codes (local) or pattern (standard)")
        system = self.text(node, "system", what)
        if "pattern" in node:
            pattern = self.text(node, "pattern", what)
            try:
                re.compile(pattern)
            except re.error as e:
                raise self.fail(value_line(node, "pattern"), f"{what}: bad pattern: {e}") from None
            return ValueSet(name, system, pattern=pattern)
        codes = node["codes"]
        codes_line = value_line(node, "codes")
        if not isinstance(codes, list) or not codes:
            raise self.fail(codes_line, f"{what}: codes must be a non-empty list")
        if not all(isinstance(c, str) and c for c in codes):
            raise self.fail(codes_line, f"{what}: every code must be text (quote numbers)")
        if len(set(codes)) != len(codes):
            raise self.fail(codes_line, f"{what}: a code is listed twice")
        return ValueSet(name, system, codes=tuple(str(c) for c in codes))

    def table(
        self, name: str, node: Any, line: int, value_sets: dict[str, ValueSet]
    ) -> TargetTable:
        what = f"table {name}"
        self.name(name, line, "table")
        required = {"resource", "description", "primary_key", "columns"}
        self.keys(node, line, what, required, {"reference"})
        columns_node = self.mapping(node, "columns")
        columns = {
            col: self.column(name, col, spec, key_line(columns_node, col), value_sets)
            for col, spec in columns_node.items()
        }
        primary_key = self.text(node, "primary_key", what)
        if primary_key not in columns:
            raise self.fail(
                value_line(node, "primary_key"),
                f"{what}: primary key {primary_key!r} is not one of its columns",
            )
        reference = node.get("reference", False)
        if not isinstance(reference, bool):
            raise self.fail(value_line(node, "reference"), f"{what}: reference must be true/false")
        return TargetTable(
            name=name,
            resource=self.text(node, "resource", what),
            description=self.text(node, "description", what),
            primary_key=primary_key,
            columns=columns,
            reference=reference,
        )

    def column(
        self, table: str, name: str, node: Any, line: int, value_sets: dict[str, ValueSet]
    ) -> TargetColumn:
        what = f"column {table}.{name}"
        self.name(name, line, "column")
        self.keys(
            node, line, what, {"type", "description"}, {"required", "value_set", "references"}
        )
        type_ = self.text(node, "type", what).lower()
        if type_ not in TYPES and not DECIMAL.match(type_):
            known = ", ".join((*TYPES, "decimal(p,s)"))
            raise self.fail(
                value_line(node, "type"), f"{what}: unknown type {type_!r} (types: {known})"
            )
        required = node.get("required", False)
        if not isinstance(required, bool):
            raise self.fail(value_line(node, "required"), f"{what}: required must be true/false")
        value_set = None
        if "value_set" in node:
            value_set = self.text(node, "value_set", what)
            if value_set not in value_sets:
                known = ", ".join(value_sets) or "none"
                raise self.fail(
                    value_line(node, "value_set"),
                    f"{what}: unknown value set {value_set!r} (value sets: {known})",
                )
            if type_ not in TEXT_TYPES:
                raise self.fail(
                    value_line(node, "value_set"),
                    f"{what}: a value set needs a varchar or text column, not {type_}",
                )
        references = None
        if "references" in node:
            target = self.text(node, "references", what)
            ref_table, dot, ref_column = target.partition(".")
            if not dot or not ref_table or not ref_column:
                raise self.fail(
                    value_line(node, "references"),
                    f"{what}: references must be TABLE.COLUMN, not {target!r}",
                )
            references = (ref_table, ref_column)
            self.reference_lines[(table, name)] = value_line(node, "references")
        return TargetColumn(
            name=name,
            type=type_,
            required=required,
            description=self.text(node, "description", what),
            value_set=value_set,
            references=references,
        )

    def check_references(self, tables: dict[str, TargetTable]) -> None:
        for table in tables.values():
            for column, ref_table, ref_column in table.foreign_keys:
                line = self.reference_lines[(table.name, column)]
                what = f"column {table.name}.{column} references {ref_table}.{ref_column}"
                if ref_table not in tables:
                    raise self.fail(line, f"{what}: no such table (tables: {', '.join(tables)})")
                parent = tables[ref_table]
                if ref_column not in parent.columns:
                    raise self.fail(line, f"{what}: {ref_table} has no column {ref_column!r}")
                if ref_column != parent.primary_key:
                    # Only primary keys are unique in the DDL, and SQL refers to unique keys.
                    raise self.fail(
                        line, f"{what}: not the primary key of {ref_table} ({parent.primary_key})"
                    )
                if table.columns[column].type != parent.columns[ref_column].type:
                    raise self.fail(
                        line,
                        f"{what}: types differ "
                        f"({table.columns[column].type} vs "
                        f"{parent.columns[ref_column].type})",
                    )
        _, cyclic = _topological(tables)
        if cyclic:
            first = next(
                self.reference_lines[(t, c)]
                for t in cyclic
                for c, ref, _ in tables[t].foreign_keys
                if ref in cyclic and ref != t
            )
            raise self.fail(first, f"tables reference each other in a cycle: {', '.join(cyclic)}")

    # Shape checks shared by every node.

    def keys(self, node: Any, line: int, what: str, required: set[str], optional: set[str]):
        if not isinstance(node, CommentedMap):
            raise self.fail(line, f"{what} must be a mapping")
        for key in node:
            if key not in required | optional:
                expected = ", ".join(sorted(required | optional))
                raise self.fail(
                    key_line(node, key), f"{what}: unknown key {key!r} (expected: {expected})"
                )
        for key in sorted(required - set(node)):
            raise self.fail(line, f"{what} has no {key!r}")

    def mapping(self, node: CommentedMap, key: str, optional: bool = False) -> CommentedMap:
        value = node.get(key)
        if value is None and optional:
            return CommentedMap()
        if not isinstance(value, CommentedMap):
            raise self.fail(value_line(node, key), f"{key} must be a mapping")
        return value

    def text(self, node: CommentedMap, key: str, what: str) -> str:
        value = node[key]
        if not isinstance(value, str) or not value.strip():
            raise self.fail(value_line(node, key), f"{what}: {key} must be non-empty text")
        return str(value)

    def name(self, name: Any, line: int, kind: str) -> None:
        if not isinstance(name, str) or not NAME.match(name):
            raise self.fail(
                line,
                f"{kind} name {name!r} must be lower-case letters, digits "
                "and _, starting with a letter",
            )


def key_line(node: CommentedMap, key: Any) -> int:
    return node.lc.key(key)[0] + 1


def value_line(node: CommentedMap, key: Any) -> int:
    return node.lc.value(key)[0] + 1
