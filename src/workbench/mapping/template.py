"""A mapping template: what it says, read from YAML and checked against its JSON Schema,
with every error naming the file and the line."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from workbench.errors import MappingError
from workbench.yamldoc import YamlDoc, load_yaml, parse_yaml

SCHEMA_PATH = Path(__file__).with_name("template.schema.json")


@cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


@dataclass(frozen=True)
class Join:
    alias: str
    on: str
    table: str | None = None
    lookup: str | None = None
    how: str = "left"


@dataclass(frozen=True)
class Source:
    table: str
    alias: str | None = None
    joins: tuple[Join, ...] = ()

    @property
    def name(self) -> str:
        return self.alias or self.table


@dataclass(frozen=True)
class Field:
    name: str
    expr: str
    rationale: str | None = None
    reads: tuple[str, ...] | None = None  # declared source columns ("from")


@dataclass(frozen=True)
class Rule:
    """A filter (``sql`` excludes), a check (``sql`` must hold) or a variant's condition."""

    name: str
    sql: str
    rationale: str | None = None


@dataclass(frozen=True)
class Dedupe:
    name: str
    partition_by: tuple[str, ...]
    order_by: str | None
    rationale: str


@dataclass(frozen=True)
class Variant:
    name: str
    when: str | None
    fields: tuple[Field, ...]
    rationale: str | None = None


@dataclass(frozen=True)
class Section:
    source: Source
    key: str
    patient: str
    title: str
    columns: tuple[tuple[str, str], ...]
    rationale: str
    order_by: str | None = None
    filters: tuple[Rule, ...] = ()


@dataclass(frozen=True)
class Mapping:
    name: str
    target: str
    disposition: str
    rationale: str
    fields: tuple[Field, ...]
    index: int  # position in the template, for error locations
    source: Source | None = None
    key: str | None = None
    filters: tuple[Rule, ...] = ()
    dedupe: Dedupe | None = None
    checks: tuple[Rule, ...] = ()
    variants: tuple[Variant, ...] = ()
    sections: tuple[Section, ...] = ()

    @property
    def is_summary(self) -> bool:
        return self.disposition == "summary_document"

    def source_tables(self) -> list[str]:
        if self.is_summary:
            return [s.source.table for s in self.sections]
        return [self.source.table] if self.source else []

    def all_fields(self) -> list[Field]:
        """Common fields, then each variant's (a variant may override a common field)."""
        out = list(self.fields)
        for v in self.variants:
            out.extend(v.fields)
        return out


@dataclass(frozen=True)
class Lookup:
    name: str
    sql: str
    rationale: str


@dataclass(frozen=True)
class Template:
    name: str
    target: str
    mappings: tuple[Mapping, ...]
    path: Path | None = None
    sha256: str = ""
    title: str = ""
    source_system: str = ""
    description: str = ""
    rationale: str = ""
    crosswalks: tuple[str, ...] = ()
    gates: dict[str, float] = field(default_factory=dict)
    lookups: tuple[Lookup, ...] = ()
    doc: YamlDoc | None = field(default=None, compare=False, repr=False)

    def mapping(self, name: str) -> Mapping:
        for m in self.mappings:
            if m.name == name:
                return m
        raise MappingError(f"template {self.name}: no mapping named {name!r}")

    def where(self, *parts: str | int) -> str:
        """file:line of a part of the template, for error messages."""
        if self.doc is None:
            return f"template {self.name}"
        return self.doc.at(parts)

    def source_tables(self) -> list[str]:
        seen: dict[str, None] = {}
        for m in self.mappings:
            for t in m.source_tables():
                seen.setdefault(t)
        return list(seen)

    def targets(self) -> list[str]:
        return list(dict.fromkeys(m.target for m in self.mappings))


def load_template(path: Path) -> Template:
    doc = load_yaml(path, MappingError)
    data = doc.data()
    _validate(doc, data)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    template = _build(data, path, digest, doc)
    _check_names(template)
    return template


def parse_template(text: str, path: Path) -> Template:
    """A template from text not yet saved (the mapper's draft), located as ``path``."""
    doc = parse_yaml(text, path, MappingError)
    data = doc.data()
    _validate(doc, data)
    template = _build(data, path, hashlib.sha256(text.encode()).hexdigest(), doc)
    _check_names(template)
    return template


def _validate(doc: YamlDoc, data: Any) -> None:
    if not isinstance(data, dict):
        raise MappingError(f"{doc.path}:1: a template is a mapping with template, target, mappings")
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (len(e.path), list(e.path)))
    if errors:
        err = _most_specific(errors[0])
        where = list(err.absolute_path) + _offending_key(err)
        label = ".".join(str(p) for p in where) or "template"
        raise MappingError(f"{doc.at(where)}: {label}: {_message(err)}")


def _most_specific(err: jsonschema.ValidationError) -> jsonschema.ValidationError:
    # oneOf failures hide the real cause in their context: report the deepest one.
    while err.context:
        err = max(err.context, key=lambda e: len(e.absolute_path))
    return err


def _offending_key(err: jsonschema.ValidationError) -> list[str]:
    """For an unknown or badly named key, the key itself: its line is the one to fix."""
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        known = err.schema.get("properties", {})
        extra = [k for k in err.instance if k not in known]
        return extra[:1]
    if isinstance(err.instance, str) and "propertyNames" in list(err.absolute_schema_path):
        return [err.instance]
    return []


def _message(err: jsonschema.ValidationError) -> str:
    if err.validator == "additionalProperties":
        return err.message.replace("Additional properties are not allowed", "unknown key")
    if err.validator == "required":
        return err.message.replace("is a required property", "is required")
    return err.message


def _source(spec: Any) -> Source:
    if isinstance(spec, str):
        return Source(spec)
    joins = tuple(
        Join(j["alias"], j["on"], j.get("table"), j.get("lookup"), j.get("how", "left"))
        for j in spec.get("joins", [])
    )
    return Source(spec["table"], spec.get("alias"), joins)


def _fields(spec: dict[str, Any]) -> tuple[Field, ...]:
    out = []
    for name, f in spec.items():
        if isinstance(f, str):
            out.append(Field(name, f))
        else:
            reads = tuple(f["from"]) if "from" in f else None
            out.append(Field(name, f["expr"], f.get("rationale"), reads))
    return tuple(out)


def _rules(items: list[dict[str, Any]], key: str) -> tuple[Rule, ...]:
    return tuple(Rule(r["name"], r[key], r.get("rationale")) for r in items)


def _mapping(i: int, m: dict[str, Any]) -> Mapping:
    dd = m.get("dedupe")
    return Mapping(
        name=m.get("name", m["target"]),
        target=m["target"],
        disposition=m.get("disposition", "discrete"),
        rationale=m["rationale"],
        fields=_fields(m["fields"]),
        index=i,
        source=_source(m["source"]) if "source" in m else None,
        key=m.get("key"),
        filters=_rules(m.get("filters", []), "where"),
        dedupe=Dedupe(dd["name"], tuple(dd["partition_by"]), dd.get("order_by"), dd["rationale"])
        if dd
        else None,
        checks=_rules(m.get("checks", []), "assert"),
        variants=tuple(
            Variant(v["name"], v.get("when"), _fields(v["fields"]), v.get("rationale"))
            for v in m.get("variants", [])
        ),
        sections=tuple(
            Section(
                _source(s["source"]),
                s["key"],
                s["patient"],
                s["title"],
                tuple(s["columns"].items()),
                s["rationale"],
                s.get("order_by"),
                _rules(s.get("filters", []), "where"),
            )
            for s in m.get("sections", [])
        ),
    )


def _build(data: dict[str, Any], path: Path, digest: str, doc: YamlDoc) -> Template:
    return Template(
        name=data["template"],
        target=data["target"],
        mappings=tuple(_mapping(i, m) for i, m in enumerate(data["mappings"])),
        path=path,
        sha256=digest,
        title=data.get("title", ""),
        source_system=data.get("source_system", ""),
        description=data.get("description", ""),
        rationale=data.get("rationale", ""),
        crosswalks=tuple(data.get("crosswalks", [])),
        gates=dict(data.get("gates", {})),
        lookups=tuple(
            Lookup(n, spec["sql"], spec["rationale"]) for n, spec in data.get("lookups", {}).items()
        ),
        doc=doc,
    )


def _check_names(t: Template) -> None:
    seen: set[str] = set()
    for m in t.mappings:
        if m.name in seen:
            raise MappingError(f"{t.where('mappings', m.index)}: mapping name {m.name!r} repeats")
        seen.add(m.name)
        names = [r.name for r in (*m.filters, *m.checks)] + ([m.dedupe.name] if m.dedupe else [])
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise MappingError(
                f"{t.where('mappings', m.index)}: rule name {sorted(dup)[0]!r} repeats in "
                f"mapping {m.name}"
            )
        variants = [v.name for v in m.variants]
        if len(set(variants)) != len(variants):
            raise MappingError(f"{t.where('mappings', m.index, 'variants')}: variant names repeat")
