"""Shared contracts: following a pushed fix to production and judging it (restart-safe state).

After a fix is pushed, mendbot follows the deployment of its commit and then watches the
proposal's fingerprint for a window of *log time* (the timestamps of the records the
monitor reads, not the wall clock). The whole state of that lives in one
:class:`Verification` per fix, stored in the database
(``fixes.persistence.verifications.VerificationStore``) and moved forward by the monitor's
cycles (``monitoring.verification.Verifier``), so a restart resumes where it stopped::

    deploying ──▶ watching ──▶ done    outcome: verified | regressed
        │             │                         (deploy_failed: the deploy failed or crashed)
        └─────────────┴──────▶ done    outcome: no_deploy (none seen in time) | stopped
                                                (the proposal left ``applied`` meanwhile)

A deploy follower answers with a :class:`DeployCheck` (Railway's ``deployments`` matched
by the commit in their ``meta``, or a fixed wait for other platforms).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

VerificationPhase = Literal["deploying", "watching", "done"]
VerificationOutcome = Literal["verified", "regressed", "deploy_failed", "no_deploy", "stopped"]
DeployState = Literal["pending", "live", "failed"]
#: Event identities a verification remembers; past this many events it has regressed
#: anyway, and later ones are counted without being told apart from a repeat.
MAX_EVENT_KEYS = 2000
#: An inclusive range of 1-based line numbers ``(first, last)`` in the fixed file.
LineRange = tuple[int, int]


class DeployCheck(BaseModel):
    """Where the deployment of one commit stands, as a deploy follower sees it.

    Attributes:
        state: ``pending`` (not found yet, or building), ``live`` (serving) or ``failed``
            (failed to build or deploy, or crashed).
        deploy_id: the platform's deployment id (Railway's), None for a plain wait.
        status: the platform's word for it (Railway's ``DeploymentStatus``: ``BUILDING``,
            ``SUCCESS``, ``FAILED``, ``CRASHED``...), or ``WAITED`` after a plain wait.
        live_at: aware UTC instant it started serving (Railway's ``statusUpdatedAt`` of
            the ``SUCCESS``; push time plus the wait otherwise); None unless live.
    """

    state: DeployState
    deploy_id: str | None = None
    status: str | None = None
    live_at: datetime | None = None


class Verification(BaseModel):
    """Following one pushed fix: its deploy, then its fingerprint for a window of log time.

    Attributes:
        proposal_id: the fix (``fix_...``).
        fingerprint: the anomaly fingerprint being watched.
        commit_sha: the commit whose deployment is followed (the fix commit, or a merge).
        phase: see the module docstring.
        started_at: aware UTC, when following started (the push).
        deploy_id, deploy_status: the deployment found, and its platform status.
        live_at: aware UTC, when the deployment started serving: the window's start.
        window_seconds: the window's length in log time (``MENDBOT_VERIFY_WINDOW_SECONDS``).
        count_before: the fingerprint's events before the fix (its running total when
            following started), with ``before_first_seen`` .. ``before_last_seen``.
        count_after: distinct events of the fingerprint stamped in the window, so far.
        records_after: records of any kind stamped in the window, so far (a line read
            twice after a crash counts twice here; it is only a sign of life).
        log_time: the newest record timestamp read since following started, never past
            the wall clock of the cycle that read it (a line stamped in the future does
            not move log time).
        event_keys: identities of the events counted (``stamp|digest#n``, at most
            :data:`MAX_EVENT_KEYS`), so an event read again is not counted again.
        changed_lines: repository path -> line ranges the fix changed (new numbering).
        caused: fingerprints already reported as probably caused by the fix.
        outcome: set with ``phase == "done"``.
        finished_at: aware UTC, when the outcome was decided.
        version: bumped by every save (compare-and-set between processes).
    """

    proposal_id: str
    fingerprint: str
    commit_sha: str
    phase: VerificationPhase = "deploying"
    started_at: datetime
    deploy_id: str | None = None
    deploy_status: str | None = None
    live_at: datetime | None = None
    window_seconds: float = Field(gt=0)
    count_before: int = 0
    before_first_seen: datetime | None = None
    before_last_seen: datetime | None = None
    count_after: int = 0
    records_after: int = 0
    log_time: datetime | None = None
    event_keys: list[str] = Field(default_factory=list)
    changed_lines: dict[str, list[LineRange]] = Field(default_factory=dict)
    caused: list[str] = Field(default_factory=list)
    outcome: VerificationOutcome | None = None
    finished_at: datetime | None = None
    version: int = 0

    @property
    def window_end(self) -> datetime | None:
        """``live_at`` plus the window (aware UTC), None while not live."""
        if self.live_at is None:
            return None
        return self.live_at + timedelta(seconds=self.window_seconds)

    def facts(self) -> dict[str, object]:
        """The outcome facts kept in the audit trail (for stats): counts, deploy, times."""
        return {
            "commit_sha": self.commit_sha,
            "deploy_id": self.deploy_id,
            "deploy_status": self.deploy_status,
            "started_at": self.started_at,
            "live_at": self.live_at,
            "window_seconds": self.window_seconds,
            "count_before": self.count_before,
            "before_first_seen": self.before_first_seen,
            "before_last_seen": self.before_last_seen,
            "count_after": self.count_after,
            "records_after": self.records_after,
            "log_time": self.log_time,
            "caused": list(self.caused),
        }
