"""Slack bot stage: the Slack side of the composition root, the one place that reads the
``SLACK_*`` settings.

:func:`slack_config` turns :class:`~settings.Settings` into a :class:`SlackConfig`;
:func:`make_web_client`, :func:`configured_notifier` and ``SlackBot(config=...)`` take
only that. Everything else of a process is built by :mod:`monitoring.runtime`.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.slack.notifier import SlackNotifier, api_base_url
from core.metrics import Metrics
from core.notifier import Notifier, NullNotifier
from settings import Settings, secret_value

#: Seconds to wait for one Web API call.
WEB_API_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class SlackConfig:
    """What the Slack app needs to know (``SLACK_*``; see README, "Configuration").

    Attributes:
        bot_token: ``SLACK_BOT_TOKEN`` (``xoxb-...``), or None when Slack is off.
        channel: ``SLACK_CHANNEL``, where proposals go.
        signing_secret: ``SLACK_SIGNING_SECRET``, checks HTTP requests came from Slack.
        app_token: ``SLACK_APP_TOKEN`` (``xapp-...``): Socket Mode instead of HTTP.
        approvers: ``SLACK_APPROVERS`` as given (validated by the app).
        api_url: ``SLACK_API_URL``, the Web API base (tests, proxies); None = Slack's.
    """

    bot_token: str | None = None
    channel: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    approvers: tuple[str, ...] = ()
    api_url: str | None = None

    def __repr__(self) -> str:  # never print a token
        return f"SlackConfig(channel={self.channel!r}, approvers={self.approvers!r})"

    @property
    def enabled(self) -> bool:
        """True when proposals can be posted: a bot token and a channel are set."""
        return bool(self.bot_token and self.channel)

    @property
    def socket_mode(self) -> bool:
        """True when ``SLACK_APP_TOKEN`` selects Socket Mode."""
        return self.app_token is not None


def slack_config(settings: Settings) -> SlackConfig:
    """The ``SLACK_*`` settings of the process, secrets in the clear for the client only."""
    return SlackConfig(
        bot_token=secret_value(settings.slack_bot_token),
        channel=settings.slack_channel,
        signing_secret=secret_value(settings.slack_signing_secret),
        app_token=secret_value(settings.slack_app_token),
        approvers=tuple(settings.slack_approvers),
        api_url=settings.slack_api_url,
    )


def make_web_client(config: SlackConfig) -> WebClient:
    """A ``WebClient`` with the bot token, ``SLACK_API_URL`` and a 10 s timeout.

    Rate-limited calls (HTTP 429) are retried twice after the ``Retry-After`` delay; other
    failures are not retried (a retried ``chat.postMessage`` could post twice).
    """
    client = WebClient(
        token=config.bot_token,
        base_url=api_base_url(config.api_url),
        timeout=WEB_API_TIMEOUT_SECONDS,
    )
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=2))
    return client


def configured_notifier(settings: Settings, *, metrics: Metrics | None = None) -> Notifier:
    """The process's notifier: a :class:`SlackNotifier` for ``SLACK_CHANNEL`` when
    ``SLACK_BOT_TOKEN`` and ``SLACK_CHANNEL`` are set (diffs read against
    ``TARGET_REPO_PATH``), else a :class:`~core.notifier.NullNotifier` (proposals are only
    stored). With ``metrics``, every Web API call is counted."""
    config = slack_config(settings)
    if not config.enabled or config.channel is None:
        return NullNotifier()
    return SlackNotifier(
        client=make_web_client(config),
        channel=config.channel,
        repo_root=settings.target_repo_path,
        on_call=(lambda method, ok: metrics.slack_call(method, ok=ok)) if metrics else None,
    )
