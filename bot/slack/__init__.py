"""Slack bot: proposals posted to a channel, decided by mention or button.

app.py          the Bolt app: listeners, approvers, acks, worker threads
notifier.py     SlackNotifier: chat.postMessage / chat.update for proposals and events
blocks.py       Block Kit layout of the proposal message
messages.py     the words of every Slack text
commands.py     what a mention or a button asks for
socket_mode.py  the Socket Mode transport
"""
