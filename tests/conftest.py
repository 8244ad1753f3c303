"""Shared fixtures: a clean environment, settings, database URLs (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
ASGI_LOG = SHARED_DATA / "applogs" / "asgi_service.log"
POSTGRES_ENV = "MENDBOT_TEST_POSTGRES_URL"

# LiteLLM would otherwise try to download its model price map at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's mendbot configuration (env vars or .env)."""
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, str):
            monkeypatch.delenv(alias, raising=False)


@pytest.fixture
def make_settings(tmp_path: Path):
    """Build ``Settings`` from keyword arguments only (no environment, no .env file);
    the database defaults to a SQLite file in ``tmp_path``."""

    def factory(**overrides: object) -> Settings:
        overrides.setdefault("database_url", f"sqlite:///{tmp_path / 'mendbot.db'}")
        # Slack's pace (one post a second per channel) is tested on its own
        # (tests/bot/test_slack_outbox.py); elsewhere it would only make flows slow.
        overrides.setdefault("slack_posts_per_second", 100.0)
        return Settings(_env_file=None, **overrides)  # type: ignore[call-arg]

    return factory


def _postgres_url_with_schema(base: str, schema: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose tables live in a fresh schema, dropped afterwards.

    Skipped (with the reason shown by ``-ra``) unless MENDBOT_TEST_POSTGRES_URL is set.
    """
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} is not set (PostgreSQL tests need a server)")
    import sqlalchemy

    base = base.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"mendbot_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield _postgres_url_with_schema(base, schema)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using it runs twice: on a SQLite file, and on PostgreSQL when available."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mendbot.db'}"
    return request.getfixturevalue("postgres_url")
