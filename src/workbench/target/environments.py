"""Target environments: where a job loads, as named in ``[targets.NAME]`` of ``workbench.toml``.

```toml
[targets.sandbox]                # a DuckDB file as the sandbox EHR
kind = "duckdb"
path = "state/targets/sandbox.duckdb"

[targets.rehearsal]              # a real deployment: PostgreSQL
kind = "postgresql"
url = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
schema = "ehr_rehearsal"
password = "env:EHR_DB_PASSWORD"  # optional, sealed
```

A workspace without any ``[targets]`` has the built-in ``sandbox``: a DuckDB file under
``state/targets/``. A URL that embeds a password is refused; the password is a sealed
reference resolved only when a connection is made, and no label or message shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import URL

from workbench.errors import ConfigError
from workbench.secrets import SealedSecret
from workbench.workspace import CONFIG_NAME, Workspace

Kind = Literal["duckdb", "postgresql"]
KINDS: tuple[str, ...] = ("duckdb", "postgresql")
SANDBOX = "sandbox"
SANDBOX_PATH = Path("state") / "targets" / "sandbox.duckdb"
DEFAULT_PG_SCHEMA = "public"
_KEYS: dict[str, tuple[set[str], set[str]]] = {  # kind -> (required, optional)
    "duckdb": ({"kind", "path"}, {"schema"}),
    "postgresql": ({"kind", "url"}, {"schema", "password"}),
}
_PASSWORD_KEYS = ("password", "passwd", "pwd")


@dataclass(frozen=True)
class TargetEnv:
    """One target environment. ``password`` is a sealed reference, never a value."""

    name: str
    kind: Kind
    path: Path | None = None
    url: str | None = None
    schema: str | None = None
    password: SealedSecret | None = None

    def describe(self) -> str:
        """A label for messages: kind, place and schema; never a secret."""
        if self.kind == "duckdb":
            place = f"duckdb {self.path}"
        else:
            place = f"postgresql {_place(self.sa_url)}"
        if self.schema:
            place += f" schema {self.schema}"
        return f"target {self.name} ({place})"

    @property
    def label(self) -> str:
        return self.describe()

    @property
    def sa_url(self) -> URL:
        """The configured URL (PostgreSQL), without a password."""
        if self.url is None:
            raise ConfigError(f"target {self.name!r} has no url")
        return sa.make_url(self.url)

    def __str__(self) -> str:
        return self.describe()


def _place(url: URL) -> str:
    host = url.host or "localhost"
    port = f":{url.port}" if url.port else ""
    return f"{host}{port}/{url.database or ''}"


def target_envs(ws: Workspace) -> dict[str, TargetEnv]:
    """Every target environment of the workspace (the built-in sandbox if none is set)."""
    where = ws.root / CONFIG_NAME
    targets = ws.config.get("targets")
    if targets is None:
        return {SANDBOX: TargetEnv(SANDBOX, "duckdb", path=ws.root / SANDBOX_PATH)}
    if not isinstance(targets, dict):
        raise ConfigError(f"{where}: [targets] must be a table of [targets.NAME] tables")
    return {name: _parse(name, spec, ws.root, where) for name, spec in targets.items()}


AD_HOC = "duckdb:"


def target_env(ws: Workspace, name: str) -> TargetEnv:
    """The target environment ``name``; a ConfigError lists the known ones.

    ``duckdb:PATH`` names an ad-hoc DuckDB sandbox (e.g. a notebook's throwaway target)."""
    if name.startswith(AD_HOC) and len(name) > len(AD_HOC):
        return TargetEnv(name, "duckdb", path=Path(name[len(AD_HOC) :]).expanduser())
    envs = target_envs(ws)
    if name not in envs:
        known = ", ".join(envs) or "none"
        raise ConfigError(
            f"{ws.root / CONFIG_NAME}: no target {name!r} (targets: {known}); "
            f"add a [targets.{name}] table"
        )
    return envs[name]


def _parse(name: str, spec: Any, root: Path, where: Path) -> TargetEnv:
    what = f"{where}: [targets.{name}]"
    if not isinstance(spec, dict):
        raise ConfigError(f"{what} must be a table with kind = ...")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{what}: kind must be one of {', '.join(KINDS)}, not {kind!r}")
    required, optional = _KEYS[kind]
    unknown = sorted(set(spec) - required - optional)
    if unknown:
        expected = ", ".join(sorted(required | optional))
        raise ConfigError(f"{what}: unknown key {unknown[0]!r} (expected: {expected})")
    missing = sorted(required - set(spec))
    if missing:
        raise ConfigError(f"{what}: {missing[0]!r} is required for a {kind} target")
    schema = spec.get("schema")
    if schema is not None and (not isinstance(schema, str) or not schema.strip()):
        raise ConfigError(f"{what}: schema must be a non-empty name")
    if kind == "duckdb":
        value = spec["path"]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{what}: path must be a file name")
        path = Path(value).expanduser()
        return TargetEnv(name, "duckdb", path=path if path.is_absolute() else root / path,
                         schema=schema)  # fmt: skip
    url = _parse_url(what, spec["url"])
    ref = spec.get("password")
    password = None
    if ref is not None:
        password = SealedSecret.parse(str(ref), f"{what}: password")
    return TargetEnv(
        name,
        "postgresql",
        url=url.render_as_string(hide_password=False),
        schema=schema or DEFAULT_PG_SCHEMA,
        password=password,
    )


def _parse_url(what: str, text: Any) -> URL:
    try:
        url = sa.make_url(str(text))
    except (sa.exc.ArgumentError, ValueError):
        # Not echoed: a malformed URL may still hold a password.
        raise ConfigError(
            f"{what}: url is not a SQLAlchemy URL (like postgresql+psycopg://user@host:5432/db)"
        ) from None
    if url.get_backend_name() != "postgresql":
        raise ConfigError(f"{what}: a postgresql target needs a postgresql:// url")
    if url.password or any(k.lower() in _PASSWORD_KEYS for k in url.query):
        raise ConfigError(
            f"{what}: the url contains a password; remove it from the url and set "
            'password = "env:NAME", naming the environment variable that holds it'
        )
    return url
