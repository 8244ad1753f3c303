"""Test support: the real Prometheus and Alertmanager that Debian packages, started on free
ports with a temporary configuration and data directory.

``.ci/run`` installs them (``apt-get install prometheus prometheus-alertmanager``); where
they are missing the tests that need them skip, saying why. Nothing here is a fake: the
binaries speak their own protocols (Alertmanager's v2 API and webhook, Prometheus'
scraping and HTTP API).

Usage::

    with Alertmanager.running(tmp_path, webhook_url=..., token="t") as am:
        am.post_alerts([{"labels": {"alertname": "X"}, ...}])
    with Prometheus.running(tmp_path, targets={"app": "127.0.0.1:8000"}) as prom:
        prom.query("up")
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")
PROMETHEUS_BINARIES = ("prometheus",)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def binary(names: tuple[str, ...], package: str) -> str:
    """The first of ``names`` on PATH; skips the test (with the reason) when none is."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"{names[0]} is not installed (apt-get install {package}; .ci/run does)")


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"{url} exited at start:\n{log.read_text(errors='replace')[-3000:]}"
            )
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(
        f"{url} not ready after {timeout}s:\n{log.read_text(errors='replace')[-3000:]}"
    )


@contextmanager
def _process(args: list[str], ready_url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(process, ready_url, log)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


class Alertmanager:
    """A running Alertmanager: ``url`` and its v2 API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=5)

    @classmethod
    @contextmanager
    def running(
        cls,
        workdir: Path,
        *,
        webhook_url: str,
        token: str,
        group_wait: str = "1s",
        group_interval: str = "2s",
        repeat_interval: str = "4s",
    ) -> Iterator[Alertmanager]:
        """Alertmanager with one route to ``webhook_url`` (``Authorization: Bearer token``),
        no clustering and no inhibition rules."""
        exe = binary(ALERTMANAGER_BINARIES, "prometheus-alertmanager")
        home = workdir / "alertmanager"
        (home / "data").mkdir(parents=True)
        config = home / "alertmanager.yml"
        config.write_text(
            "route:\n"
            "  receiver: mendbot\n"
            "  group_by: ['alertname']\n"
            f"  group_wait: {group_wait}\n"
            f"  group_interval: {group_interval}\n"
            f"  repeat_interval: {repeat_interval}\n"
            "receivers:\n"
            "  - name: mendbot\n"
            "    webhook_configs:\n"
            f"      - url: '{webhook_url}'\n"
            "        send_resolved: true\n"
            "        http_config:\n"
            "          authorization:\n"
            f"            credentials: '{token}'\n"
        )
        port = free_port()
        args = [
            exe,
            f"--config.file={config}",
            f"--storage.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        url = f"http://127.0.0.1:{port}"
        with _process(args, url + "/-/ready", home / "alertmanager.log"):
            manager = cls(url)
            yield manager
            manager.http.close()

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """``POST /api/v2/alerts`` (what Prometheus does when a rule fires or resolves)."""
        response = self.http.post(self.url + "/api/v2/alerts", json=alerts)
        assert response.status_code == 200, response.text

    def alerts(self) -> list[dict[str, Any]]:
        """``GET /api/v2/alerts``: the alerts Alertmanager holds."""
        return list(self.http.get(self.url + "/api/v2/alerts").json())


class Prometheus:
    """A running Prometheus: ``url`` and its HTTP API."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=5)

    @classmethod
    @contextmanager
    def running(
        cls, workdir: Path, *, targets: dict[str, str], scrape_interval: str = "1s"
    ) -> Iterator[Prometheus]:
        """Prometheus scraping ``targets`` (job name -> ``host:port``, path ``/metrics``)."""
        exe = binary(PROMETHEUS_BINARIES, "prometheus")
        home = workdir / "prometheus"
        (home / "data").mkdir(parents=True)
        config = home / "prometheus.yml"
        jobs = "".join(
            f"  - job_name: '{job}'\n    static_configs:\n      - targets: ['{target}']\n"
            for job, target in targets.items()
        )
        config.write_text(
            f"global:\n  scrape_interval: {scrape_interval}\n  evaluation_interval: 1s\n"
            f"scrape_configs:\n{jobs}"
        )
        port = free_port()
        args = [
            exe,
            f"--config.file={config}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        url = f"http://127.0.0.1:{port}"
        with _process(args, url + "/-/ready", home / "prometheus.log"):
            prometheus = cls(url)
            yield prometheus
            prometheus.http.close()

    def query(self, promql: str) -> list[dict[str, Any]]:
        """``GET /api/v1/query``: the instant vector's samples."""
        body = self.http.get(self.url + "/api/v1/query", params={"query": promql}).json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def targets(self) -> list[dict[str, Any]]:
        """``GET /api/v1/targets``: the active scrape targets and their health."""
        return list(self.http.get(self.url + "/api/v1/targets").json()["data"]["activeTargets"])

    def wait_for(self, promql: str, timeout: float = 30) -> list[dict[str, Any]]:
        """Poll ``promql`` until it returns samples."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.query(promql)
            if found:
                return found
            time.sleep(0.5)
        raise AssertionError(
            f"{promql} returned nothing within {timeout}s; targets: {self.targets()}"
        )
