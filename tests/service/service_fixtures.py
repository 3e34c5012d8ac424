"""Fixtures of the service tests (a pytest plugin: ``pytest_plugins = ["service_fixtures"]``).

The PostgreSQL cluster is started once per test session (``initdb`` in a
temporary folder, a unix socket there, no TCP) by the first test that needs it,
and stopped when the session ends; each test gets a fresh database in it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from service_helpers import Harness, PgCluster, make_harness, start_cluster

_CLUSTER: PgCluster | None = None
_CLUSTER_LOCK = threading.Lock()


@pytest.fixture(scope="session")
def pg_cluster(request: pytest.FixtureRequest) -> PgCluster:
    """The session's PostgreSQL cluster (one, however many modules import this fixture)."""
    global _CLUSTER
    with _CLUSTER_LOCK:
        if _CLUSTER is None:
            _CLUSTER = start_cluster()
            cluster = _CLUSTER

            def stop() -> None:
                global _CLUSTER
                cluster.stop()
                _CLUSTER = None

            request.config.add_cleanup(stop)
        return _CLUSTER


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.sqlite'}"
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.create_database()


@pytest.fixture
def harness(db_url: str, tmp_path: Path) -> Iterator[Harness]:
    """The service on each backend, driven in-process through its ASGI app."""
    h = make_harness(db_url, tmp_path)
    with h.client:
        yield h
