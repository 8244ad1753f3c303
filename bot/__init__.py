"""The process on top: the command line, the Slack app and the HTTP server.

    cli/            ``mendbot scan | run | fixes | eval | stats | learn``: arguments, exits
    slack/          the Bolt app, proposal messages, mention commands, the Slack notifier
    http_server.py  ``/slack/events``, ``/health``, ``/webhook/alerts``, ``/metrics`` on ``$PORT``

Holds no logic the CLI and Slack share: that lives in ``fixes`` and ``monitoring``.
"""
