"""``profile.json``: the data migration map, machine-readable, in ``reports/<snapshot>/``.

Its schema is ``profile.schema.json`` next to this module (documented in
``docs/profile-json.md``). A profile is written whole or not at all: to a temporary file that
replaces the old one only once complete.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from workbench.errors import ProfileError
from workbench.profile.model import PROFILE_SCHEMA_VERSION, Profile

PROFILE_NAME = "profile.json"
SCHEMA_PATH = Path(__file__).with_name("profile.schema.json")


def report_dir(reports_dir: Path, snapshot: str) -> Path:
    """Where the reports of a snapshot go: ``reports/<snapshot>/``."""
    return reports_dir / snapshot


def profile_path(reports_dir: Path, snapshot: str) -> Path:
    return report_dir(reports_dir, snapshot) / PROFILE_NAME


def to_json(profile: Profile) -> str:
    return json.dumps(_finite(profile.to_dict()), indent=2, ensure_ascii=False, allow_nan=False)


def write_profile(profile: Profile, path: Path) -> Path:
    """Write ``profile`` to ``path`` atomically; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(to_json(profile) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise ProfileError(f"{path}: cannot write the profile: {e.strerror or e}") from None
    return path


def read_profile(path: Path) -> Profile:
    """A profile written by ``write_profile``, of this schema version."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"{path}: no profile here (run 'workbench profile')") from None
    except (OSError, ValueError) as e:
        raise ProfileError(f"{path}: not a readable profile: {e}") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != PROFILE_SCHEMA_VERSION:
        raise ProfileError(
            f"{path}: profile schema version {version!r}, this workbench reads "
            f"{PROFILE_SCHEMA_VERSION} (profile the snapshot again)"
        )
    try:
        return Profile.from_dict(data)
    except (KeyError, TypeError) as e:
        raise ProfileError(f"{path}: not a valid profile: {e}") from None


def _finite(node: Any) -> Any:
    """JSON has no NaN or infinity: such a statistic is written as null."""
    if isinstance(node, float) and not math.isfinite(node):
        return None
    if isinstance(node, dict):
        return {k: _finite(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_finite(v) for v in node]
    return node
