"""The operations half as ``mendbot run`` composes it (build_runtime, build_operations) on a
real database (SQLite and PostgreSQL), against Railway's GraphQL (schema-validated) and
real HTTP health endpoints, with an in-memory notifier standing in for Slack."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.cli.run_command import operations_lines
from core.models import Level, LogRecord
from core.notifier import InMemoryNotifier
from core.proposals import ProposalStatus
from fixes.decisions import DecisionRefused
from monitoring.operations import Operations
from monitoring.runtime import Runtime, build_operations, build_pipeline, build_runtime
from tests.fakes.railway import FakeRailway
from tests.fakes.server import FakeServer, Reply

TOKEN = "am-secret-token"


def alert_body(
    status: str = "firing", starts: str = "2026-11-21T02:33:00Z", **labels: str
) -> bytes:
    return json.dumps(
        {
            "version": "4",
            "status": status,
            "groupKey": "{}:{}",
            "receiver": "mendbot",
            "alerts": [
                {
                    "status": status,
                    "labels": {"alertname": "InstanceDown", "service": "api", **labels},
                    "annotations": {"summary": "api is not answering"},
                    "startsAt": starts,
                    "endsAt": "0001-01-01T00:00:00Z",
                    "fingerprint": "0123456789abcdef",
                }
            ],
        }
    ).encode()


class Ops:
    def __init__(self, runtime: Runtime, operations: Operations, railway: FakeRailway) -> None:
        self.runtime, self.ops, self.railway = runtime, operations, railway
        self.notifier: InMemoryNotifier = runtime.notifier  # type: ignore[assignment]

    def deliver(self, body: bytes) -> dict[str, Any]:
        status, answer = self.ops.receive_alerts(body)
        assert status == 200, answer
        self.ops.wait_idle(10)
        return answer

    def proposals(self):
        return self.runtime.store.list(limit=100)

    def kinds(self, proposal_id: str) -> list[str]:
        return self.notifier.event_kinds(proposal_id)


@pytest.fixture
def railway():
    with FakeRailway() as fake:
        fake.deploy("dep-1", created_at=datetime.now(UTC) - timedelta(hours=1))
        yield fake
        assert fake.invalid == []


@pytest.fixture
def make_ops(make_settings, database_url, railway):
    made: list[Ops] = []

    def factory(**overrides: Any) -> Ops:
        settings = make_settings(
            database_url=database_url,
            alert_token=TOKEN,
            railway_api_url=railway.api_url,
            railway_api_token="team-token",
            railway_environment_id="env-1",
            railway_service_id="svc-1",
            health_failures=2,
            **overrides,
        )
        runtime = build_runtime(settings, notifier=InMemoryNotifier())
        ops = Ops(runtime, build_operations(runtime, build_pipeline(runtime)), railway)
        made.append(ops)
        return ops

    yield factory
    for ops in made:
        ops.ops.stop()
        ops.runtime.close()


def test_the_same_alert_twice_and_repeated_is_one_proposal(make_ops) -> None:
    ops = make_ops()
    answers: list[dict] = []
    ha_pair = [
        threading.Thread(target=lambda: answers.append(ops.deliver(alert_body()))) for _ in range(2)
    ]
    for thread in ha_pair:
        thread.start()
    for thread in ha_pair:
        thread.join()
    ops.deliver(alert_body())  # repeat_interval later
    [proposal] = ops.proposals()
    assert sorted(len(a["new_proposals"]) for a in answers) == [0, 1]
    assert proposal.anomaly.kind == "alert" and proposal.action is not None
    assert proposal.action.kind == "restart" and proposal.action.target == "svc-1"
    assert proposal.action.trust == "ask" and proposal.status is ProposalStatus.PROPOSED
    assert proposal.seen_again == 2 and ops.kinds(proposal.id).count("seen_again") == 2
    assert ops.railway.actions == []  # nothing is auto by default


def test_resolved_before_anyone_acted_closes_the_proposal(make_ops) -> None:
    ops = make_ops()
    ops.deliver(alert_body())
    answer = ops.deliver(alert_body("resolved"))
    [proposal] = ops.proposals()
    assert answer["resolved"] == [proposal.id]
    assert proposal.status is ProposalStatus.RESOLVED
    assert ops.kinds(proposal.id)[-1] == "resolved"
    with pytest.raises(DecisionRefused, match="already resolved"):
        ops.runtime.decisions.approve(proposal.id, actor="U0ALICE")
    ops.deliver(alert_body(starts="2026-11-21T04:00:00Z"))  # fires again later: proposed anew
    assert len(ops.proposals()) == 2


def test_approved_restart_runs_on_railway_and_the_resolve_verifies_it(make_ops) -> None:
    ops = make_ops(action_verify_seconds=300)
    ops.deliver(alert_body())
    [proposal] = ops.proposals()
    done = ops.runtime.decisions.implement(proposal.id, actor="U0ALICE")
    assert done.status is ProposalStatus.APPLIED
    assert ops.railway.actions == [("deploymentRestart", {"id": "dep-1"})]
    assert ops.kinds(proposal.id) == ["approved", "applied"]
    ops.deliver(alert_body("resolved"))
    assert ops.kinds(proposal.id)[-1] == "resolved"
    resolved = ops.notifier.events[-1][1]
    assert resolved.details["source"] == "alert" and resolved.details["seconds"] >= 0
    [stats] = ops.runtime.decisions.actions.runs.stats()  # type: ignore[union-attr]
    assert (stats.action_kind, stats.anomaly_kind, stats.cleared, stats.success_rate) == (
        "restart",
        "alert",
        1,
        1.0,
    )
    trail = [e.action for e in ops.runtime.store.audit_trail(proposal.id)]
    assert trail[:3] == ["proposed", "posted", "approved"] and "cleared" in trail


def test_auto_restart_on_a_failing_health_check(make_ops) -> None:
    with FakeServer() as service:
        service.route("GET", "/health", Reply.json({"error": "db"}, 503))
        ops = make_ops(
            health_urls=[service.url + "/health"], remediation="auto", trust={"restart": "auto"}
        )
        assert ops.ops.check_health()[0:0] == []  # first failing check: not yet
        assert ops.proposals() == []
        ops.ops.check_health()
        ops.ops.wait_idle(10)
        [proposal] = ops.proposals()
        assert proposal.anomaly.kind == "service_down" and proposal.action.trust == "auto"  # type: ignore[union-attr]
        assert proposal.decided_by == "mendbot:auto"
        assert ops.runtime.store.get(proposal.id).status is ProposalStatus.APPLIED
        assert ops.railway.actions == [("deploymentRestart", {"id": "dep-1"})]
        ops.ops.check_health()  # still failing: counted, not posted again
        assert len(ops.proposals()) == 1
        service.route("GET", "/health", Reply.json({"ok": True}))
        ops.ops.check_health()
        assert ops.kinds(proposal.id)[-1] == "resolved"


def test_three_failed_actions_open_the_breaker(make_ops) -> None:
    ops = make_ops(remediation="auto", trust={"restart": "auto"})
    ops.railway.refuse_actions = "Problem processing request"
    for hour in range(3):
        ops.deliver(alert_body(starts=f"2026-11-21T02:3{hour}:00Z"))
    failed = sorted(ops.proposals(), key=lambda p: p.created_at)
    assert [p.status for p in failed] == [ProposalStatus.FAILED] * 3
    assert any("Breaker open on svc-1" in text for text in ops.notifier.alerts)
    ops.railway.refuse_actions = None
    ops.deliver(alert_body(starts="2026-11-21T02:40:00Z"))
    waiting = ops.runtime.store.list(statuses={ProposalStatus.PROPOSED})
    assert len(waiting) == 1 and ops.kinds(waiting[0].id)[-1] == "action_refused"
    assert "breaker on svc-1 is open" in ops.notifier.events[-1][1].details["reason"]
    assert ops.railway.actions == []
    # A person may still approve it; and `resume` closes the breaker for automatic ones.
    assert (
        ops.runtime.decisions.implement(waiting[0].id, actor="U0ALICE").status
        is ProposalStatus.APPLIED
    )
    assert ops.runtime.decisions.actions.resume("svc-1")  # type: ignore[union-attr]


def test_mendbot_refuses_to_act_on_its_own_railway_service(make_ops) -> None:
    # Railway set RAILWAY_SERVICE_ID to mendbot's own id and nobody overrode it: the
    # deployment Railway also injects (RAILWAY_DEPLOYMENT_ID) belongs to the same service.
    ops = make_ops(remediation="auto", trust={"restart": "auto"}, railway_deployment_id="dep-1")
    ops.deliver(alert_body())
    [proposal] = ops.proposals()
    assert proposal.status is ProposalStatus.PROPOSED and ops.railway.actions == []
    assert ops.kinds(proposal.id)[-1] == "action_refused"
    assert "mendbot's own Railway service" in ops.notifier.events[-1][1].details["reason"]
    with pytest.raises(DecisionRefused, match="never acts on itself"):
        ops.runtime.decisions.approve(proposal.id, actor="U0ALICE")


def test_alerts_about_mendbot_itself_are_reported_not_acted_on(make_ops) -> None:
    ops = make_ops(remediation="auto", trust={"restart": "auto"}, railway_service_name="mendbot")
    ops.deliver(alert_body(service="mendbot"))
    [proposal] = ops.proposals()
    assert proposal.action is None and ops.railway.actions == []
    assert "about mendbot itself (service=mendbot)" in proposal.notes[0]


def test_monitor_only_proposes_nothing_that_acts(make_ops) -> None:
    ops = make_ops(remediation="off")
    ops.deliver(alert_body())
    [proposal] = ops.proposals()
    assert proposal.action is None and "monitor only" in proposal.notes[0]


def test_a_platform_outage_queues_the_action_tells_once_and_retries(make_ops) -> None:
    ops = make_ops()
    ops.deliver(alert_body())
    [proposal] = ops.proposals()
    # Down for three requests: the check at approval, the first try, the first retry.
    ops.railway.fail_next(Reply.json({"error": "bad gateway"}, 502), times=3)
    queued = ops.runtime.decisions.implement(proposal.id, actor="U0ALICE")
    assert queued.status is ProposalStatus.APPLYING
    runner = ops.runtime.decisions.actions
    assert runner is not None
    later = datetime.now(UTC) + timedelta(seconds=60)
    runner.clock = lambda: later
    ops.ops.tick()  # retried: still down
    runner.clock = lambda: later + timedelta(seconds=120)
    ops.ops.tick()
    assert ops.runtime.store.get(proposal.id).status is ProposalStatus.APPLIED
    assert ops.kinds(proposal.id).count("action_queued") == 1
    assert ops.railway.actions == [("deploymentRestart", {"id": "dep-1"})]


def test_an_action_whose_signal_stays_is_escalated(make_ops) -> None:
    ops = make_ops(action_verify_seconds=30)
    ops.deliver(alert_body())
    [proposal] = ops.proposals()
    ops.runtime.decisions.implement(proposal.id, actor="U0ALICE")
    runner = ops.runtime.decisions.actions
    assert runner is not None
    later = datetime.now(UTC) + timedelta(seconds=31)
    runner.clock = lambda: later
    ops.ops.tick()
    assert ops.kinds(proposal.id)[-1] == "not_cleared"


def test_the_logs_around_the_alert_and_prometheus_figures_join_the_evidence(
    make_ops, railway
) -> None:
    with FakeServer() as prometheus:
        prometheus.route(
            "GET",
            "/api/v1/query_range",
            Reply.json(
                {
                    "status": "success",
                    "data": {
                        "resultType": "matrix",
                        "result": [{"metric": {}, "values": [[1, "0.5"], [2, "2.5"]]}],
                    },
                }
            ),
        )
        ops = make_ops(prometheus_url=prometheus.url)
        starts = datetime(2026, 11, 21, 2, 33, tzinfo=UTC)
        assert ops.runtime.recent is not None
        for offset, level, text in [
            (-600, Level.ERROR, "an old error, not around the alert"),
            (-20, Level.ERROR, "db pool exhausted (size=10)"),
            (5, Level.INFO, "GET /health 503"),
        ]:
            when = starts + timedelta(seconds=offset)
            ops.runtime.recent.add(LogRecord(timestamp=when, level=level, message=text, raw=text))
        ops.deliver(alert_body())
        [proposal] = ops.proposals()
        [query] = prometheus.received("/api/v1/query_range")[:1]
        assert "http_requests_total" in query.query["query"][0]
    evidence = "\n".join(proposal.diagnosis.evidence)
    assert "db pool exhausted" in evidence and "GET /health 503" in evidence
    assert "an old error" not in evidence
    metrics = proposal.anomaly.details["metrics"]
    assert metrics["error_rate"].startswith("2.5 (max 2.5")
    assert "error_rate: 2.5" in evidence


def test_the_start_up_summary_says_what_of_the_operations_half_is_on(make_settings) -> None:
    off = "\n".join(operations_lines(make_settings()))
    assert "alerts:      off (no MENDBOT_ALERT_TOKEN: /webhook/alerts answers 404)" in off
    assert "checks:      off" in off and "actions:     ask (every kind ask" in off
    on = "\n".join(
        operations_lines(
            make_settings(
                alert_token="t",
                health_urls="http://api/health",
                remediation="auto",
                trust="restart=auto",
            )
        )
    )
    assert "alerts:      POST" in on and "1 URL(s) every 30 s (10 s while failing)" in on
    assert "actions:     auto (restart=auto" in on


class FlakySlack(InMemoryNotifier):
    """Refuses the first post, as Slack does when it is down."""

    def __init__(self) -> None:
        super().__init__()
        self.down = True

    def post_proposal(self, proposal):  # type: ignore[no-untyped-def]
        if self.down:
            self.down = False
            raise ConnectionError("Slack is down")
        return super().post_proposal(proposal)


def test_without_log_monitoring_the_queue_job_posts_what_slack_refused(
    make_settings, database_url
) -> None:
    settings = make_settings(database_url=database_url, alert_token=TOKEN)
    runtime = build_runtime(settings, notifier=FlakySlack())
    operations = build_operations(runtime, build_pipeline(runtime), monitoring=False)
    try:
        status, answer = operations.receive_alerts(alert_body())
        assert status == 200 and len(answer["new_proposals"]) == 1
        [proposal] = runtime.store.list()
        assert proposal.thread_ref is None  # stored, not lost
        operations.tick()
        assert runtime.store.get(proposal.id).thread_ref == "memory:1"
    finally:
        operations.stop()
        runtime.close()
