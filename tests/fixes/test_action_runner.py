"""Runbook, trust levels, and the runner's queue, verification and breaker, on a real
database (SQLite and PostgreSQL) with executors that record what they were asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.actions import Action
from core.models import Anomaly, Severity
from core.proposals import FixProposal
from fixes.actions.errors import ActionFailed, ActionUnavailable
from fixes.actions.runbook import RunbookError, load_runbook
from fixes.actions.runner import ActionRunner
from fixes.actions.runs import ActionRuns
from fixes.actions.trust import TrustPolicy
from fixes.persistence.db import Database
from fixes.persistence.state import StateStore
from fixes.persistence.store import ProposalStore
from tests.fakes.proposals import make_proposal

T0 = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)


def signal(kind: str = "service_down", **details: object) -> Anomaly:
    return Anomaly(
        kind=kind,  # type: ignore[arg-type]
        fingerprint="f" * 16,
        template="t",
        count=1,
        first_seen=T0,
        last_seen=T0,
        severity=Severity.HIGH,
        details=dict(details),
    )


# --- runbook and trust ------------------------------------------------------------------------


def test_the_default_runbook_restarts_the_watched_service() -> None:
    book = load_runbook(None)
    rule = book.rule_for(signal("service_down"))
    assert rule is not None and rule.action == "restart"
    assert book.target_of(rule, watched_service_id="svc-1") == "svc-1"
    alert = signal("alert", labels={"alertname": "InstanceDown"})
    assert book.rule_for(alert).action == "restart"  # type: ignore[union-attr]
    assert book.rule_for(signal("alert", labels={"alertname": "DiskWillFill"})) is None
    assert book.rule_for(signal("resource_pressure", resource="disk")) is None


def test_a_yaml_runbook_matches_labels_and_names_commands(tmp_path: Path) -> None:
    path = tmp_path / "runbook.yaml"
    path.write_text(
        "commands:\n  tmp-cleanup: rm -rf /tmp/cache\n"
        "rules:\n"
        "  - name: disk\n    when: {kind: resource_pressure, resource: disk}\n"
        "    action: command\n    target: tmp-cleanup\n    trust: auto\n"
        "  - name: web-down\n    when: {kind: alert, alertname: WebDown, labels: {team: web}}\n"
        "    action: container_restart\n    target: web\n"
    )
    book = load_runbook(path)
    assert book.rule_for(signal("resource_pressure", resource="disk")).trust == "auto"  # type: ignore[union-attr]
    web = signal("alert", labels={"alertname": "WebDown", "team": "web"})
    assert book.rule_for(web).target == "web"  # type: ignore[union-attr]
    # A label cannot point the action elsewhere: it only selects the rule.
    hostile = signal("alert", labels={"alertname": "WebDown", "team": "db", "container": "db"})
    assert book.rule_for(hostile) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("rules: [{name: x, when: {kind: alert}, action: reboot}]", "rules.0.action"),
        ("rules: [{name: x, when: {knd: alert}, action: restart}]", "rules.0.when.knd"),
        ("rules: [{name: x, when: {}, action: command, target: nope}]", "not listed"),
        ("rules: [{name: x, when: {}, action: container_restart}]", "names its container"),
        ("rules: [ {", "not valid"),
    ],
)
def test_a_bad_runbook_is_refused_at_start_with_where(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "runbook.yaml"
    path.write_text(text)
    with pytest.raises(RunbookError, match=problem):
        load_runbook(path)
    with pytest.raises(RunbookError, match="cannot read"):
        load_runbook(tmp_path / "missing.json")


def test_trust_is_capped_by_the_master_switch() -> None:
    levels = {"restart": "auto", "rollback": "off"}
    assert TrustPolicy(master="auto", per_kind=levels).level("restart") == "auto"
    assert TrustPolicy(master="ask", per_kind=levels).level("restart") == "ask"
    assert TrustPolicy(master="auto", per_kind=levels).level("redeploy") == "ask"  # default
    assert TrustPolicy(master="auto", per_kind=levels).level("rollback", "auto") == "auto"
    assert TrustPolicy(master="off", per_kind=levels).level("restart", "auto") == "off"
    assert not TrustPolicy(master="off", per_kind={}).acting


# --- the runner ---------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Scripted:
    """An executor that answers from a script: "ok", "down" or "no", in order."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls: list[Action] = []

    def refusal(self, action: Action) -> str | None:
        return None

    def run(self, action: Action) -> str:
        self.calls.append(action)
        answer = self.answers.pop(0) if self.answers else "ok"
        if answer == "down":
            raise ActionUnavailable("Railway answered HTTP 503")
        if answer == "no":
            raise ActionFailed("Railway said: Problem processing request")
        return f"restarted {action.target}"


@pytest.fixture
def world(database_url: str):
    db = Database(database_url)
    store = ProposalStore(db)
    clock = Clock()
    yield db, store, clock
    db.dispose()


def runner_for(db: Database, clock: Clock, executor: Scripted) -> ActionRunner:
    return ActionRunner(
        executors={"restart": executor},
        runs=ActionRuns(db),
        state=StateStore(db),
        verify_seconds=60,
        retry_base_seconds=5,
        retry_max_seconds=40,
        give_up_seconds=600,
        clock=clock,
    )


def action_proposal(store: ProposalStore, target: str = "svc-1") -> FixProposal:
    proposal = make_proposal(edits=[]).model_copy(
        update={"action": Action(kind="restart", target=target, trust="auto")}
    )
    return store.add(proposal)


def test_a_platform_outage_queues_with_backoff_then_runs(world) -> None:
    db, store, clock = world
    executor = Scripted("down", "down", "ok")
    runner = runner_for(db, clock, executor)
    proposal = action_proposal(store)
    first = runner.attempt(proposal, automatic=True)
    assert (first.status, first.first_queued, first.retry_in_seconds) == ("queued", True, 5)
    assert runner.due() == []
    clock.advance(5)
    assert runner.due() == [proposal.id]
    second = runner.attempt(proposal, automatic=True)
    assert (second.status, second.first_queued, second.retry_in_seconds) == ("queued", False, 10)
    clock.advance(10)
    assert runner.attempt(proposal, automatic=True).status == "done"
    assert len(executor.calls) == 3


def test_an_outage_longer_than_the_give_up_time_fails(world) -> None:
    db, store, clock = world
    runner = runner_for(db, clock, Scripted(*["down"] * 50))
    proposal = action_proposal(store)
    runner.attempt(proposal, automatic=True)
    clock.advance(601)
    gave_up = runner.attempt(proposal, automatic=True)
    assert gave_up.status == "failed" and "gave up after 2 tries" in gave_up.detail


def test_verification_clears_or_escalates_and_feeds_the_stats(world) -> None:
    db, store, clock = world
    runner = runner_for(db, clock, Scripted())
    cleared, stayed = action_proposal(store), action_proposal(store)
    runner.attempt(cleared, automatic=False)
    clock.advance(12)
    assert runner.cleared(cleared.fingerprint) == [(cleared.id, 12.0)]
    runner.attempt(stayed, automatic=False)
    clock.advance(61)
    assert [(pid, waited) for pid, waited, _ in runner.overdue()] == [(stayed.id, 61.0)]
    [stats] = runner.runs.stats()
    assert (stats.action_kind, stats.anomaly_kind, stats.total, stats.cleared) == (
        "restart",
        "repeated_error",
        2,
        1,
    )
    assert stats.not_cleared == 1 and stats.success_rate == 0.5
    assert stats.median_seconds_to_clear == 12.0


def test_three_strikes_open_the_breaker_until_a_person_resumes(world) -> None:
    db, store, clock = world
    runner = runner_for(db, clock, Scripted("no", "no", "no", "no"))
    opened = [
        runner.attempt(action_proposal(store), automatic=True).breaker_opened for _ in range(3)
    ]
    assert opened == [False, False, True]  # the third failure opens it, once
    assert runner.breaker_open("svc-1") and not runner.breaker_open("svc-2")
    assert runner.resume("svc-1") is True
    assert not runner.breaker_open("svc-1")
    assert runner.resume("svc-1") is False  # it was not open any more
    # Restart-safe: a new runner on the same database sees the same state.
    assert not runner_for(db, clock, Scripted()).breaker_open("svc-1")


def test_the_breaker_closes_by_itself_when_the_strikes_age_out(world) -> None:
    db, store, clock = world
    runner = runner_for(db, clock, Scripted("no", "no", "no"))
    for _ in range(3):
        runner.attempt(action_proposal(store), automatic=True)
    assert runner_for(db, clock, Scripted()).breaker_open("svc-1")
    clock.advance(3601)
    assert not runner.breaker_open("svc-1")


def test_an_action_running_when_the_process_died_is_failed_at_start(world) -> None:
    db, store, clock = world
    proposal = action_proposal(store)
    ActionRuns(db).start(proposal, automatic=True, now=clock())  # then: killed
    runner = runner_for(db, clock, Scripted())
    assert runner.interrupted() == [proposal.id]
    assert ActionRuns(db).get(proposal.id).result == "failed"  # type: ignore[union-attr]


def test_two_deliveries_clearing_one_watch_verify_it_once(world) -> None:
    db, store, clock = world
    runner = runner_for(db, clock, Scripted())
    proposal = action_proposal(store)
    runner.attempt(proposal, automatic=False)
    other = runner_for(db, clock, Scripted())  # a second thread or process, same database
    import threading

    results: list[list] = []
    threads = [
        threading.Thread(target=lambda r=r: results.append(r.cleared(proposal.fingerprint)))
        for r in (runner, other)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r) for r in results) == [0, 1]
    clock.advance(120)
    assert runner.overdue() == []  # cleared already: never escalated
