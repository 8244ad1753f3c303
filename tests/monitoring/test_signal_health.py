"""Health checks against real HTTP servers on 127.0.0.1: down, erroring, slow, resource
pressure, recovery, and a restart in the middle of an incident."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.state import InMemoryState
from monitoring.signals.health import HealthWatch, check, figures_in
from tests.fakes.server import FakeServer, Reply

T0 = datetime(2026, 11, 21, 2, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def service():
    with FakeServer() as server:
        server.route("GET", "/health", Reply.json({"ok": True, "memory_percent": 41.0}))
        yield server


def rounds(watch: HealthWatch, client: httpx.Client, url: str, n: int, start: datetime = T0):
    out = []
    for i in range(n):
        out.append(watch.observe(check(client, url), now=start + timedelta(seconds=10 * i)))
    return out


def test_a_healthy_service_gives_nothing(service: FakeServer) -> None:
    watch = HealthWatch(state=InMemoryState())
    with httpx.Client(timeout=2) as client:
        reading = check(client, service.url + "/health")
        assert (reading.status, reading.figures) == (200, {"memory": 41.0})
        assert watch.observe(reading, now=T0) == []


def test_down_fires_after_two_checks_repeats_and_clears(service: FakeServer) -> None:
    state = InMemoryState()
    watch = HealthWatch(state=state, failures_to_fire=2)
    url = service.url + "/health"
    service.route("GET", "/health", Reply.json({"error": "db gone"}, 503))
    with httpx.Client(timeout=2) as client:
        first, second, third = rounds(watch, client, url, 3)
        assert first == []  # one blip is not an incident
        [fired] = second
        assert fired.state == "firing" and fired.anomaly.kind == "service_down"
        assert fired.anomaly.details["reason"] == "HTTP 503"
        assert third[0].once_key == fired.once_key  # the same episode: a repeat
        assert watch.failing([url])
        # mendbot restarts here: the incident is neither forgotten nor new.
        restarted = HealthWatch(state=state, failures_to_fire=2)
        service.route("GET", "/health", Reply.json({"ok": True}))
        [cleared] = restarted.observe(check(client, url), now=T0 + timedelta(seconds=40))
        assert (
            cleared.state == "clearing" and cleared.anomaly.fingerprint == fired.anomaly.fingerprint
        )
        assert not restarted.failing([url])


def test_nothing_listening_is_down() -> None:
    url = f"http://127.0.0.1:{free_port()}/health"
    watch = HealthWatch(state=InMemoryState(), failures_to_fire=1)
    with httpx.Client(timeout=1) as client:
        [fired] = watch.observe(check(client, url), now=T0)
    assert (
        fired.anomaly.kind == "service_down" and "ConnectError" in fired.anomaly.details["reason"]
    )


def test_slow_answers_are_down_too(service: FakeServer) -> None:
    service.route("GET", "/health", Reply(200, b"{}", {}, delay_seconds=0.4))
    watch = HealthWatch(state=InMemoryState(), slow_seconds=0.2, failures_to_fire=1)
    with httpx.Client(timeout=2) as client:
        [fired] = watch.observe(check(client, service.url + "/health"), now=T0)
    assert fired.anomaly.details["reason"] == "slow" and fired.anomaly.details["seconds"] >= 0.4


def test_resource_figures_over_thresholds_are_resource_pressure(service: FakeServer) -> None:
    service.route(
        "GET", "/health", Reply.json({"ok": True, "memory": {"percent": 91.5}, "disk_percent": 86})
    )
    watch = HealthWatch(state=InMemoryState(), failures_to_fire=1)
    with httpx.Client(timeout=2) as client:
        signals = watch.observe(check(client, service.url + "/health"), now=T0)
    pressures = {s.anomaly.details["resource"]: s.anomaly for s in signals}
    assert set(pressures) == {"memory", "disk"}
    assert pressures["memory"].kind == "resource_pressure"
    assert pressures["memory"].fingerprint != pressures["disk"].fingerprint
    assert pressures["disk"].details["percent"] == 86


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[91]",
        json.dumps({"memory_percent": True}).encode(),
        json.dumps({"memory_percent": "95"}).encode(),
        json.dumps({"memory_percent": 950}).encode(),
        json.dumps({"memory_percent": -1}).encode(),
        b'{"memory_percent": 9' + b"9" * 100_000 + b"}",
    ],
)
def test_odd_health_bodies_give_no_figures(body: bytes) -> None:
    assert figures_in(body) == {}
