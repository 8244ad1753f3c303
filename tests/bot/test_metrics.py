"""``GET /metrics``: mendbot's own health in Prometheus' text format, fed by the real parts
(a monitoring cycle, an alert delivery, an action, a Slack post), and scraped by a real
Prometheus."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.http_server import serve_http
from bot.slack.config import configured_notifier
from core.metrics import Metrics
from monitoring.parsing.parser import parse_lines
from monitoring.runtime import build_monitor, build_operations, build_runtime
from monitoring.sources import CursoredSource, StaticSource
from tests.fakes.prometheus_stack import Prometheus
from tests.fakes.railway import FakeRailway
from tests.fakes.slack import BOT_TOKEN, FakeSlack

TOKEN = "tok"


def samples(text: str) -> dict[tuple[str, tuple], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def alert(status: str) -> bytes:
    return json.dumps(
        {
            "version": "4",
            "status": status,
            "groupKey": "g",
            "alerts": [
                {
                    "status": status,
                    "labels": {"alertname": "InstanceDown"},
                    "startsAt": "2026-11-21T02:33:00Z",
                    "fingerprint": "abcdef0123456789",
                }
            ],
        }
    ).encode()


def test_two_metrics_registries_do_not_mix() -> None:
    a, b = Metrics(), Metrics()
    a.slack_call("chat.postMessage", ok=False)
    assert b"chat.postMessage" not in b.render()[0]
    assert (
        b'mendbot_slack_calls_total{method="chat.postMessage",outcome="failed"} 1.0'
        in a.render()[0]
    )


@pytest.fixture
def world(make_settings):
    with FakeSlack() as slack, FakeRailway() as railway:
        railway.deploy("dep-1", created_at=datetime.now(UTC) - timedelta(hours=1))
        settings = make_settings(
            alert_token=TOKEN,
            slack_bot_token=BOT_TOKEN,
            slack_channel="#ops",
            slack_api_url=slack.api_url,
            railway_api_url=railway.api_url,
            railway_api_token="team-token",
            railway_environment_id="env-1",
            railway_service_id="svc-1",
        )
        metrics = Metrics()
        runtime = build_runtime(
            settings, notifier=configured_notifier(settings, metrics=metrics), metrics=metrics
        )
        monitor = build_monitor(runtime)
        operations = build_operations(runtime, monitor.pipeline)
        server = serve_http(
            port=0,
            host="127.0.0.1",
            slack=None,
            health=monitor.health,
            alerts=operations,
            metrics=metrics.render,
        ).start()
        yield runtime, monitor, operations, server
        server.stop()
        operations.stop()
        runtime.close()


def test_metrics_count_cycles_records_anomalies_proposals_actions_and_slack(world) -> None:
    runtime, monitor, _operations, server = world
    lines = ["2026-11-21 02:33:00,000 - app - ERROR - boom id=1"] * 4
    source = StaticSource(records=list(parse_lines(lines)))
    monitor.source = CursoredSource(source, state=runtime.state)
    monitor.run_cycle()
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert (
        httpx.post(
            server.url + "/webhook/alerts", content=alert("firing"), headers=auth
        ).status_code
        == 200
    )
    [proposal] = [p for p in runtime.store.list() if p.anomaly.kind == "alert"]
    runtime.decisions.implement(proposal.id, actor="U0ALICE")
    httpx.post(server.url + "/webhook/alerts", content=alert("resolved"), headers=auth)
    response = httpx.get(server.url + "/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert found[("mendbot_cycles_total", (("outcome", "ok"),))] == 1
    assert found[("mendbot_records_read_total", ())] == 4
    assert found[("mendbot_anomalies_total", (("kind", "alert"),))] == 1
    assert found[("mendbot_signals_total", (("source", "alert"), ("state", "clearing")))] == 1
    assert found[("mendbot_proposals", (("status", "applied"),))] == 1
    assert found[("mendbot_actions_total", (("kind", "restart"), ("result", "cleared")))] == 1
    assert (
        found[("mendbot_slack_calls_total", (("method", "chat.postMessage"), ("outcome", "ok")))]
        >= 2
    )
    assert found[("mendbot_cycle_duration_seconds_count", ())] == 1


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_metrics_are_scraped_by_a_real_prometheus(world, tmp_path) -> None:
    _runtime, _monitor, _operations, server = world
    target = server.url.removeprefix("http://")
    with Prometheus.running(tmp_path, targets={"mendbot": target}) as prometheus:
        [up] = prometheus.wait_for('up{job="mendbot"} == 1')
        assert up["metric"]["instance"] == target
        [records] = prometheus.wait_for('mendbot_records_read_total{job="mendbot"}')
        assert float(records["value"][1]) == 0
        assert prometheus.wait_for('mendbot_cycle_duration_seconds_count{job="mendbot"}')
        [target_state] = [t for t in prometheus.targets() if t["labels"]["job"] == "mendbot"]
        assert target_state["health"] == "up" and target_state["lastError"] == ""


def test_lm_requests_tokens_and_latency_are_counted(make_settings) -> None:
    from monitoring.runtime import build_diagnoser
    from tests.fakes.anomalies import keyerror
    from tests.fakes.openai import FakeOpenAI
    from tests.test_run_e2e import lm_answer

    metrics = Metrics()
    with FakeOpenAI() as llm:
        llm.respond_with(lm_answer)
        settings = make_settings(
            lm="openai/fake-model",
            openai_base_url=llm.base_url,
            openai_api_key="sk-test",
            lm_max_retries=0,
        )
        [proposal] = build_diagnoser(settings, metrics=metrics).propose([keyerror()])
        sent = len(llm.requests)
    assert proposal.diagnosis.source == "lm"
    found = samples(metrics.render()[0].decode())
    assert found[("mendbot_lm_requests_total", (("outcome", "ok"),))] == sent >= 1
    assert found[("mendbot_lm_tokens_total", (("direction", "input"),))] > 100
    assert found[("mendbot_lm_tokens_total", (("direction", "output"),))] > 0
    assert found[("mendbot_lm_request_duration_seconds_count", ())] == sent
