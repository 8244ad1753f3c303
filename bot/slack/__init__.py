"""Slack bot stage: the Slack app, one module per job (requests come in at the top).

- ``config``: the Slack side of the composition root (the ``SLACK_*`` settings).
- ``app``: the Bolt app: listeners, who may decide, handing applies to a worker thread.
- ``queries``: the commands that answer and change no proposal (show, list, stats, ...).
- ``commands``: what a mention or a button asks for, where it came from (pure).
- ``gate``: whether it may be done: command channels, a button's own message, approvers.
- ``replies``: the answers to mentions and buttons, and the start-up warnings (words).
- ``proposal_message``: the proposal's channel message and its ``show`` copy (words, blocks).
- ``buttons``: Approve, Reject and Revert, their confirm dialogs and the words that do the same.
- ``thread_events``: the reply in a proposal's thread for each event (words).
- ``held_message``: the one message listing a cycle's proposals held over its cap.
- ``action_message``: an operational action's blocks and thread replies (words).
- ``ops_replies``: the answers to ``stats``, ``resume <target>`` and ``resume fix proposals
  for <fingerprint>`` (words).
- ``notifier``: ``SlackNotifier``, posting and updating those through the Web API.
- ``outbox``: the one door to Slack's chat methods: payloads defused, posts paced.
- ``block_kit``: ``SlackMessage``, Slack's size limits, shortening to fit them.
- ``mrkdwn``: defusing untrusted text, mentions, dates, durations, severity emoji.
- ``socket_mode``: the Socket Mode transport (``bot.http_server`` is the HTTP one).
"""
