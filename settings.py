"""Shared configuration: the one pydantic-settings class that bot, monitoring and fixes read.

Every field is read from the environment variable named in its alias (``DATABASE_URL``,
``MENDBOT_LM``, ...), or from a ``.env`` file in the working directory. Code never reads
``os.environ`` for configuration: the process entry point calls :func:`get_settings` once
and passes the object (or the fields it needs) into constructors; tests build
``Settings(...)`` directly with keyword arguments named after the fields.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogSourceName = Literal["railway", "loki", "file", "command", "none"]
AutoRevert = Literal["off", "deploy_failed", "regressed"]

DEFAULT_RAILWAY_API_URL = "https://backboard.railway.com/graphql/v2"

DeliveryName = Literal["push", "pull_request"]
DEFAULT_GITHUB_API_URL = "https://api.github.com"
#: ``GITHUB_REPOSITORY``: ``owner/name`` as GitHub allows them (use ``fullmatch``).
GITHUB_REPOSITORY_PATTERN = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/(?!\.{1,2}\Z)[A-Za-z0-9._-]{1,100}"
)


class Settings(BaseSettings):
    """mendbot's configuration, one field per environment variable (see README, "Configuration").

    Durations are in seconds, sizes in bytes or characters as the name says. Secrets are
    ``SecretStr`` so they never appear in ``repr`` or logs.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
    )

    # --- storage -------------------------------------------------------------------------
    database_url: str = Field(
        "sqlite:///mendbot.db",
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL; postgres:// and postgresql:// use psycopg 3.",
    )

    # --- diagnosis (LLM through DSPy) ------------------------------------------------------
    lm: str | None = Field(
        None,
        validation_alias="MENDBOT_LM",
        description="LiteLLM model string, e.g. openai/gpt-4o-mini; unset = offline playbooks.",
    )
    openai_api_key: SecretStr | None = Field(None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(None, validation_alias="OPENAI_BASE_URL")
    lm_timeout_seconds: float = Field(60.0, validation_alias="MENDBOT_LM_TIMEOUT_SECONDS")
    lm_max_retries: int = Field(2, validation_alias="MENDBOT_LM_MAX_RETRIES")
    lm_max_tokens: int = Field(
        4_000,
        ge=64,
        validation_alias="MENDBOT_LM_MAX_TOKENS",
        description="Most tokens the LM may write per request; a small local model that "
        "repeats itself stops here (1000 suits one writing 5-30 tokens a second; "
        "MENDBOT_LM_TIMEOUT_SECONDS must cover the prompt plus this many tokens).",
    )
    lm_adapter: Literal["chat", "json"] = Field(
        "chat",
        validation_alias="MENDBOT_LM_ADAPTER",
        description="How answers are asked for: chat = DSPy's [[ ## field ## ]] sections "
        "(JSON adapter as fallback); json = JSON only, asking for response_format json_object.",
    )
    lm_only: bool = Field(
        False,
        validation_alias="MENDBOT_LM_ONLY",
        description="True = no offline playbook answers when the LM fails or its edits are "
        "refused (the proposal needs investigation instead); for measuring the LM alone.",
    )
    max_diagnoses_per_cycle: int = Field(
        3, ge=0, validation_alias="MENDBOT_MAX_DIAGNOSES_PER_CYCLE"
    )
    max_proposals_per_cycle: int = Field(
        5,
        ge=1,
        validation_alias="MENDBOT_MAX_PROPOSALS_PER_CYCLE",
        description="New proposals posted per cycle, most severe first; the rest are stored "
        "and listed in one summary message.",
    )

    # --- Slack ----------------------------------------------------------------------------
    slack_bot_token: SecretStr | None = Field(None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(None, validation_alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(None, validation_alias="SLACK_APP_TOKEN")
    slack_channel: str | None = Field(None, validation_alias="SLACK_CHANNEL")
    slack_approvers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="SLACK_APPROVERS",
        description="Comma-separated Slack user IDs (U...) allowed to decide.",
    )
    slack_command_channels: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="SLACK_COMMAND_CHANNELS",
        description="Comma-separated channel ids (or names) where mentions are taken; "
        "empty = SLACK_CHANNEL.",
    )
    slack_api_url: str | None = Field(None, validation_alias="SLACK_API_URL")
    slack_posts_per_second: float = Field(
        1.0,
        gt=0,
        le=100,
        validation_alias="MENDBOT_SLACK_POSTS_PER_SECOND",
        description="Posts per second per channel after a burst of 3 (Slack allows about 1).",
    )
    proposal_ttl_seconds: int = Field(
        24 * 3600, gt=0, validation_alias="MENDBOT_PROPOSAL_TTL_SECONDS"
    )
    port: int = Field(8080, validation_alias="PORT")

    # --- log sources ------------------------------------------------------------------------
    log_source: LogSourceName | None = Field(
        None,
        validation_alias="MENDBOT_LOG_SOURCE",
        description="railway, loki, file, command or none; unset = chosen from what is set.",
    )
    railway_api_token: SecretStr | None = Field(
        None, validation_alias="RAILWAY_API_TOKEN", description="Account or team token."
    )
    railway_token: SecretStr | None = Field(
        None, validation_alias="RAILWAY_TOKEN", description="Project access token."
    )
    railway_project_id: str | None = Field(None, validation_alias="RAILWAY_PROJECT_ID")
    railway_environment_id: str | None = Field(None, validation_alias="RAILWAY_ENVIRONMENT_ID")
    railway_service_id: str | None = Field(None, validation_alias="RAILWAY_SERVICE_ID")
    railway_api_url: str = Field(DEFAULT_RAILWAY_API_URL, validation_alias="RAILWAY_API_URL")
    railway_service_name: str | None = Field(
        None,
        validation_alias="RAILWAY_SERVICE_NAME",
        description="Set by Railway in mendbot's own container: the name of mendbot's service.",
    )
    loki_url: str | None = Field(None, validation_alias="LOKI_URL")
    loki_query: str | None = Field(None, validation_alias="LOKI_QUERY")
    loki_token: SecretStr | None = Field(None, validation_alias="LOKI_TOKEN")
    log_file: Path | None = Field(None, validation_alias="MENDBOT_LOG_FILE")
    log_command: str | None = Field(None, validation_alias="MENDBOT_LOG_COMMAND")

    # --- monitoring -------------------------------------------------------------------------
    monitor_interval_seconds: float = Field(
        300.0, gt=0, validation_alias="MONITOR_INTERVAL_SECONDS"
    )
    cooldown_seconds: float = Field(6 * 3600.0, ge=0, validation_alias="MENDBOT_COOLDOWN_SECONDS")
    fix_breaker_failures: int = Field(
        3,
        ge=1,
        validation_alias="MENDBOT_FIX_BREAKER_FAILURES",
        description="Failed fixes (rolled back, regressed, reverted) of one fingerprint "
        "that stop fix proposals for it.",
    )
    fix_breaker_cooldown_seconds: float = Field(
        86400.0,
        ge=0,
        validation_alias="MENDBOT_FIX_BREAKER_COOLDOWN_SECONDS",
        description="An open fix breaker closes by itself this long after it opened; "
        "0 = only a person closes it.",
    )
    slow_threshold_seconds: float = Field(
        1.0, gt=0, validation_alias="MENDBOT_SLOW_THRESHOLD_SECONDS"
    )

    # --- after a push: follow the deploy, verify, revert ------------------------------------
    deploy_wait_seconds: float = Field(
        180.0,
        ge=0,
        validation_alias="MENDBOT_DEPLOY_WAIT_SECONDS",
        description="Without Railway's deployments to ask: push to serving, in seconds.",
    )
    verify_window_seconds: float = Field(
        900.0,
        gt=0,
        validation_alias="MENDBOT_VERIFY_WINDOW_SECONDS",
        description="Log time a fix's fingerprint is watched for once its deploy is live.",
    )
    auto_revert: AutoRevert = Field(
        "off",
        validation_alias="MENDBOT_AUTO_REVERT",
        description="off, deploy_failed (revert when the deploy fails or crashes) or "
        "regressed (also when the fingerprint is still seen).",
    )

    # --- the service's repository -------------------------------------------------------------
    target_repo_path: Path | None = Field(None, validation_alias="TARGET_REPO_PATH")
    git_remote: str = Field("origin", validation_alias="GIT_REMOTE")
    git_branch: str = Field("main", validation_alias="GIT_BRANCH")
    validate_command: str | None = Field(None, validation_alias="VALIDATE_COMMAND")
    validate_timeout_seconds: float = Field(
        600.0, gt=0, validation_alias="VALIDATE_TIMEOUT_SECONDS"
    )
    test_command: str = Field(
        "python -m pytest -q -p no:cacheprovider",
        min_length=1,
        validation_alias="MENDBOT_TEST_COMMAND",
        description="Runs one test file (its path is appended) with the service's Python.",
    )
    git_author_name: str = Field(
        "mendbot",
        min_length=1,
        validation_alias="MENDBOT_GIT_AUTHOR_NAME",
        description="Author and committer name of fix commits.",
    )
    git_author_email: str = Field(
        "mendbot@localhost",
        min_length=3,
        validation_alias="MENDBOT_GIT_AUTHOR_EMAIL",
        description="Author and committer e-mail of fix commits.",
    )

    # --- delivery of a validated fix -------------------------------------------------------
    delivery: DeliveryName = Field(
        "push",
        validation_alias="MENDBOT_DELIVERY",
        description="push: to GIT_BRANCH; pull_request: to mendbot/<id> and open a PR.",
    )
    github_token: SecretStr | None = Field(
        None,
        validation_alias="GITHUB_TOKEN",
        description="Opens and reads pull requests (Pull requests: read and write).",
    )
    github_repository: str | None = Field(
        None, validation_alias="GITHUB_REPOSITORY", description="owner/name on GitHub."
    )
    github_api_url: str = Field(DEFAULT_GITHUB_API_URL, validation_alias="GITHUB_API_URL")
    protected_paths: Annotated[list[str] | None, NoDecode] = Field(
        None,
        validation_alias="MENDBOT_PROTECTED_PATHS",
        description=(
            "Comma-separated .gitignore-style patterns no edit may touch; unset = the "
            "defaults (tests, packaging, deployment, CI, hooks, .env*, vendored code). "
            "git, environment, CI and secret files stay protected whatever is set."
        ),
    )

    # --- operations: signals in (alerts, health checks, Prometheus) -----------------------------
    alert_token: SecretStr | None = Field(
        None,
        validation_alias="MENDBOT_ALERT_TOKEN",
        description="Bearer token Alertmanager sends to POST /webhook/alerts; unset = off.",
    )
    health_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="MENDBOT_HEALTH_URLS",
        description="Comma-separated URLs polled as health checks.",
    )
    health_interval_seconds: float = Field(
        30.0, gt=0, validation_alias="MENDBOT_HEALTH_INTERVAL_SECONDS"
    )
    health_failing_interval_seconds: float = Field(
        10.0, gt=0, validation_alias="MENDBOT_HEALTH_FAILING_INTERVAL_SECONDS"
    )
    health_timeout_seconds: float = Field(
        5.0, gt=0, validation_alias="MENDBOT_HEALTH_TIMEOUT_SECONDS"
    )
    health_slow_seconds: float = Field(2.0, gt=0, validation_alias="MENDBOT_HEALTH_SLOW_SECONDS")
    health_failures: int = Field(2, ge=1, validation_alias="MENDBOT_HEALTH_FAILURES")
    memory_threshold_percent: float = Field(
        80.0, gt=0, le=100, validation_alias="MENDBOT_MEMORY_THRESHOLD_PERCENT"
    )
    disk_threshold_percent: float = Field(
        85.0, gt=0, le=100, validation_alias="MENDBOT_DISK_THRESHOLD_PERCENT"
    )
    prometheus_url: str | None = Field(None, validation_alias="PROMETHEUS_URL")
    prometheus_queries: dict[str, str] | None = Field(
        None,
        validation_alias="MENDBOT_PROMETHEUS_QUERIES",
        description="JSON object: name -> PromQL; unset = error rate, request rate, p95.",
    )
    prometheus_window_seconds: float = Field(
        900.0, gt=0, validation_alias="MENDBOT_PROMETHEUS_WINDOW_SECONDS"
    )

    # --- operations: actions out ----------------------------------------------------------------
    remediation: Literal["off", "ask", "auto"] = Field(
        "ask",
        validation_alias="MENDBOT_REMEDIATION",
        description="Master switch: off = monitor only, ask = every action waits for a "
        "person, auto = actions trusted auto run at once.",
    )
    trust: Annotated[dict[str, Literal["auto", "ask", "off"]], NoDecode] = Field(
        default_factory=dict,
        validation_alias="MENDBOT_TRUST",
        description="Per action kind, e.g. restart=auto,rollback=off (unnamed kinds: ask).",
    )
    runbook_path: Path | None = Field(None, validation_alias="MENDBOT_RUNBOOK")
    docker_host: str | None = Field(None, validation_alias="DOCKER_HOST")
    action_verify_seconds: float = Field(
        300.0, gt=0, validation_alias="MENDBOT_ACTION_VERIFY_SECONDS"
    )
    breaker_failures: int = Field(3, ge=1, validation_alias="MENDBOT_BREAKER_FAILURES")
    breaker_window_seconds: float = Field(
        3600.0, gt=0, validation_alias="MENDBOT_BREAKER_WINDOW_SECONDS"
    )
    self_service_id: str | None = Field(
        None,
        validation_alias="MENDBOT_SELF_SERVICE_ID",
        description="mendbot's own Railway service id (never acted on).",
    )
    railway_deployment_id: str | None = Field(
        None,
        validation_alias="RAILWAY_DEPLOYMENT_ID",
        description="Set by Railway in mendbot's own container: its own deployment.",
    )
    self_container: str | None = Field(
        None,
        validation_alias="MENDBOT_SELF_CONTAINER",
        description="mendbot's own Docker container name or id (never acted on).",
    )

    @field_validator("protected_paths", mode="before")
    @classmethod
    def _split_patterns(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("slack_approvers", "slack_command_channels", mode="before")
    @classmethod
    def _split_list(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]
        return value

    @field_validator("auto_revert", mode="before")
    @classmethod
    def _normalise_auto_revert(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("health_urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("health_urls")
    @classmethod
    def _check_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"MENDBOT_HEALTH_URLS entry {url!r} is not an http(s) URL")
        return value

    @field_validator("trust", mode="before")
    @classmethod
    def _parse_trust(cls, value: object) -> object:
        return parse_trust(value) if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _normalise_database_url(cls, value: str) -> str:
        # Railway and Heroku hand out postgres:// URLs; SQLAlchemy wants a driver name.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @model_validator(mode="after")
    def _check_chosen_source(self) -> Settings:
        missing = _missing_for_source(self)
        if missing:
            raise ValueError(
                f"MENDBOT_LOG_SOURCE={self.log_source} needs {' and '.join(missing)} to be set"
            )
        return self

    @model_validator(mode="after")
    def _check_delivery(self) -> Settings:
        if self.delivery != "pull_request":
            return self
        missing = [
            name
            for name, value in (
                ("GITHUB_TOKEN", self.github_token),
                ("GITHUB_REPOSITORY", self.github_repository),
            )
            if not value
        ]
        if missing:
            raise ValueError(
                f"MENDBOT_DELIVERY=pull_request needs {' and '.join(missing)} to be set"
            )
        if not GITHUB_REPOSITORY_PATTERN.fullmatch(self.github_repository or ""):
            raise ValueError(
                f"GITHUB_REPOSITORY must be owner/name, e.g. acme/orders, not "
                f"{self.github_repository!r}"
            )
        return self

    @property
    def effective_log_source(self) -> LogSourceName:
        """The log source to use: ``log_source`` when set, else the first one configured.

        Order of the guess: Railway (service id and a token), Loki (``LOKI_URL``), a file
        (``MENDBOT_LOG_FILE``), a command (``MENDBOT_LOG_COMMAND``); ``"none"`` otherwise.
        """
        if self.log_source:
            return self.log_source
        if self.railway_service_id and (self.railway_api_token or self.railway_token):
            return "railway"
        if self.loki_url:
            return "loki"
        if self.log_file:
            return "file"
        if self.log_command:
            return "command"
        return "none"

    @property
    def slack_enabled(self) -> bool:
        """True when proposals can be posted: a bot token and a channel are set."""
        return bool(self.slack_bot_token and self.slack_channel)


#: The action kinds ``MENDBOT_TRUST`` may name (``core.actions.ACTION_KINDS``).
ACTION_KIND_NAMES = ("restart", "redeploy", "rollback", "container_restart", "command")


def parse_trust(text: str) -> dict[str, str]:
    """``MENDBOT_TRUST``: ``"restart=auto, rollback=off"`` -> ``{"restart": "auto", ...}``.

    Raises:
        ValueError: an entry is not ``kind=level``, or names an unknown kind or level.
    """
    levels: dict[str, str] = {}
    for entry in (part.strip() for part in text.replace(";", ",").split(",")):
        if not entry:
            continue
        kind, sep, level = (piece.strip() for piece in entry.partition("="))
        if not sep or kind not in ACTION_KIND_NAMES or level not in ("auto", "ask", "off"):
            raise ValueError(
                f"MENDBOT_TRUST entry {entry!r} is not kind=level with kind one of "
                f"{', '.join(ACTION_KIND_NAMES)} and level one of auto, ask, off"
            )
        levels[kind] = level
    return levels


def _missing_for_source(settings: Settings) -> list[str]:
    """Names of the variables that the explicitly chosen log source lacks."""
    need: dict[str, list[tuple[str, object]]] = {
        "railway": [
            (
                "RAILWAY_API_TOKEN or RAILWAY_TOKEN",
                settings.railway_api_token or settings.railway_token,
            ),
            ("RAILWAY_ENVIRONMENT_ID", settings.railway_environment_id),
            ("RAILWAY_SERVICE_ID", settings.railway_service_id),
        ],
        "loki": [("LOKI_URL", settings.loki_url), ("LOKI_QUERY", settings.loki_query)],
        "file": [("MENDBOT_LOG_FILE", settings.log_file)],
        "command": [("MENDBOT_LOG_COMMAND", settings.log_command)],
    }
    return [name for name, value in need.get(settings.log_source or "", []) if not value]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Read the settings from the environment once per process.

    Raises:
        pydantic.ValidationError: a variable has a value of the wrong type, or the chosen
            log source lacks its credentials (the message names the variables).
    """
    return Settings()


def secret_value(secret: SecretStr | None) -> str | None:
    """The plain value of an optional secret, or None."""
    return secret.get_secret_value() if secret is not None else None


#: Variable prefixes of mendbot's own that the validated service never sees, beside the
#: names of every :class:`Settings` field (credentials of LLM providers DSPy may read too).
_PRIVATE_PREFIXES = ("SLACK_", "OPENAI_", "ANTHROPIC_", "RAILWAY_", "LOKI_", "MENDBOT_", "GITHUB_")


def private_variable_names() -> frozenset[str]:
    """The environment variable names of every :class:`Settings` field (``DATABASE_URL``,
    ``TARGET_REPO_PATH``, ``SLACK_BOT_TOKEN``, ...), upper-case."""
    return frozenset(
        field.validation_alias.upper()
        for field in Settings.model_fields.values()
        if isinstance(field.validation_alias, str)
    )


def process_environment() -> dict[str, str]:
    """A copy of this process's environment, for a child that acts for mendbot (the log
    command of ``MENDBOT_LOG_COMMAND``)."""
    return dict(os.environ)


def service_environment() -> dict[str, str]:
    """This process's environment without mendbot's configuration and secrets: what the
    service's own code (imports, ``VALIDATE_COMMAND``) runs with.

    Hidden: every :class:`Settings` variable (:func:`private_variable_names`) and every
    variable starting with one of :data:`_PRIVATE_PREFIXES`.
    """
    private = private_variable_names()
    return {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in private and not key.upper().startswith(_PRIVATE_PREFIXES)
    }


def workdir_database_url(directory: str | os.PathLike[str]) -> str:
    """A SQLite URL for ``mendbot.db`` inside ``directory`` (used by tests and the CLI)."""
    return f"sqlite:///{Path(directory).resolve() / 'mendbot.db'}"
