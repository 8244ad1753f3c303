"""End to end, as a user runs it: ``mendbot run`` as a real process against fake Railway, Slack
and OpenAI servers, a SQLite file and a git checkout with a bare remote.

The story: the service logs normally; an incident (uvicorn KeyError tracebacks and MCP
errors) is appended to its Railway logs; within two cycles both are posted to Slack; an
approver's signed mention ``implement fix_ID`` gets the fix pushed to the bare remote;
later cycles post nothing again; the process is killed (SIGKILL) and restarted: nothing is
posted twice, no proposal is lost, and further MCP errors are counted in the open
proposal's thread. Idle RSS between cycles is measured after the LM diagnosis.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.proposals import FixProposal, ProposalStatus
from fixes.persistence.db import Database
from fixes.persistence.store import ProposalStore
from settings import Settings
from tests.conftest import ROOT
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.openai import FakeOpenAI, chat_fields, is_fix_request
from tests.fakes.railway import FakeRailway
from tests.fakes.slack import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSender, mention_envelope

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ALICE = "U0ALICE"
INTERVAL_SECONDS = 2.0
RSS_LIMIT_KB = 150 * 1024
KEY_LINE = 'user = STATS["users"][body["user_id"]]'
ANALYSIS = chat_fields(
    root_cause="orders() looks up STATS['users'][user_id] for users that never registered.",
    severity_assessment="HIGH",
    affected_components=["app.py:orders"],
    confidence=0.9,
)


def uvicorn_key_error(user: str) -> list[str]:
    """One request's lines as uvicorn and Python print them (each a Railway log entry)."""
    return [
        'INFO:     10.0.0.7:40312 - "POST /orders HTTP/1.1" 500 Internal Server Error',
        "ERROR:    Exception in ASGI application",
        "Traceback (most recent call last):",
        '  File "/app/.venv/lib/python3.11/site-packages/fastapi/routing.py", line 381, '
        "in run_endpoint_function",
        "    return await dependant.call(**values)",
        '  File "/app/app.py", line 31, in orders',
        f"    {KEY_LINE}   # bug: unknown users raise KeyError",
        f"KeyError: '{user}'",
    ]


def mcp_failure(n: int) -> str:
    return (
        f"2026-11-21 18:25:{n:02d},101 - app.mcp - ERROR - MCP Tool failed: ConnectError "
        "(All connection attempts failed)"
    )


def lm_answer(body: dict[str, Any]) -> str:
    """The fake LM: a root cause, then a guard whose old text is copied from the prompt."""
    if not is_fix_request(body):
        return ANALYSIS
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    line = next((x for x in prompt.splitlines() if KEY_LINE in x), None)
    if line is None:
        return chat_fields(
            edits=[],
            reasoning="No safe change.",
            risk_assessment={"level": "MEDIUM", "notes": "none"},
            regression_test="",
        )
    guard = (
        '    if body["user_id"] not in STATS["users"]:\n'
        '        raise HTTPException(status_code=404, detail="unknown user")\n'
    )
    return chat_fields(
        edits=[{"path": "app.py", "old_text": line, "new_text": guard + line}],
        reasoning="Unknown users get a 404 instead of a crash.",
        risk_assessment={"level": "LOW", "notes": "Clients now get 404."},
        regression_test="",
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(what: str, check: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Bot:
    """The ``mendbot run`` process and how to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def health(self) -> dict[str, Any] | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return None

    def cycles(self) -> int:
        report = self.health()
        return int(report["monitor"]["cycles"]) if report else -1

    def wait_cycles(self, count: int, timeout: float = 30) -> int:
        start = self.cycles()
        return wait_until(
            f"{count} more cycles",
            lambda: self.cycles() >= start + count and self.cycles(),
            timeout,
        )

    def rss_kb(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(x for x in status.splitlines() if x.startswith("VmRSS:")).split()[1])

    def output(self) -> str:
        return self.log.read_text(errors="replace")


class Scene:
    """The fakes, the repository and the environment the bot runs in."""

    def __init__(
        self, tmp_path: Path, railway: FakeRailway, slack: FakeSlack, llm: FakeOpenAI
    ) -> None:
        self.tmp_path, self.railway, self.slack, self.llm = tmp_path, railway, slack, llm
        (tmp_path / "git").mkdir()
        self.repo: RepoPair = make_repo(tmp_path / "git", copy_from=ROOT / "examples" / "service")
        self.db_url = f"sqlite:///{tmp_path / 'mendbot.db'}"
        self.port = free_port()
        self.runs = 0

    def environment(self) -> dict[str, str]:
        keep = {
            k: v
            for k, v in os.environ.items()
            if k not in {str(f.validation_alias) for f in Settings.model_fields.values()}
        }
        return {
            **keep,
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": self.db_url,
            "PORT": str(self.port),
            "MONITOR_INTERVAL_SECONDS": str(INTERVAL_SECONDS),
            "RAILWAY_API_URL": self.railway.api_url,
            "RAILWAY_API_TOKEN": "team-token",
            "RAILWAY_ENVIRONMENT_ID": "env-1",
            "RAILWAY_SERVICE_ID": "svc-1",
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_CHANNEL": "#ops",
            "SLACK_API_URL": self.slack.api_url,
            "MENDBOT_SLACK_POSTS_PER_SECOND": "100",  # pacing is tested on its own
            "SLACK_APPROVERS": ALICE,
            "RAILWAY_SERVICE_NAME": "mendbot",
            "MENDBOT_LM": "openai/fake-model",
            "OPENAI_BASE_URL": self.llm.base_url,
            "OPENAI_API_KEY": "sk-test",
            "MENDBOT_LM_MAX_RETRIES": "0",
            "TARGET_REPO_PATH": str(self.repo.work),
            "VALIDATE_COMMAND": f"{sys.executable} -m py_compile app.py",
        }

    def start(self) -> Bot:
        self.runs += 1
        log = self.tmp_path / f"run-{self.runs}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli.main", "run"],
            cwd=self.tmp_path,
            env=self.environment(),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
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
        """Proposal messages: channel posts that are not thread replies or broadcasts."""
        return [
            c
            for c in self.slack.received("chat.postMessage")
            if c.ok and not c.args.get("thread_ts")
        ]


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[Scene]:
    with FakeRailway() as railway, FakeSlack() as slack, FakeOpenAI() as llm:
        llm.respond_with(lm_answer)
        railway.deploy("dep-1", created_at=datetime.now(UTC) - timedelta(days=1))
        railway.add_logs(
            "dep-1",
            ['INFO:     10.0.0.7:40000 - "GET /health HTTP/1.1" 200 OK'] * 5,
            at=datetime.now(UTC) - timedelta(minutes=2),
            step=timedelta(seconds=5),
        )
        yield Scene(tmp_path, railway, slack, llm)
        assert railway.invalid == [], "mendbot sent a query Railway's schema rejects"


def stop(bot: Bot, sig: int = signal.SIGTERM) -> int:
    bot.process.send_signal(sig)
    return bot.process.wait(timeout=30)


def test_mendbot_run_end_to_end(scene: Scene) -> None:
    bot = scene.start()
    try:
        banner = wait_until(
            "the start-up summary",
            lambda: "mendbot is running" in bot.output() and bot.output(),
            10,
        )
        assert "railway logs every 2 s (Railway service api, deployment dep-1" in banner
        assert ALICE in banner and "  warning:" not in banner
        bot.wait_cycles(1)
        assert scene.top_level_posts() == []  # normal traffic: nothing to say

        # An incident: KeyError tracebacks and MCP failures, logged line by line.
        before = bot.cycles()
        lines = [line for n in range(4) for line in uvicorn_key_error(f"ghost{n}")]
        lines += [mcp_failure(n) for n in range(5)]
        # Stamped just before the append, so any window read after it holds all of them.
        scene.railway.add_logs(
            "dep-1",
            lines,
            severity="error",
            step=timedelta(microseconds=1),
            at=datetime.now(UTC) - timedelta(milliseconds=500),
        )
        posts = wait_until(
            "two proposals in Slack",
            lambda: len(scene.top_level_posts()) >= 2 and scene.top_level_posts(),
            4 * INTERVAL_SECONDS + 20,
        )
        posting_cycle = int(
            wait_until(
                "the posting cycle's log line",
                lambda: re.search(
                    r"cycle (\d+): \d+ records, \d+ anomalies, 2 new proposals", bot.output()
                ),
                10,
            )[1]
        )
        # Cycle before+1 may have read before the append; cycle before+2 must have posted.
        assert posting_cycle - before <= 2, "posted within two cycles of the incident"
        proposals = {p.anomaly.exception_type or "mcp": p for p in scene.proposals()}
        key_error = proposals["KeyError"]
        assert key_error.diagnosis.source == "lm" and key_error.edits
        assert any(key_error.id in post.text for post in posts)
        assert len(scene.llm.requests) >= 2  # analysis and fix went to the LM

        # Idle between cycles, after a cycle with an LM diagnosis.
        bot.wait_cycles(1)
        rss_kb = bot.rss_kb()
        print(f"\nidle RSS of mendbot run after an LM diagnosis: {rss_kb / 1024:.1f} MB")
        (scene.tmp_path / "idle_rss_kb").write_text(str(rss_kb))
        assert rss_kb < RSS_LIMIT_KB

        # An approver says implement; the fix is validated, committed and pushed.
        remote_before = scene.repo.remote_head()
        sender = SlackSender(f"http://127.0.0.1:{bot.port}/slack/events")
        response = sender.event(mention_envelope(f"implement {key_error.id}", user=ALICE))
        sender.close()
        assert response.status_code == 200
        wait_until("the fix on the remote", lambda: scene.repo.remote_head() != remote_before, 30)
        assert "not in STATS" in git(scene.repo.bare, "show", "main:app.py")
        applied = wait_until(
            "applied",
            lambda: next(
                (
                    p
                    for p in scene.proposals()
                    if p.id == key_error.id and p.status is ProposalStatus.APPLIED
                ),
                None,
            ),
            10,
        )
        assert applied.commit_sha == scene.repo.remote_head()

        # Later cycles post nothing again.
        bot.wait_cycles(2)
        assert len(scene.top_level_posts()) == 2
    finally:
        if bot.process.poll() is None:
            bot.process.send_signal(signal.SIGKILL)  # a crash, not a clean stop
            bot.process.wait(timeout=30)
    assert bot.process.returncode == -signal.SIGKILL, bot.output()

    # Restarted after the kill: nothing twice, nothing lost, repeats counted in the thread.
    stored_before = {p.id: p.status for p in scene.proposals()}
    llm_calls = len(scene.llm.requests)
    bot = scene.start()
    try:
        bot.wait_cycles(2)
        assert len(scene.top_level_posts()) == 2
        assert {p.id: p.status for p in scene.proposals()} == stored_before
        assert len(scene.llm.requests) == llm_calls  # no record was analyzed again
        mcp = proposals["mcp"]
        scene.railway.add_logs(
            "dep-1",
            [mcp_failure(n) for n in range(10, 14)],
            severity="error",
            step=timedelta(microseconds=1),
            at=datetime.now(UTC) - timedelta(milliseconds=500),
        )
        wait_until(
            "seen again in the thread",
            lambda: next(
                (p for p in scene.proposals() if p.id == mcp.id and p.seen_again == 4), None
            ),
            4 * INTERVAL_SECONDS + 10,
        )
        assert len(scene.top_level_posts()) == 2
        channel, ts = mcp.thread_ref.split(":") if mcp.thread_ref else ("", "")
        assert any(
            "Seen again: 4 more time(s) (4 in all" in c.text
            for c in scene.slack.thread(channel, ts)
        )
        assert stop(bot) == 0
    finally:
        if bot.process.poll() is None:
            bot.process.kill()
            bot.process.wait(timeout=30)
    assert "mendbot stopped" in bot.output()
    assert "Traceback" not in bot.output(), bot.output()


def test_mendbot_run_without_a_source_or_slack_still_serves_health(tmp_path: Path) -> None:
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {str(f.validation_alias) for f in Settings.model_fields.values()}
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}",
        "PORT": str(port),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    }
    log = tmp_path / "run.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "run"],
        cwd=tmp_path,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    bot = Bot(process, port, log)
    try:
        report = wait_until("/health", bot.health, 30)
        assert report["ok"] is True and report["scheduler"] == "off"
        assert "monitoring:  off" in wait_until(
            "summary", lambda: "monitoring:" in bot.output() and bot.output(), 10
        )
        assert json.loads(json.dumps(report))["source"]["name"] == "none"
        assert stop(bot) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def test_start_up_warns_when_mendbot_watches_its_own_railway_service(make_settings) -> None:
    from bot.cli.run_command import _check_source
    from monitoring.sources import RailwaySource

    with FakeRailway(service_name="mendbot") as railway:
        railway.deploy("dep-self")
        source = RailwaySource(
            client=httpx.Client(),
            api_url=railway.api_url,
            environment_id="env-1",
            service_id="svc-1",
            api_token="team-token",
        )
        wrapped = type("Wrapped", (), {"source": source, "check": source.check})()
        warnings: list[str] = []
        elsewhere = make_settings(railway_service_name="api")
        assert "deployment dep-self" in _check_source(wrapped, elsewhere, warnings)
        assert warnings == []
        _check_source(wrapped, make_settings(railway_service_name="mendbot"), warnings)
        assert "watching its own Railway service (mendbot)" in warnings[0]
        refused: list[str] = []
        bad = RailwaySource(
            client=httpx.Client(),
            api_url=railway.api_url,
            environment_id="env-1",
            service_id="svc-1",
            api_token="nope",
        )
        wrapped_bad = type("Wrapped", (), {"source": bad, "check": bad.check})()
        assert _check_source(wrapped_bad, make_settings(), refused) == "not reachable yet"
        assert "RAILWAY_API_TOKEN" in refused[0]


def test_deployment_files_start_mendbot_run_and_check_health() -> None:
    from bot.http_server import HEALTH_PATH

    assert (ROOT / "Procfile").read_text().strip() == "web: mendbot run"
    deploy = json.loads((ROOT / "railway.json").read_text())["deploy"]
    assert deploy["startCommand"] == "mendbot run"
    assert deploy["healthcheckPath"] == HEALTH_PATH
    assert deploy["restartPolicyType"] == "ON_FAILURE"
    readme = (ROOT / "README.md").read_text()
    notes = readme[readme.index("## Deploying to Railway") :]
    for variable in (
        "RAILWAY_API_TOKEN",
        "RAILWAY_TOKEN",
        "RAILWAY_SERVICE_ID",
        "DATABASE_URL",
        "SLACK_APPROVERS",
        "TARGET_REPO_PATH",
        "/health",
    ):
        assert variable in notes
