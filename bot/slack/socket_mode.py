"""Slack bot stage: the Socket Mode transport, used when ``SLACK_APP_TOKEN`` is set.

Slack pushes events and button presses over a WebSocket that the bot opens (no public
URL needed). Bolt's built-in adapter (``slack_bolt.adapter.socket_mode.SocketModeHandler``,
standard library only) opens it with ``apps.connections.open`` through the bot's Web API
client (so ``SLACK_API_URL`` applies), acknowledges each envelope, dispatches it to the
same Bolt app as HTTP mode and reconnects when Slack rotates the connection. Signatures
are not used: the app-level token authenticates the socket.

Use::

    connection = start_socket_mode(bot)      # returns once connected
    ...
    connection.stop()

Errors: :class:`bot.slack.app.SlackConfigError` (no app token) and
:class:`bot.slack.app.SlackStartError` (Slack refused the token or was unreachable).
"""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackClientError

from bot.slack.app import SlackBot, SlackConfigError, SlackStartError

log = logging.getLogger(__name__)


class SocketModeConnection:
    """A running Socket Mode connection for a :class:`~bot.slack.app.SlackBot`.

    Args:
        handler: Bolt's Socket Mode handler, already connected.
    """

    def __init__(self, *, handler: SocketModeHandler) -> None:
        self.handler = handler

    def is_connected(self) -> bool:
        """True while the WebSocket is open."""
        return bool(self.handler.client.is_connected())

    def stop(self) -> None:
        """Close the WebSocket and the handler's threads."""
        self.handler.close()


def start_socket_mode(bot: SlackBot, *, app_token: str | None = None) -> SocketModeConnection:
    """Connect ``bot``'s Bolt app to Slack over Socket Mode; returns once connected.

    Args:
        bot: the bot whose app handles the events.
        app_token: the ``xapp-`` token; default: ``SLACK_APP_TOKEN`` from the bot's config.

    Raises:
        SlackConfigError: no app token.
        SlackStartError: ``apps.connections.open`` failed or the socket could not open.
    """
    token = app_token or bot.config.app_token
    if not token:
        raise SlackConfigError("Socket Mode needs SLACK_APP_TOKEN (an xapp- token)")
    handler = SocketModeHandler(app=bot.app, app_token=token, web_client=bot.client)
    try:
        handler.connect()
    except (SlackClientError, OSError) as error:
        handler.close()
        reason = getattr(getattr(error, "response", None), "data", None) or error
        raise SlackStartError(f"Socket Mode could not connect: {reason}") from error
    log.info("Slack Socket Mode connected")
    return SocketModeConnection(handler=handler)
