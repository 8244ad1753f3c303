"""End to end, the operations half as a user runs it: ``mendbot run`` as a real process,
two real Alertmanagers (Debian's ``prometheus-alertmanager``, not clustered, so each
delivers: the duplicate an HA pair sends) posting webhooks to it, a real Prometheus
scraping its ``/metrics``, and local servers speaking Slack's Web API and Railway's GraphQL
(schema-validated). Skipped, with the reason, where the Debian packages are missing.

1. An alert -> one proposal in Slack (delivered twice and repeated: still one) -> an
   approver says ``implement`` -> Railway ``deploymentRestart`` -> the alert resolves ->
   "verified" in the thread. A bad or missing token is refused; ``/metrics`` is scraped.
2. A health check fails -> an ``auto`` restart, timed from the failure to the action and
   to the notice in Slack -> it recovers: verified. Then Railway refuses every restart:
   three failed episodes open the breaker, and the fourth is not acted on.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.proposals import FixProposal, ProposalStatus
from fixes.persistence.db import Database
from fixes.persistence.store import ProposalStore
from settings import Settings
from tests.fakes.prometheus_stack import Alertmanager, Prometheus
from tests.fakes.railway import FakeRailway
from tests.fakes.server import FakeServer, Reply
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender, mention_envelope
from tests.test_run_e2e import Bot, free_port, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ALICE = "U0ALICE"
TOKEN = "am-7c1f0e9b5d"
RUNBOOK = """\
rules:
  - name: alert-instance-down
    when: {kind: alert, alertname: InstanceDown}
    action: restart
    trust: ask
  - name: health-down-restart
    when: {kind: service_down}
    action: restart
    trust: auto
"""


class Scene:
    """The fakes, the watched service and the environment ``mendbot run`` gets."""

    def __init__(self, tmp_path: Path, railway: FakeRailway, slack: FakeSlack, service: FakeServer):
        self.tmp_path, self.railway, self.slack, self.service = tmp_path, railway, slack, service
        self.port = free_port()
        self.db_url = f"sqlite:///{tmp_path / 'mendbot.db'}"
        (tmp_path / "runbook.yaml").write_text(RUNBOOK)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self, **extra: str) -> dict[str, str]:
        ours = {str(f.validation_alias) for f in Settings.model_fields.values()}
        keep = {k: v for k, v in os.environ.items() if k not in ours}
        return {
            **keep,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.db_url,
            "PORT": str(self.port),
            "MENDBOT_LOG_SOURCE": "none",
            "RAILWAY_API_URL": self.railway.api_url,
            "RAILWAY_API_TOKEN": "team-token",
            "RAILWAY_ENVIRONMENT_ID": "env-1",
            "RAILWAY_SERVICE_ID": "svc-1",
            "RAILWAY_SERVICE_NAME": "mendbot",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_CHANNEL": "#ops",
            "SLACK_API_URL": self.slack.api_url,
            "MENDBOT_SLACK_POSTS_PER_SECOND": "100",  # pacing is tested on its own
            "SLACK_APPROVERS": ALICE,
            "MENDBOT_ALERT_TOKEN": TOKEN,
            "MENDBOT_REMEDIATION": "auto",
            "MENDBOT_RUNBOOK": str(self.tmp_path / "runbook.yaml"),
            "MENDBOT_ACTION_VERIFY_SECONDS": "60",
            **extra,
        }

    def start(self, **extra: str) -> Bot:
        log = self.tmp_path / "run.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli.main", "run"],
            cwd=self.tmp_path,
            env=self.environment(**extra),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.process = process
        bot = Bot(process, self.port, log)
        wait_until("/health", lambda: process.poll() is not None or bot.health(), 30)
        assert process.poll() is None, bot.output()
        return bot

    def proposals(self) -> list[FixProposal]:
        db = Database(self.db_url)
        try:
            return ProposalStore(db).list(limit=100)
        finally:
            db.dispose()

    def top_level_posts(self) -> list[Any]:
        return [
            c
            for c in self.slack.received("chat.postMessage")
            if c.ok and not c.args.get("thread_ts")
        ]

    def thread_texts(self, proposal: FixProposal) -> list[str]:
        channel, ts = (proposal.thread_ref or ":").split(":")
        return [c.text for c in self.slack.thread(channel, ts)]


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with FakeRailway() as railway, FakeSlack() as slack, FakeServer() as service:
        railway.deploy("dep-1", created_at=datetime.now(UTC) - timedelta(hours=3))
        service.route("GET", "/health", Reply.json({"ok": True, "memory_percent": 40}))
        made = Scene(tmp_path, railway, slack, service)
        yield made
        if made.process is not None and made.process.poll() is None:
            made.process.kill()
            made.process.wait(timeout=30)
        assert railway.invalid == [], "mendbot sent a request Railway's schema rejects"


def stop(bot: Bot) -> None:
    bot.process.send_signal(signal.SIGTERM)
    assert bot.process.wait(timeout=30) == 0, bot.output()
    assert "Traceback" not in bot.output(), bot.output()


def instance_down(ends: datetime | None = None, **labels: str) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": {"alertname": "InstanceDown", "service": "api", "severity": "critical", **labels},
        "annotations": {"summary": "api does not answer", "description": "up == 0 for 1m"},
        "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
        "generatorURL": "http://prometheus:9090/graph",
    }
    if ends is not None:
        alert["endsAt"] = ends.isoformat()
    return alert


def test_alert_to_approved_restart_to_resolved(scene: Scene) -> None:
    bot = scene.start()
    webhook = scene.url + "/webhook/alerts"
    banner = wait_until(
        "summary", lambda: "mendbot is running" in bot.output() and bot.output(), 10
    )
    assert "alerts:      POST" in banner and "actions:     auto" in banner
    with (
        Alertmanager.running(scene.tmp_path / "a", webhook_url=webhook, token=TOKEN) as first,
        Alertmanager.running(scene.tmp_path / "b", webhook_url=webhook, token=TOKEN) as second,
    ):
        firing = instance_down()
        first.post_alerts([firing])
        second.post_alerts([firing])  # the other of the pair delivers it too
        [posted] = wait_until("the proposal in Slack", lambda: scene.top_level_posts(), 20)
        [proposal] = scene.proposals()
        assert proposal.id in posted.text and proposal.action is not None
        assert "restart the Railway service svc-1" in posted.blocks_json()
        assert posted.action_ids() == ["mendbot_approve", "mendbot_reject"]
        # Both Alertmanagers deliver, and repeat every 4 s: counted, never posted again.
        wait_until("repeats counted", lambda: scene.proposals()[0].seen_again >= 3, 30)
        assert len(scene.top_level_posts()) == 1 and len(scene.proposals()) == 1

        # A bad or missing token is refused by the running process.
        for auth in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            refused = httpx.post(webhook, content=b"{}", headers=auth, timeout=5)
            assert refused.status_code == 401

        # An approver says implement in the thread: Railway restarts the deployment.
        _channel, ts = (proposal.thread_ref or ":").split(":")
        sender = SlackSender(scene.url + "/slack/events")
        assert (
            sender.event(
                mention_envelope(f"implement {proposal.id}", user=ALICE, thread_ts=ts)
            ).status_code
            == 200
        )
        sender.close()
        wait_until("the restart", lambda: scene.railway.actions, 20)
        assert scene.railway.actions == [("deploymentRestart", {"id": "dep-1"})]
        wait_until("applied", lambda: scene.proposals()[0].status is ProposalStatus.APPLIED, 20)

        # The alert resolves (Prometheus sends endsAt in the past): verified in the thread.
        resolved = {**firing, "endsAt": datetime.now(UTC).isoformat()}
        first.post_alerts([resolved])
        second.post_alerts([resolved])
        texts = wait_until(
            "verified in the thread",
            lambda: [t for t in scene.thread_texts(proposal) if "verified" in t],
            30,
        )
        print("\nthread:", *scene.thread_texts(proposal), sep="\n  ")
        assert "The alert resolved" in texts[0] and len(texts) == 1  # the pair: verified once

        # An alert about mendbot itself is reported, not acted on.
        first.post_alerts([instance_down(service="mendbot")])
        about_itself = wait_until(
            "the alert about mendbot itself",
            lambda: [p for p in scene.top_level_posts() if "not acted on" in p.blocks_json()],
            20,
        )
        assert about_itself[0].action_ids() == ["mendbot_reject"]  # nothing to approve

    # /metrics, scraped by a real Prometheus.
    with Prometheus.running(
        scene.tmp_path / "p", targets={"mendbot": f"127.0.0.1:{scene.port}"}
    ) as prom:
        [actions] = prom.wait_for(
            'mendbot_actions_total{job="mendbot",kind="restart",result="cleared"}'
        )
        assert float(actions["value"][1]) == 1
        [signals] = prom.wait_for('mendbot_signals_total{source="alert",state="firing"}')
        assert float(signals["value"][1]) >= 4
    stats = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "stats"],
        env=scene.environment(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    print(stats)
    assert "restart" in stats and "100%" in stats
    stop(bot)


def test_auto_restart_on_a_failing_health_check_then_three_strikes(scene: Scene) -> None:
    bot = scene.start(
        MENDBOT_HEALTH_URLS=scene.service.url + "/health",
        # Shorter than the defaults (30 s, 10 s) to keep the suite fast; with the defaults
        # the restart came 40.3 s after the failure (README, "Operations").
        MENDBOT_HEALTH_INTERVAL_SECONDS="10",
        MENDBOT_HEALTH_FAILING_INTERVAL_SECONDS="3",
    )
    wait_until("a first healthy check", lambda: scene.service.received("/health"), 35)
    failed_at = time.monotonic()
    scene.service.route("GET", "/health", Reply.json({"error": "db pool exhausted"}, 503))
    wait_until("the auto restart", lambda: scene.railway.actions, 90)
    acted = time.monotonic() - failed_at
    wait_until(
        "the notice in Slack",
        lambda: any(
            "Done: restarted deployment dep-1" in c.text
            for c in scene.slack.received("chat.postMessage")
        ),
        20,
    )
    noticed = time.monotonic() - failed_at
    print(
        f"\nhealth check failing -> auto restart: {acted:.1f} s; -> notice in Slack: {noticed:.1f} s"
    )
    assert acted < 60 and noticed < 60
    [proposal] = scene.proposals()
    assert proposal.decided_by == "mendbot:auto" and proposal.status is ProposalStatus.APPLIED
    scene.service.route("GET", "/health", Reply.json({"ok": True}))
    wait_until("verified", lambda: any("verified" in t for t in scene.thread_texts(proposal)), 30)
    stop(bot)

    # Railway now refuses every restart; checks every second so three episodes fit a test.
    scene.railway.refuse_actions = "Problem processing request"
    bot = scene.start(
        MENDBOT_HEALTH_URLS=scene.service.url + "/health",
        MENDBOT_HEALTH_INTERVAL_SECONDS="1",
        MENDBOT_HEALTH_FAILING_INTERVAL_SECONDS="1",
    )
    for episode in range(1, 4):
        scene.service.route("GET", "/health", Reply.json({"error": "down"}, 503))
        wait_until(
            f"failed action {episode}",
            lambda n=episode: (
                sum(p.status is ProposalStatus.FAILED for p in scene.proposals()) == n
            ),
            30,
        )
        scene.service.route("GET", "/health", Reply.json({"ok": True}))
        seen = len(scene.service.received("/health"))
        wait_until(  # two passing checks end the episode (however loaded the machine is)
            "the service healthy again",
            lambda seen=seen: len(scene.service.received("/health")) >= seen + 2,
            30,
        )
    breaker = wait_until(
        "the breaker notice",
        lambda: [
            c for c in scene.slack.received("chat.postMessage") if "Breaker open on svc-1" in c.text
        ],
        20,
    )
    assert "@mendbot resume svc-1" in breaker[0].text
    scene.service.route("GET", "/health", Reply.json({"error": "down"}, 503))
    fourth = wait_until(
        "the fourth episode's proposal",
        lambda: [p for p in scene.proposals() if p.status is ProposalStatus.PROPOSED],
        30,
    )[0]
    refusal = wait_until(
        "not acted on",
        lambda: [t for t in scene.thread_texts(fourth) if "Not acted on" in t],
        20,
    )
    assert "breaker on svc-1 is open" in refusal[0]
    assert all(name == "deploymentRestart" for name, _ in scene.railway.actions)
    stop(bot)
