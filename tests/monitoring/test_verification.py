"""After the push: following the deploy, watching the fingerprint in log time, judging the fix.

Real parts throughout: a git checkout with a bare remote (the fix is really applied and
pushed, reverts really pushed), the real parser, analyzer and pipeline, the database
(SQLite and PostgreSQL), and the fake Railway (schema-validated) for deployments. Time
moves the way it does in production: records carry their own timestamps (log time); the
wall clock is a fixed clock the test moves.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.models import LogRecord
from core.notifier import InMemoryNotifier, ProposalEvent
from core.proposals import FixProposal, ProposalStatus
from fixes.persistence.verifications import VerificationStore
from monitoring.auto_revert import AutoReverter
from monitoring.deploys import DeployFollower, WaitDeploys
from monitoring.parsing.parser import parse_lines
from monitoring.pipeline import CyclePipeline, CycleResult
from monitoring.runtime import Runtime, build_pipeline, build_runtime
from monitoring.sources import CursoredSource, StaticSource
from monitoring.verification import Verifier
from tests.fakes.git import RepoPair, make_repo
from tests.fakes.proposals import SERVICE, make_proposal

KEY_ERROR = [
    "ERROR:    Exception in ASGI application",
    "Traceback (most recent call last):",
    '  File "/app/app.py", line 9, in orders',
    '    user = STATS["users"][body["user_id"]]',
    "KeyError: 'u42'",
]
#: A new error in the lines the fix changed (app.py 9-11 after the fix).
TYPE_ERROR = [
    "ERROR:    Exception in ASGI application",
    "Traceback (most recent call last):",
    '  File "/app/app.py", line 10, in orders',
    "    if user is None:",
    "TypeError: 'NoneType' object is not subscriptable",
]
#: A new error elsewhere in the same file (not in the changed lines).
ZERO_DIVISION = [
    "ERROR:    Exception in ASGI application",
    "Traceback (most recent call last):",
    '  File "/app/app.py", line 16, in average',
    '    return {"avg": sum(STATS["orders"]) / len(STATS["orders"])}',
    "ZeroDivisionError: division by zero",
]
HEALTH = 'INFO:     10.0.0.7:40000 - "GET /health HTTP/1.1" 200 OK'
T0 = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)


def stamped(lines: list[str], at: datetime, *, times: int = 1) -> list[LogRecord]:
    """The records of ``lines`` repeated ``times``, all stamped from ``at`` a second apart."""
    records = list(parse_lines(lines * times))
    for i, record in enumerate(records):
        record.timestamp = at + timedelta(seconds=i)
    return records


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Loop:
    """A runtime on a real checkout, a static source, and the monitor's pipeline with a
    verifier; the wall clock is ``clock``, log time is the records' own."""

    def __init__(
        self,
        tmp_path: Path,
        make_settings,
        database_url: str,
        *,
        repo: RepoPair | None = None,
        deploys: DeployFollower | None = None,
        **settings: Any,
    ) -> None:
        if repo is None:
            (tmp_path / "git").mkdir()
            repo = make_repo(tmp_path / "git", SERVICE)
        self.repo = repo
        settings.setdefault("verify_window_seconds", 900)
        settings.setdefault("cooldown_seconds", 0)
        self.settings = make_settings(
            database_url=database_url, target_repo_path=self.repo.work, **settings
        )
        self.notifier = InMemoryNotifier()
        self.runtime: Runtime = build_runtime(self.settings, notifier=self.notifier)
        self.clock = Clock(T0)
        self.static = StaticSource()
        self.source = CursoredSource(self.static, state=self.runtime.state)
        self.verifications = VerificationStore(self.runtime.db)
        self.verifier = Verifier(
            store=self.runtime.store,
            verifications=self.verifications,
            notifier=self.notifier,
            deploys=deploys or WaitDeploys(wait_seconds=self.settings.deploy_wait_seconds),
            window_seconds=self.settings.verify_window_seconds,
            auto_revert=AutoReverter(
                policy=self.settings.auto_revert,
                reverter=self.runtime.decisions,
                claim_once=self.runtime.state.claim_once,
                store=self.runtime.store,
                notifier=self.notifier,
            ),
            changed_lines=self.runtime.implementor.changed_lines
            if self.runtime.implementor
            else None,
            clock=self.clock,
        )
        self.pipeline: CyclePipeline = build_pipeline(self.runtime, verifier=self.verifier)
        self.pipeline.clock = self.clock

    def cycle(self, records: list[LogRecord]) -> CycleResult:
        """One monitor cycle over ``records``; the wall clock has reached the newest."""
        newest = max((r.timestamp for r in records), default=None)
        if newest is not None and newest > self.clock.now:
            self.clock.now = newest
        self.static.append(records)
        return self.pipeline.run_once(self.source)

    def incident_and_fix(self) -> FixProposal:
        """Four KeyErrors before the fix (a cycle records them), then the fix, applied and
        pushed by an approver at the wall clock's time."""
        first = self.cycle(stamped(KEY_ERROR, T0 - timedelta(hours=1), times=4))
        [anomaly] = [a for a in first.anomalies if a.exception_type == "KeyError"]
        for posted in first.new_proposals:  # the offline diagnoser's, without edits
            self.runtime.decisions.reject(posted.id, actor="U0ALICE", reason="ours is better")
        proposal = self.runtime.store.add(make_proposal(fingerprint=anomaly.fingerprint))
        applied = self.runtime.decisions.implement(proposal.id, actor="U0ALICE")
        assert applied.status is ProposalStatus.APPLIED, applied.error
        self.clock.now = applied.updated_at or T0
        return applied

    def events(self, proposal_id: str) -> list[ProposalEvent]:
        return [e for pid, e in self.notifier.events if pid == proposal_id]

    def kinds(self, proposal_id: str) -> list[str]:
        return [e.kind for e in self.events(proposal_id)]

    def status(self, proposal_id: str) -> ProposalStatus:
        return self.runtime.store.get(proposal_id).status

    def actions(self, proposal_id: str) -> list[str]:
        return [e.action for e in self.runtime.store.audit_trail(proposal_id)]

    def close(self) -> None:
        self.runtime.close()


@pytest.fixture
def loop_for(tmp_path: Path, make_settings, database_url: str):
    loops: list[Loop] = []

    def factory(**options: Any) -> Loop:
        loop = Loop(tmp_path, make_settings, database_url, **options)
        loops.append(loop)
        return loop

    yield factory
    for loop in loops:
        loop.close()


def test_a_fix_whose_error_is_gone_is_verified(loop_for) -> None:
    loop = loop_for(deploy_wait_seconds=0)
    fix = loop.incident_and_fix()
    live_at = loop.clock.now

    loop.cycle(stamped([HEALTH], live_at + timedelta(seconds=60), times=3))
    assert loop.kinds(fix.id)[-1] == "deploy_live"
    assert loop.status(fix.id) is ProposalStatus.APPLIED  # the window is still open
    loop.cycle(stamped([HEALTH], live_at + timedelta(seconds=901)))

    assert loop.status(fix.id) is ProposalStatus.VERIFIED
    verified = loop.events(fix.id)[-1]
    assert verified.kind == "verified"
    assert verified.details["count_after"] == 0 and verified.details["count_before"] == 4
    assert verified.details["commit_sha"] == fix.commit_sha
    assert verified.details["records_after"] == 3  # the line at +901 s is past the window
    trail = loop.runtime.store.audit_trail(fix.id)
    assert [e.action for e in trail][-3:] == ["deploy_following", "deploy_live", "verified"]
    facts = trail[-1].details
    assert facts["live_at"] == live_at.isoformat() and facts["window_seconds"] == 900
    assert loop.verifications.get(fix.id).outcome == "verified"  # type: ignore[union-attr]


def test_one_occurrence_below_any_rule_is_a_regression_with_counts(loop_for) -> None:
    loop = loop_for(deploy_wait_seconds=0)
    fix = loop.incident_and_fix()
    live_at = loop.clock.now

    result = loop.cycle(stamped(KEY_ERROR, live_at + timedelta(seconds=120)))
    assert result.new_proposals == []  # not proposed again while it is being verified
    loop.cycle(stamped([HEALTH], live_at + timedelta(seconds=900)))

    assert loop.status(fix.id) is ProposalStatus.REGRESSED
    regressed = loop.events(fix.id)[-1]
    assert regressed.kind == "regressed"
    assert (regressed.details["count_before"], regressed.details["count_after"]) == (4, 1)
    assert regressed.details["cause"] == "still_seen"
    assert "revert" not in " ".join(loop.actions(fix.id))  # MENDBOT_AUTO_REVERT is off


def test_events_before_live_at_and_repeated_lines_are_not_counted(loop_for) -> None:
    loop = loop_for(deploy_wait_seconds=300)
    fix = loop.incident_and_fix()
    pushed = loop.clock.now

    loop.clock.now = pushed + timedelta(seconds=100)  # still deploying: the old code runs
    loop.cycle(stamped(KEY_ERROR, pushed + timedelta(seconds=50), times=5))
    assert "deploy_live" not in loop.kinds(fix.id)
    loop.clock.now = pushed + timedelta(seconds=300)
    old_and_new = [
        *stamped(KEY_ERROR, pushed + timedelta(seconds=290)),
        *stamped(KEY_ERROR, pushed + timedelta(seconds=299)),
        *stamped(KEY_ERROR, pushed + timedelta(seconds=305)),
    ]
    loop.cycle(old_and_new)  # 2 of them stamped before live-at (pushed + 300 s)
    loop.static.append(old_and_new)  # the same lines read again (a crash before the cursor)
    loop.cycle([])
    loop.cycle(stamped([HEALTH], pushed + timedelta(seconds=1300)))

    regressed = loop.events(fix.id)[-1]
    assert regressed.kind == "regressed" and regressed.details["count_after"] == 1


def test_a_restart_in_the_middle_of_the_window_resumes_it(
    loop_for, tmp_path: Path, make_settings, database_url: str
) -> None:
    first = loop_for(deploy_wait_seconds=0)
    fix = first.incident_and_fix()
    live_at = first.clock.now
    first.cycle(stamped(KEY_ERROR, live_at + timedelta(seconds=60), times=2))
    first.close()  # the process stops; the window is half over

    second = loop_for(deploy_wait_seconds=0, repo=first.repo)
    second.clock.now = live_at + timedelta(seconds=500)
    second.static = first.static  # the service's logs outlive mendbot; the cursor is stored
    second.source = CursoredSource(second.static, state=second.runtime.state)
    assert [v.count_after for v in second.verifications.active()] == [2]
    second.cycle(stamped(KEY_ERROR, live_at + timedelta(seconds=400)))
    second.cycle(stamped([HEALTH], live_at + timedelta(seconds=950)))

    assert second.status(fix.id) is ProposalStatus.REGRESSED
    regressed = second.events(fix.id)[-1]
    assert regressed.details["count_after"] == 3
    assert second.actions(fix.id).count("deploy_live") == 1  # not announced twice


def test_a_late_line_still_counts_and_a_future_stamp_moves_nothing(loop_for) -> None:
    loop = loop_for(deploy_wait_seconds=0)
    fix = loop.incident_and_fix()
    live_at = loop.clock.now
    loop.cycle(stamped([HEALTH], live_at + timedelta(seconds=300)))  # wall clock: +300 s

    loop.static.append(stamped([HEALTH], datetime(2099, 1, 1, tzinfo=UTC)))  # planted
    loop.pipeline.run_once(loop.source)
    loop.static.append(stamped(KEY_ERROR, live_at + timedelta(seconds=200)))  # arrives late
    loop.pipeline.run_once(loop.source)

    assert loop.status(fix.id) is ProposalStatus.APPLIED  # the planted year closed nothing
    verification = loop.verifications.get(fix.id)
    assert verification is not None and verification.count_after == 1
    assert verification.log_time == live_at + timedelta(seconds=300)
    loop.cycle(stamped([HEALTH], live_at + timedelta(seconds=900)))
    assert loop.status(fix.id) is ProposalStatus.REGRESSED


def test_a_silent_service_is_judged_by_the_wall_clock_one_window_late(loop_for) -> None:
    loop = loop_for(deploy_wait_seconds=0, verify_window_seconds=60)
    fix = loop.incident_and_fix()
    live_at = loop.clock.now
    loop.cycle([])
    loop.clock.now = live_at + timedelta(seconds=119)
    loop.cycle([])
    assert loop.status(fix.id) is ProposalStatus.APPLIED
    loop.clock.now = live_at + timedelta(seconds=120)
    loop.cycle([])
    assert loop.status(fix.id) is ProposalStatus.VERIFIED
    assert loop.events(fix.id)[-1].details["records_after"] == 0


def test_a_new_error_in_the_changed_lines_is_reported_as_probably_caused(loop_for) -> None:
    loop = loop_for(deploy_wait_seconds=0)
    loop.cycle(stamped(ZERO_DIVISION, T0 - timedelta(hours=2)))  # seen before the deploy
    fix = loop.incident_and_fix()
    live_at = loop.clock.now

    loop.cycle(
        stamped(TYPE_ERROR, live_at + timedelta(seconds=30), times=2)
        + stamped(ZERO_DIVISION, live_at + timedelta(seconds=40))
    )
    loop.cycle(stamped(TYPE_ERROR, live_at + timedelta(seconds=60)))  # reported once only

    caused = [e for e in loop.events(fix.id) if e.kind == "probably_caused"]
    assert len(caused) == 1
    assert caused[0].details["frame"] == "app.py:10 in orders"
    assert "TypeError" in caused[0].details["summary"]
    assert loop.actions(fix.id).count("probably_caused") == 1
    loop.cycle(stamped([HEALTH], live_at + timedelta(seconds=901)))
    verified = loop.events(fix.id)[-1]
    assert verified.kind == "verified" and len(verified.details["caused"]) == 1


def test_a_revert_by_a_person_during_the_window_stops_it(loop_for) -> None:
    loop = loop_for(deploy_wait_seconds=0)
    fix = loop.incident_and_fix()
    live_at = loop.clock.now
    loop.cycle(stamped([HEALTH], live_at + timedelta(seconds=10)))

    assert loop.runtime.decisions.revert(fix.id, actor="U0ALICE").reverted
    loop.cycle(stamped([HEALTH], live_at + timedelta(seconds=1000)))

    assert loop.status(fix.id) is ProposalStatus.REVERTED
    assert loop.verifications.get(fix.id).outcome == "stopped"  # type: ignore[union-attr]
    assert {"verified", "regressed"}.isdisjoint(loop.kinds(fix.id))


def test_two_processes_judge_a_window_once(
    loop_for, tmp_path: Path, make_settings, database_url: str
) -> None:
    one = loop_for(deploy_wait_seconds=0)
    fix = one.incident_and_fix()
    two = loop_for(deploy_wait_seconds=0, repo=one.repo)
    two.clock.now = one.clock.now
    late = stamped([HEALTH], one.clock.now + timedelta(seconds=1000))
    watch_one, watch_two = one.verifier.begin_cycle(), two.verifier.begin_cycle()
    for record in late:
        watch_one(record)
        watch_two(record)
    one.clock.now = two.clock.now = late[-1].timestamp
    one.verifier.end_cycle(watch_one, [])
    two.verifier.end_cycle(watch_two, [])
    assert one.actions(fix.id).count("verified") == 1
    assert "verified" not in two.kinds(fix.id)
