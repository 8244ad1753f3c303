"""Slack bot stage: the Slack side of the composition root, the one place that reads the
``SLACK_*`` settings.

:func:`slack_config` turns :class:`~settings.Settings` into a :class:`SlackConfig`;
:func:`make_web_client`, :func:`configured_notifier` and ``SlackBot(config=...)`` take
only that; :func:`resolve_channels` turns the channels it names into the ids Slack's
events carry. Everything else of a process is built by :mod:`monitoring.runtime`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.slack.notifier import SlackNotifier, api_base_url
from bot.slack.outbox import SlackOutbox
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
        posts_per_second: ``MENDBOT_SLACK_POSTS_PER_SECOND``, the pace of posts per channel.
        command_channels: ``SLACK_COMMAND_CHANNELS`` as given; empty = ``channel``.
    """

    bot_token: str | None = None
    channel: str | None = None
    signing_secret: str | None = None
    app_token: str | None = None
    approvers: tuple[str, ...] = ()
    api_url: str | None = None
    command_channels: tuple[str, ...] = ()
    posts_per_second: float = 1.0

    def __repr__(self) -> str:  # never print a token
        return f"SlackConfig(channel={self.channel!r}, approvers={self.approvers!r})"

    @property
    def command_channel_entries(self) -> tuple[str, ...]:
        """Where mentions are taken, as configured: ``command_channels``, else ``channel``."""
        if self.command_channels:
            return self.command_channels
        return (self.channel,) if self.channel else ()

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
        command_channels=tuple(settings.slack_command_channels),
        posts_per_second=settings.slack_posts_per_second,
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
    client = make_web_client(config)
    return SlackNotifier(
        client=client,
        outbox=SlackOutbox(client=client, posts_per_second=config.posts_per_second),
        channel=config.channel,
        repo_root=settings.target_repo_path,
        on_call=(lambda method, ok: metrics.slack_call(method, ok=ok)) if metrics else None,
    )


class ChannelLookupError(Exception):
    """A channel given by name could not be found; ``str(e)`` says which and what to do."""


def resolve_channels(client: WebClient, entries: Iterable[str]) -> frozenset[str]:
    """Channel ids for ``entries``: ids (``C…``, ``G…``, ``D…``) as they are, names
    (``#ops`` or ``ops``) looked up with ``conversations.list``: public channels first
    (the ``channels:read`` scope), then private ones for names still missing
    (``groups:read``).

    Slack events carry channel ids only, so a name must become an id before a mention's
    channel can be compared with it.

    Raises:
        ChannelLookupError: a name is not found, or Slack refused the lookup (e.g.
            ``missing_scope``), or could not be reached.
    """
    given = tuple(entries)
    ids = {entry for entry in given if _CHANNEL_ID.match(entry)}
    names = {entry.strip().lstrip("#").lower() for entry in given if entry not in ids}
    found: dict[str, str] = {}
    for kind, scope in (("public_channel", "channels:read"), ("private_channel", "groups:read")):
        if names - set(found):
            found |= _channels(client, kind, scope, names - set(found))
    missing = names - set(found)
    if missing:
        raise ChannelLookupError(
            f"no channel {_names(missing)} is visible to the bot; give its id (C…), or "
            "invite the bot to it"
        )
    return frozenset(ids | {found[name] for name in names})


_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{2,}$")


def _channels(client: WebClient, kind: str, scope: str, wanted: set[str]) -> dict[str, str]:
    """Name -> id of the channels of one ``kind`` the bot can list (every page)."""
    try:
        pages = client.conversations_list(types=kind, exclude_archived=True, limit=200)
        return {
            str(channel.get("name", "")).lower(): str(channel["id"])
            for page in pages
            for channel in page.get("channels", [])
        }
    except (SlackClientError, OSError) as error:
        reason = getattr(getattr(error, "response", None), "data", None) or error
        raise ChannelLookupError(
            f"cannot look up channel(s) {_names(wanted)} ({_slack_error(reason)}); give "
            "SLACK_CHANNEL / SLACK_COMMAND_CHANNELS as channel ids (C…), or grant the bot "
            f"the {scope} scope"
        ) from error


def _names(names: Iterable[str]) -> str:
    return ", ".join(f"#{name}" for name in sorted(names))


def _slack_error(reason: object) -> str:
    if isinstance(reason, dict):
        return str(reason.get("error", "refused"))
    return f"{type(reason).__name__}: {reason}"
