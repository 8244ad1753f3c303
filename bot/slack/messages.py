"""Slack bot stage: the HTTP surface's fixed error strings (read by :mod:`bot.http_server`).

Slack's own words are not here: each message lives with the code that builds it, end to
end. The proposal message in :mod:`bot.slack.proposal_message`, replies in its thread in
:mod:`bot.slack.thread_events`, answers to mentions and buttons (and the start-up
warnings) in :mod:`bot.slack.replies`; the shared mrkdwn notations in
:mod:`bot.slack.mrkdwn`.
"""

HTTP_SLACK_OFF = "Slack is not configured on this instance (set SLACK_BOT_TOKEN)."
HTTP_NOT_FOUND = "not found"
HTTP_TOO_LARGE = "request body too large"
HTTP_HEALTH_FAILED = "health check failed"
