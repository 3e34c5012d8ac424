"""The Alembic migrations build exactly the models' schema, on SQLite and PostgreSQL, and
run down and up again; the ``serve`` command's options."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from gridhash.service.db import Base, Database, downgrade

pytest_plugins = ["service_fixtures"]


def test_migrations_build_the_models_schema_and_reverse(db_url: str) -> None:
    from gridhash.service.config import ServiceConfig

    db = Database(ServiceConfig(db=db_url).sqlalchemy_url)
    try:
        db.migrate()
        db.migrate()  # already at head: nothing to do
        with db.engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
            assert ctx.get_current_revision() == "0002_agent_ops"
        tables = set(inspect(db.engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        downgrade(db.engine)
        assert set(inspect(db.engine).get_table_names()) & set(Base.metadata.tables) == set()
        db.migrate()
        assert set(Base.metadata.tables) <= set(inspect(db.engine).get_table_names())
    finally:
        db.dispose()


def test_sqlite_runs_in_wal_mode_with_full_sync(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.sqlite'}")
    try:
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.dispose()


def test_postgresql_urls_get_the_psycopg_driver() -> None:
    from gridhash.service.config import ServiceConfig

    config = ServiceConfig(db="postgresql://ops@db.example/gridhash")
    assert config.sqlalchemy_url == "postgresql+psycopg://ops@db.example/gridhash"
    assert not config.is_sqlite
    assert str(config.ledger_path()) == "gridhash-service.ledger.sqlite"
    lite = ServiceConfig(db="sqlite:////srv/ops/plant.sqlite")
    assert str(lite.ledger_path()) == "/srv/ops/plant.ledger.sqlite"
    assert str(lite.keys_path()) == "/srv/ops/plant.ledger-keys"


def test_serve_command_options() -> None:
    import typer
    from typer.testing import CliRunner

    from gridhash.service.cli import serve_command

    app = typer.Typer()
    app.command("serve")(serve_command)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    for option in ("--host", "--port", "--db", "--demo"):
        assert option in result.output
    bad = CliRunner().invoke(app, ["serve", "--port", "0"])
    assert bad.exit_code == 2


@pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")
def test_plotly_is_served_from_the_installed_package(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient
    from service_helpers import make_harness

    h = make_harness(f"sqlite:///{tmp_path / 'p.sqlite'}", tmp_path)
    with h.client:
        r = h.client.get("/static/plotly.min.js")
        assert r.status_code == 200 and len(r.content) > 1_000_000
        assert b"plotly.js" in r.content[:2000]
        assert h.client.get("/static/app.css").status_code == 200
        assert isinstance(h.client, TestClient)
