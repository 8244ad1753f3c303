"""MENDBOT_DELIVERY and the GitHub settings: read from the environment, refused at boot
with one clear message when pull requests lack what they need, wired by the runtime."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fixes.apply.delivery import PullRequestDelivery, PushDelivery
from monitoring.runtime import build_runtime
from settings import Settings, service_environment
from tests.fakes.git import make_repo


def _from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_push_is_the_default_and_needs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _from_env(monkeypatch, GITHUB_REPOSITORY="not a repository")
    assert settings.delivery == "push"
    assert settings.github_api_url == "https://api.github.com"


def test_pull_request_delivery_reads_its_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _from_env(
        monkeypatch,
        MENDBOT_DELIVERY="pull_request",
        GITHUB_TOKEN="ghp_secretsecretsecretsecret0123",
        GITHUB_REPOSITORY="acme/orders",
        GITHUB_API_URL="https://ghe.example.com/api/v3",
    )
    assert (settings.delivery, settings.github_repository) == ("pull_request", "acme/orders")
    assert settings.github_api_url == "https://ghe.example.com/api/v3"
    assert "ghp_secret" not in repr(settings)
    assert "GITHUB_TOKEN" not in service_environment()  # the service never sees it


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "MENDBOT_DELIVERY=pull_request needs GITHUB_TOKEN and GITHUB_REPOSITORY"),
        ({"GITHUB_TOKEN": "ghp_x"}, "needs GITHUB_REPOSITORY to be set"),
        ({"GITHUB_REPOSITORY": "acme/orders"}, "needs GITHUB_TOKEN to be set"),
        ({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "acme"}, "must be owner/name"),
        ({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "acme/../admin"}, "must be owner/name"),
        (
            {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "https://github.com/acme/orders"},
            "owner/name",
        ),
    ],
)
def test_pull_request_delivery_without_what_it_needs_fails_at_boot(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], says: str
) -> None:
    with pytest.raises(ValidationError, match=says.replace(".", r"\.")):
        _from_env(monkeypatch, MENDBOT_DELIVERY="pull_request", **env)


def test_an_unknown_delivery_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="MENDBOT_DELIVERY"):
        _from_env(monkeypatch, MENDBOT_DELIVERY="email")


def test_the_runtime_builds_the_delivery_the_settings_choose(make_settings, tmp_path: Path) -> None:
    (tmp_path / "service").mkdir()
    pair = make_repo(tmp_path / "service", {"app.py": "x = 1\n"})
    chosen = make_settings(
        target_repo_path=pair.work,
        delivery="pull_request",
        github_token="ghp_secretsecretsecretsecret0123",
        github_repository="acme/orders",
    )
    runtime = build_runtime(chosen)
    try:
        assert runtime.implementor is not None and runtime.github is not None
        assert isinstance(runtime.implementor.delivery, PullRequestDelivery)
        assert runtime.implementor.delivery.github is runtime.github
        assert runtime.github.repository == "acme/orders"
    finally:
        runtime.close()
    assert runtime.github.client.is_closed

    plain = build_runtime(make_settings(target_repo_path=pair.work))
    try:
        assert plain.github is None and plain.implementor is not None
        assert isinstance(plain.implementor.delivery, PushDelivery)
    finally:
        plain.close()


def test_the_start_summary_names_the_delivery_and_warns_without_monitoring(make_settings) -> None:
    from bot.cli.run_command import summary_lines

    chosen = make_settings(delivery="pull_request", github_token="t", github_repository="acme/o")
    lines = summary_lines(chosen, source=None, source_note="", transport="off", warnings=[])
    plain = summary_lines(
        make_settings(), source="file", source_note="", transport="off", warnings=[]
    )

    assert "  delivery:    pull requests from mendbot/<fix id> into main on acme/o" in lines
    assert any(line.startswith("  warning: MENDBOT_DELIVERY=pull_request") for line in lines)
    assert "  delivery:    push to origin/main" in plain
    assert not any("warning" in line for line in plain)
