"""Settings: read from the environment once, with clear errors for unusable values."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from settings import Settings


def _from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_environment_variables_feed_the_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _from_env(
        monkeypatch,
        SLACK_APPROVERS="U01AAA, U02BBB;W03CCC",
        DATABASE_URL="postgres://mendbot@db:5432/mendbot",
        MONITOR_INTERVAL_SECONDS="2.5",
        SLACK_BOT_TOKEN="xoxb-secret",
        SLACK_COMMAND_CHANNELS="C0OPS, #incidents",
        MENDBOT_MAX_PROPOSALS_PER_CYCLE="8",
    )
    assert settings.slack_approvers == ["U01AAA", "U02BBB", "W03CCC"]
    assert settings.slack_command_channels == ["C0OPS", "#incidents"]
    assert settings.max_proposals_per_cycle == 8
    assert settings.database_url == "postgresql+psycopg://mendbot@db:5432/mendbot"
    assert settings.monitor_interval_seconds == 2.5
    assert "xoxb-secret" not in repr(settings)


def test_defaults_need_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _from_env(monkeypatch)
    assert settings.database_url == "sqlite:///mendbot.db"
    assert settings.effective_log_source == "none"
    assert (settings.lm, settings.slack_approvers, settings.slack_enabled) == (None, [], False)
    assert (settings.slack_command_channels, settings.max_proposals_per_cycle) == ([], 5)


@pytest.mark.parametrize(
    ("env", "source"),
    [
        ({"RAILWAY_SERVICE_ID": "s", "RAILWAY_TOKEN": "t"}, "railway"),
        ({"LOKI_URL": "http://loki:3100"}, "loki"),
        ({"MENDBOT_LOG_FILE": "/var/log/app.log"}, "file"),
        ({"MENDBOT_LOG_COMMAND": "journalctl -u app"}, "command"),
    ],
)
def test_the_source_is_guessed_from_what_is_set(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], source: str
) -> None:
    assert _from_env(monkeypatch, **env).effective_log_source == source


@pytest.mark.parametrize(
    ("source", "missing"),
    [
        ("railway", "RAILWAY_API_TOKEN or RAILWAY_TOKEN and RAILWAY_ENVIRONMENT_ID"),
        ("loki", "LOKI_URL and LOKI_QUERY"),
        ("file", "MENDBOT_LOG_FILE"),
    ],
)
def test_a_chosen_source_without_its_settings_fails_with_their_names(
    monkeypatch: pytest.MonkeyPatch, source: str, missing: str
) -> None:
    with pytest.raises(ValidationError, match=missing):
        _from_env(monkeypatch, MENDBOT_LOG_SOURCE=source)


def test_a_wrong_type_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="MONITOR_INTERVAL_SECONDS"):
        _from_env(monkeypatch, MONITOR_INTERVAL_SECONDS="often")
