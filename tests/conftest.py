"""Shared fixtures. Tests that need PostgreSQL or MariaDB skip when a server is down,
unless WORKBENCH_REQUIRE_SERVICES=1 (as in CI), where they fail instead."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

FIXTURES = Path(__file__).parent / "fixtures"
REQUIRE_SERVICES = os.environ.get("WORKBENCH_REQUIRE_SERVICES") == "1"

MARIADB_URL = os.environ.get("WORKBENCH_TEST_MARIADB", "mysql+pymysql://root@127.0.0.1:3306/test")
POSTGRES_URL = os.environ.get(
    "WORKBENCH_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def _service(url: str) -> str:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as con:
            con.execute(sa.text("SELECT 1"))
    except Exception as e:  # any driver error means the server is not usable
        message = f"{url.split('@')[-1]} is not reachable: {type(e).__name__}"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (WORKBENCH_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def mariadb_url() -> str:
    return _service(MARIADB_URL)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    return _service(POSTGRES_URL)


def require_tool(name: str) -> str:
    """A command-line tool a test needs (mdbtools, mariadb client)."""
    path = shutil.which(name)
    if path is None:
        if REQUIRE_SERVICES:
            pytest.fail(f"{name} is not installed; the project's setup installs it")
        pytest.skip(f"{name} is not installed")
    return path


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    """A fresh, empty customer workspace."""
    from workbench import workspace

    workspace.init(tmp_path / "ws", name="test-clinic")
    return tmp_path / "ws"
