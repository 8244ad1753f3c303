"""Tests for bot.slack.replies: the answers to mentions, here ``status`` in its edge cases."""

from __future__ import annotations

from bot.slack.replies import monitor_status
from monitoring.status import MonitorStatus


def test_status_when_monitoring_is_off_or_not_yet_run() -> None:
    off = monitor_status(None, {"applied": 2})
    assert "Monitoring is off" in off and "2 applied" in off
    fresh = monitor_status(MonitorStatus(enabled=True, source="file"), {})
    assert "No cycle has run yet." in fresh and "`file`: :white_check_mark: healthy" in fresh
