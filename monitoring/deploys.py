"""Monitoring orchestration: how mendbot learns that a pushed commit is live (deploy followers).

One small protocol, :class:`DeployFollower`, with two implementations:

- :class:`~monitoring.sources.railway_deploys.RailwayDeploys`: Railway's ``deployments``,
  matched by the commit in their ``meta``, until ``SUCCESS``, ``FAILED`` or ``CRASHED``;
- :class:`WaitDeploys`: for platforms mendbot cannot ask, a fixed wait after the push
  (``MENDBOT_DEPLOY_WAIT_SECONDS``); it never reports a failure.

:class:`~monitoring.verification.Verifier` asks its follower once per monitor cycle.
Errors: a follower raises what its platform's client raises (Railway's:
:class:`~monitoring.sources.base.LogSourceError`); the verifier notes it and asks again
next cycle.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from core.verification import DeployCheck


class DeployFollower(Protocol):
    """Where the deployment of a pushed commit stands."""

    name: str

    def check(
        self, commit_sha: str, *, since: datetime, deploy_id: str | None = None, now: datetime
    ) -> DeployCheck:
        """The deployment of ``commit_sha``, pushed at ``since`` (aware UTC).

        Args:
            commit_sha: the pushed commit.
            since: when it was pushed.
            deploy_id: the deployment found by an earlier check, if any.
            now: the current aware UTC time.
        """
        ...


class WaitDeploys:
    """A deploy that is live a fixed time after the push (platforms mendbot cannot ask).

    Args:
        wait_seconds: ``MENDBOT_DEPLOY_WAIT_SECONDS``, from the push to serving.
    """

    name = "wait"

    def __init__(self, *, wait_seconds: float) -> None:
        self.wait = timedelta(seconds=wait_seconds)

    def check(
        self, commit_sha: str, *, since: datetime, deploy_id: str | None = None, now: datetime
    ) -> DeployCheck:
        """``live`` from ``since`` plus the wait (which is its live-at), else ``pending``."""
        live_at = since + self.wait
        if now < live_at:
            return DeployCheck(state="pending")
        return DeployCheck(state="live", status="WAITED", live_at=live_at)
