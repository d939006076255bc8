"""Published versions of templates and crosswalks.

A draft (``mappings/templates/NAME.yaml``, a library module, ``mappings/crosswalks/NAME.csv``)
is what an engineer edits. Publishing freezes its bytes as ``NAME@vN`` under
``mappings/published/``: a read-only file plus a stamp with its sha256, publisher and date.
A job names ``NAME@vN``, and a published file whose bytes no longer match its stamp is
refused, so what was signed off is what runs.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench import state
from workbench.audit import AuditLog
from workbench.errors import MappingError
from workbench.mapping import library
from workbench.roles import Actor, current_actor, require
from workbench.workspace import Workspace

NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
REF = re.compile(rf"(?P<name>{NAME})(?:@(?P<version>v[1-9][0-9]*|latest))?")
STAMP_SUFFIX = ".stamp.json"


@dataclass(frozen=True)
class _Kind:
    name: str
    folder: str  # under mappings/published/
    suffix: str
    drafts: tuple[str, ...]  # library kinds searched for the draft, in order
    permission: str


KINDS = {
    "template": _Kind(
        "template", "templates", ".yaml", ("templates", "modules"), "publish_template"
    ),
    "crosswalk": _Kind("crosswalk", "crosswalks", ".csv", ("crosswalks",), "manage_crosswalks"),
}


@dataclass(frozen=True)
class Stamp:
    kind: str
    name: str
    version: str
    sha256: str
    publisher: str
    role: str | None
    published_at: str
    draft_path: str
    path: Path = field(compare=False)  # the published file
    new: bool = field(default=False, compare=False)  # True only when publish() wrote it

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def number(self) -> int:
        return int(self.version[1:])

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k not in ("path", "new")}

    def audit_ref(self) -> dict[str, Any]:
        return {"ref": self.ref, "version": self.version, "sha256": self.sha256}


@dataclass(frozen=True)
class Resolved:
    kind: str
    name: str
    version: str | None  # None: the draft
    path: Path
    sha256: str
    stamp: Stamp | None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}" if self.version else self.name


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``NAME`` -> (NAME, None); ``NAME@v2`` -> (NAME, "v2"); ``NAME@latest`` too."""
    match = REF.fullmatch(ref.strip())
    if match is None:
        raise MappingError(f"{ref!r} is not a reference: use NAME, NAME@vN or NAME@latest")
    return match["name"], match["version"]


def publish(ws: Workspace, kind: str, name: str) -> Stamp:
    """Publish the draft as the next version; an unchanged draft returns the latest one."""
    spec = _kind(kind)
    name = _plain_name(name)
    actor = require(ws, spec.permission, what=name)
    draft = draft_path(ws, kind, name)
    data = draft.read_bytes()
    # The lock keeps two publishers from both choosing vN+1.
    with state.file_lock(ws, "publish"):
        published = versions(ws, kind, name)
        if published and published[-1].sha256 == _sha256(data):
            _audit_publish(ws, actor, published[-1], unchanged=True)
            return published[-1]
        stamp = _write_version(ws, spec, name, data, actor, draft)
        try:
            _audit_publish(ws, actor, stamp, unchanged=False)
        except BaseException:
            # An unaudited version must not exist: nobody can have used it yet.
            _unlink_version(stamp)
            raise
    return replace(stamp, new=True)


def resolve(ws: Workspace, kind: str, ref: str) -> Resolved:
    """The file a reference names; a published version must still match its stamp."""
    _kind(kind)
    name, version = parse_ref(ref)
    if version is None:
        path = draft_path(ws, kind, name)
        return Resolved(kind, name, None, path, _sha256(path.read_bytes()), None)
    stamp = _find_version(ws, kind, name, version)
    actual = _sha256(stamp.path.read_bytes()) if stamp.path.is_file() else None
    if actual != stamp.sha256:
        _refuse_tampered(ws, stamp, actual)
    return Resolved(kind, name, stamp.version, stamp.path, stamp.sha256, stamp)


def versions(ws: Workspace, kind: str, name: str) -> list[Stamp]:
    """The published versions of ``name``, oldest first."""
    name = _plain_name(name)
    pattern = re.compile(rf"{re.escape(name)}@v[1-9][0-9]*{re.escape(STAMP_SUFFIX)}")
    found = published_dir(ws, kind).glob(f"{name}@v*{STAMP_SUFFIX}")
    stamps = [_read_stamp(ws, kind, p) for p in found if pattern.fullmatch(p.name)]
    return sorted(stamps, key=lambda s: s.number)


def draft_status(ws: Workspace, kind: str, name: str) -> str:
    published = versions(ws, kind, name)
    draft = _find_draft(ws, kind, name)
    if not published:
        if draft is None:
            raise MappingError(_no_draft(ws, kind, name))
        return "draft v1 (never published)"
    latest = published[-1]
    if draft is None:
        return f"{latest.version} published; no draft"
    if _sha256(draft.read_bytes()) == latest.sha256:
        return f"{latest.version} published; draft unchanged"
    return f"draft v{latest.number + 1} (edited since {latest.version})"


def diff(ws: Workspace, kind: str, name: str, a: str, b: str) -> str:
    """A unified diff from version ``a`` to ``b`` ("v1", "latest" or "draft"); "" if equal."""
    left, right = (_side(ws, kind, _plain_name(name), v) for v in (a, b))
    return "".join(difflib.unified_diff(left[1], right[1], left[0], right[0]))


def save_draft(ws: Workspace, name: str, text: str) -> Path:
    """Write the template draft ``mappings/templates/NAME.yaml`` (whole or not at all)."""
    name = _plain_name(name)
    actor = require(ws, "edit_template", what=name)
    path = ws.mappings_dir / "templates" / f"{name}.yaml"
    data = text.encode("utf-8")
    _write_atomic(ws, path, data, mode=0o644)
    AuditLog(ws).append(
        "save_draft",
        actor=actor,
        template={"ref": name, "version": None, "sha256": _sha256(data)},
        details={"kind": "template", "path": _rel(ws, path)},
    )
    return path


def published_dir(ws: Workspace, kind: str) -> Path:
    return ws.mappings_dir / "published" / _kind(kind).folder


def draft_path(ws: Workspace, kind: str, name: str) -> Path:
    path = _find_draft(ws, kind, name)
    if path is None:
        raise MappingError(_no_draft(ws, kind, name))
    return path


def _find_draft(ws: Workspace, kind: str, name: str) -> Path | None:
    for library_kind in _kind(kind).drafts:
        if path := library.find(ws.mappings_dir, library_kind, name):
            return path
    return None


def _no_draft(ws: Workspace, kind: str, name: str) -> str:
    spec = _kind(kind)
    where = " or ".join(f"mappings/{d}/{name}{spec.suffix}" for d in spec.drafts)
    return f"{where}: no {kind} {name} in the workspace or the built-in library"


def _find_version(ws: Workspace, kind: str, name: str, version: str) -> Stamp:
    published = versions(ws, kind, name)
    if version == "latest":
        if not published:
            raise MappingError(
                f"{_rel(ws, published_dir(ws, kind))}: {kind} {name} has no published version "
                f"(publish the draft first)"
            )
        return published[-1]
    for stamp in published:
        if stamp.version == version:
            return stamp
    listed = ", ".join(s.version for s in published) or "none yet"
    path = published_dir(ws, kind) / f"{name}@{version}{_kind(kind).suffix}"
    raise MappingError(f"{_rel(ws, path)}: no such version of {kind} {name} (published: {listed})")


def _refuse_tampered(ws: Workspace, stamp: Stamp, actual: str | None) -> None:
    where = _rel(ws, stamp.path)
    if actual is None:
        reason, evidence = "missing although its stamp records it as published", ""
    else:
        reason = "edited after it was published"
        evidence = f" (sha256 {actual[:8]}… ≠ stamped {stamp.sha256[:8]}…)"
    AuditLog(ws).append(
        "use",
        actor=current_actor(ws),
        outcome="refused",
        template=stamp.audit_ref() if stamp.kind == "template" else None,
        details={"kind": stamp.kind, "path": where, "reason": reason, "sha256": actual},
    )
    following = f"v{versions(ws, stamp.kind, stamp.name)[-1].number + 1}"
    raise MappingError(
        f"{where}: {reason}{evidence}; a published version is immutable: "
        f"edit the draft and publish {following}"
    )


def _audit_publish(ws: Workspace, actor: Actor, stamp: Stamp, *, unchanged: bool) -> None:
    ref = stamp.audit_ref()
    details: dict[str, Any] = {"kind": stamp.kind, "draft_path": stamp.draft_path}
    if unchanged:
        details["unchanged"] = True
    if stamp.kind != "template":
        details[stamp.kind] = ref
    AuditLog(ws).append(
        "publish",
        actor=actor,
        template=ref if stamp.kind == "template" else None,
        details=details,
    )


def _write_version(
    ws: Workspace, spec: _Kind, name: str, data: bytes, actor: Actor, draft: Path
) -> Stamp:
    folder = published_dir(ws, spec.name)
    number = _next_number(folder, name)
    stamp = Stamp(
        kind=spec.name,
        name=name,
        version=f"v{number}",
        sha256=_sha256(data),
        publisher=actor.user,
        role=actor.role,
        published_at=datetime.now(UTC).isoformat(timespec="seconds"),
        draft_path=_rel(ws, draft),
        path=folder / f"{name}@v{number}{spec.suffix}",
    )
    # The file before its stamp: a crash in between leaves a file no stamp vouches for,
    # which versions() ignores and _next_number() skips.
    _write_atomic(ws, stamp.path, data, mode=0o444)
    stamp_json = json.dumps(stamp.to_dict(), indent=2) + "\n"
    _write_atomic(ws, _stamp_path(stamp), stamp_json.encode("utf-8"), mode=0o444)
    return stamp


def _next_number(folder: Path, name: str) -> int:
    pattern = re.compile(rf"{re.escape(name)}@v([1-9][0-9]*)\..*")
    found = [int(m[1]) for p in folder.glob(f"{name}@v*") if (m := pattern.fullmatch(p.name))]
    return max(found, default=0) + 1


def _unlink_version(stamp: Stamp) -> None:
    for path in (_stamp_path(stamp), stamp.path):
        path.unlink(missing_ok=True)


def _stamp_path(stamp: Stamp) -> Path:
    return stamp.path.with_name(f"{stamp.ref}{STAMP_SUFFIX}")


def _read_stamp(ws: Workspace, kind: str, path: Path) -> Stamp:
    ref = path.name.removesuffix(STAMP_SUFFIX)
    try:
        stamp = Stamp(
            **json.loads(path.read_text(encoding="utf-8")),
            path=path.with_name(ref + _kind(kind).suffix),
        )
    except (OSError, ValueError, TypeError) as e:
        raise MappingError(f"{_rel(ws, path)}: not a readable version stamp ({e})") from None
    if stamp.ref != ref or stamp.kind != kind:
        raise MappingError(f"{_rel(ws, path)}: the stamp is for {stamp.kind} {stamp.ref}")
    return stamp


def _side(ws: Workspace, kind: str, name: str, version: str) -> tuple[str, list[str]]:
    """The header and lines of one side of a diff."""
    if version == "draft":
        found = resolve(ws, kind, name)
        modified = datetime.fromtimestamp(found.path.stat().st_mtime, UTC)
        header = (
            f"{name} (draft)  sha256 {found.sha256[:12]}…  {_rel(ws, found.path)}, "
            f"modified {modified.isoformat(timespec='seconds')}"
        )
    else:
        found = resolve(ws, kind, f"{name}@{version}")
        stamp = found.stamp
        assert stamp is not None  # a versioned reference always has one
        header = (
            f"{stamp.ref}  sha256 {stamp.sha256[:12]}…  "
            f"published by {stamp.publisher} ({stamp.role}) {stamp.published_at}"
        )
    lines = found.path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"  # else the last line and the next header run together
    return header, lines


def _write_atomic(ws: Workspace, path: Path, data: bytes, *, mode: int) -> None:
    """Write whole or not at all: a reader never sees half a version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise MappingError(f"{_rel(ws, path)}: cannot write: {e.strerror or e}") from None


def _kind(kind: str) -> _Kind:
    if kind not in KINDS:
        raise MappingError(f"{kind!r} is not a versioned kind (use {' or '.join(KINDS)})")
    return KINDS[kind]


def _plain_name(name: str) -> str:
    found, version = parse_ref(name)
    if version is not None:
        raise MappingError(f"{name!r}: give the name without @{version}")
    return found


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rel(ws: Workspace, path: Path) -> str:
    try:
        return path.resolve().relative_to(ws.root).as_posix()
    except ValueError:
        return str(path)
