"""The monitor follows fixes' pull requests once per cycle, and trouble there never costs
a cycle (the logs are still read, no failure is counted)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.monitoring.test_monitor import Rig
from tests.monitoring.test_pipeline import incident


class _Follower:
    """Stands in for GitHub-backed following (fixes.pull_requests is tested on its own)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls = 0
        self.error = error

    def follow(self) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error


def test_each_cycle_follows_the_pull_requests_once(tmp_path, make_settings) -> None:
    rig = Rig(tmp_path, make_settings)
    follower = _Follower()
    rig.monitor.pull_requests = follower

    rig.monitor.run_cycle()
    rig.monitor.run_cycle()
    rig.monitor.pause()
    rig.monitor.run_cycle()

    assert follower.calls == 2


def test_a_failing_follower_never_fails_the_cycle(tmp_path, make_settings) -> None:
    rig = Rig(tmp_path, make_settings)
    rig.monitor.pull_requests = _Follower(RuntimeError("GitHub client bug"))
    rig.static.append(incident(datetime.now(UTC) - timedelta(minutes=1)))

    result = rig.monitor.run_cycle()

    assert result is not None and len(result.new_proposals) == 1
    assert rig.monitor.health_state.snapshot().failures == 0 and rig.notifier.alerts == []
