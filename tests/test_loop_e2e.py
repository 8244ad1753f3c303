"""End to end, after the push: ``mendbot run`` follows a fix to production and closes the loop.

Each scene runs the real process against the fake Railway (every query checked against
the published schema: ``deploymentLogs`` for the logs, ``deployments`` for the deploy of
the pushed commit), the fake Slack and OpenAI servers, a SQLite file and a git checkout
with a bare remote. The story starts as in ``test_run_e2e``: a KeyError incident is
proposed with an LM fix, an approver says implement, the fix is pushed. Then Railway
deploys the pushed commit (``dep-fix``), and:

- the error is gone for the window: ``verified``; later a person reverts it from a
  terminal (``mendbot fixes revert``);
- it is still there: ``regressed``, and an approver presses Revert;
- the deploy fails, with ``MENDBOT_AUTO_REVERT=deploy_failed``: reverted by mendbot, once;
- the process is killed in the middle of the window and restarted: the window resumes
  where it was and ends ``regressed`` with both halves counted; ``@mendbot revert``.

Log time is the records' own: the window closes when a line stamped past its end is read.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.slack.commands import REVERT_ACTION
from core.proposals import FixProposal, ProposalStatus
from tests.fakes.git import git
from tests.fakes.openai import FakeOpenAI
from tests.fakes.railway import FakeRailway
from tests.fakes.slack import FakeSlack, SlackSender, block_actions_payload, mention_envelope
from tests.test_run_e2e import (
    ALICE,
    Bot,
    Scene,
    lm_answer,
    stop,
    uvicorn_key_error,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

WINDOW_SECONDS = 6
HEALTH = 'INFO:     10.0.0.7:40000 - "GET /health HTTP/1.1" 200 OK'


class LoopScene(Scene):
    """The ``test_run_e2e`` scene with a short verify window and a one-second cycle."""

    extra: dict[str, str]
    window_seconds: float = WINDOW_SECONDS
    live_at: datetime | None = None

    def environment(self) -> dict[str, str]:
        return {
            **super().environment(),
            "MONITOR_INTERVAL_SECONDS": "1",
            "MENDBOT_VERIFY_WINDOW_SECONDS": str(self.window_seconds),
            **self.extra,
        }

    def proposal(self, proposal_id: str) -> FixProposal:
        return next(p for p in self.proposals() if p.id == proposal_id)

    def wait_status(self, proposal_id: str, status: ProposalStatus, timeout: float = 30) -> Any:
        return wait_until(
            f"{proposal_id} {status.value}",
            lambda: self.proposal(proposal_id).status is status and self.proposal(proposal_id),
            timeout,
        )

    def thread_texts(self, proposal: FixProposal) -> list[str]:
        channel, ts = (proposal.thread_ref or ":").split(":")
        return [c.text for c in self.slack.thread(channel, ts)]

    def wait_thread(self, proposal: FixProposal, fragment: str, timeout: float = 30) -> str:
        return wait_until(
            f"{fragment!r} in the thread",
            lambda: next((t for t in self.thread_texts(proposal) if fragment in t), None),
            timeout,
        )

    def log(self, deployment: str, lines: list[str], at: datetime | None = None) -> None:
        """Lines logged by a deployment, stamped just before now (or at ``at``); never
        before the fix's deploy went live (a line stamped then is the old code's)."""
        if self.live_at is not None:
            floor = self.live_at + timedelta(seconds=0.5)
            wait_until("log time past live-at", lambda: datetime.now(UTC) > floor, 5)
        self.railway.add_logs(
            deployment,
            lines,
            severity="error" if any("Error" in x for x in lines) else "info",
            step=timedelta(microseconds=1),
            at=at or datetime.now(UTC) - timedelta(milliseconds=300),
        )

    def close_window(self, live_at: datetime) -> None:
        """Move log time past the window: a line stamped after its end, once it is due."""
        end = live_at + timedelta(seconds=self.window_seconds + 0.5)
        wait_until("the window's end", lambda: datetime.now(UTC) > end, self.window_seconds + 30)
        self.log("dep-fix", [HEALTH], at=end)

    def fix_pushed(self, bot: Bot) -> FixProposal:
        """The incident, its proposal, an approver's implement: the fix on the remote."""
        incident = [line for n in range(4) for line in uvicorn_key_error(f"ghost{n}")]
        self.log("dep-1", incident)
        proposal = wait_until(
            "the KeyError proposal",
            lambda: next(
                (p for p in self.proposals() if p.anomaly.exception_type == "KeyError"), None
            ),
            30,
        )
        before = self.repo.remote_head()
        sender = SlackSender(f"http://127.0.0.1:{bot.port}/slack/events")
        sender.event(mention_envelope(f"implement {proposal.id}", user=ALICE))
        sender.close()
        wait_until("the fix on the remote", lambda: self.repo.remote_head() != before, 30)
        return self.wait_status(proposal.id, ProposalStatus.APPLIED)

    def deploy(self, fix: FixProposal, status: str = "SUCCESS") -> datetime:
        """Railway deploys the pushed commit; returns its live-at (``statusUpdatedAt``)."""
        live_at = datetime.now(UTC)
        self.railway.deploy("dep-fix", commit=fix.commit_sha, status=status, status_at=live_at)
        self.live_at = live_at
        return live_at


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[LoopScene]:
    with FakeRailway() as railway, FakeSlack() as slack, FakeOpenAI() as llm:
        llm.respond_with(lm_answer)
        railway.deploy("dep-1", created_at=datetime.now(UTC) - timedelta(days=1))
        railway.add_logs(
            "dep-1",
            [HEALTH] * 5,
            at=datetime.now(UTC) - timedelta(minutes=2),
            step=timedelta(seconds=5),
        )
        loop = LoopScene(tmp_path, railway, slack, llm)
        loop.extra = {}
        yield loop
        assert railway.invalid == [], "mendbot sent a query Railway's schema rejects"


def _killed(bot: Bot) -> None:
    if bot.process.poll() is None:
        bot.process.kill()
        bot.process.wait(timeout=30)


def test_a_fix_verified_then_reverted_from_a_terminal(scene: LoopScene) -> None:
    bot = scene.start()
    try:
        fix = scene.fix_pushed(bot)
        sha = fix.commit_sha or ""
        scene.wait_thread(fix, "Applied and pushed")
        live_at = scene.deploy(fix)
        scene.wait_thread(fix, f"Deploy `{sha[:12]}` is live (deployment `dep-fix`)")
        scene.log("dep-fix", [HEALTH] * 3)
        scene.close_window(live_at)

        scene.wait_status(fix.id, ProposalStatus.VERIFIED)
        verified = scene.wait_thread(fix, "verified: 0 occurrences")
        assert verified.startswith(
            f":white_check_mark: verified: 0 occurrences in {WINDOW_SECONDS:.0f} s after deploy "
            f"`{sha[:12]}` went live (4 before the fix)"
        )
        queried = scene.railway.queries("deployments")[0]["input"]
        assert queried == {"serviceId": "svc-1", "environmentId": "env-1"}

        # A person reverts the verified fix from a terminal while the bot runs.
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli.main", "fixes", "revert", fix.id, "--as", "ops"],
            cwd=scene.tmp_path,
            env=scene.environment(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert f"{fix.id} reverted: commit {scene.repo.remote_head()} pushed" in done.stdout
        assert "Approved-by: cli:ops" in scene.repo.remote_message()
        assert scene.proposal(fix.id).status is ProposalStatus.REVERTED
        assert stop(bot) == 0
    finally:
        _killed(bot)
    assert "Traceback" not in bot.output(), bot.output()


def test_a_fix_regressed_then_reverted_with_the_button(scene: LoopScene) -> None:
    bot = scene.start()
    try:
        fix = scene.fix_pushed(bot)
        live_at = scene.deploy(fix)
        scene.wait_thread(fix, "is live")
        scene.log("dep-fix", uvicorn_key_error("ghost9") * 2)  # still failing, new code
        scene.close_window(live_at)

        scene.wait_status(fix.id, ProposalStatus.REGRESSED)
        regressed = scene.wait_thread(fix, "regressed: still 2 occurrence(s)")
        assert "(4 before the fix)" in regressed
        channel, ts = (fix.thread_ref or ":").split(":")
        assert REVERT_ACTION in str(scene.slack.message(channel, ts)["blocks"])
        assert len(scene.top_level_posts()) == 1  # not proposed again meanwhile

        fix_head = scene.repo.remote_head()
        sender = SlackSender(f"http://127.0.0.1:{bot.port}/slack/events")
        sender.action(
            block_actions_payload(REVERT_ACTION, fix.id, user=ALICE, channel=channel, message_ts=ts)
        )
        sender.close()
        scene.wait_status(fix.id, ProposalStatus.REVERTED)
        scene.wait_thread(fix, f"Reverted by <@{ALICE}>")
        assert git(scene.repo.bare, "rev-parse", "main^") == fix_head
        assert f"Reverts-Fix-Id: {fix.id}" in scene.repo.remote_message()
        assert 'STATS["users"][body["user_id"]]' in git(scene.repo.bare, "show", "main:app.py")
        assert "not in STATS" not in git(scene.repo.bare, "show", "main:app.py")
        assert stop(bot) == 0
    finally:
        _killed(bot)
    assert "Traceback" not in bot.output(), bot.output()


def test_a_failed_deploy_is_reverted_automatically_once(scene: LoopScene) -> None:
    scene.extra = {"MENDBOT_AUTO_REVERT": "deploy_failed"}
    bot = scene.start()
    try:
        fix = scene.fix_pushed(bot)
        fix_head = scene.repo.remote_head()
        scene.deploy(fix, status="FAILED")

        scene.wait_status(fix.id, ProposalStatus.REVERTED)
        failed = scene.wait_thread(fix, "The deploy of")
        assert "failed (deployment `dep-fix`)" in failed
        reverted = scene.wait_thread(fix, "Reverted automatically")
        assert "MENDBOT_AUTO_REVERT=deploy_failed" in reverted
        assert "Approved-by: mendbot" in scene.repo.remote_message()
        bot.wait_cycles(3)
        assert git(scene.repo.bare, "rev-list", "--count", f"{fix_head}..main") == "1"
        assert sum("Reverted" in t for t in scene.thread_texts(fix)) == 1
        assert stop(bot) == 0
    finally:
        _killed(bot)
    assert "Traceback" not in bot.output(), bot.output()


def test_a_restart_in_the_middle_of_the_window_resumes_it(scene: LoopScene) -> None:
    scene.window_seconds = 20  # room for a kill and a start inside it
    bot = scene.start()
    try:
        fix = scene.fix_pushed(bot)
        live_at = scene.deploy(fix)
        scene.wait_thread(fix, "is live")
        scene.log("dep-fix", uvicorn_key_error("ghost7"))
        wait_until(
            "the first occurrence counted",
            lambda: '"count_after": 1' in _verification(scene, fix.id),
            15,
        )
    finally:
        _killed(bot)  # SIGKILL in the middle of the window
    assert datetime.now(UTC) < live_at + timedelta(seconds=scene.window_seconds)

    bot = scene.start()
    try:
        scene.log("dep-fix", uvicorn_key_error("ghost8"))
        scene.close_window(live_at)
        scene.wait_status(fix.id, ProposalStatus.REGRESSED)
        assert scene.wait_thread(fix, "regressed: still 2 occurrence(s)")
        assert sum("is live" in t for t in scene.thread_texts(fix)) == 1

        sender = SlackSender(f"http://127.0.0.1:{bot.port}/slack/events")
        channel, ts = (fix.thread_ref or ":").split(":")
        sender.event(
            mention_envelope(f"revert {fix.id}", user=ALICE, channel=channel, thread_ts=ts)
        )
        sender.close()
        scene.wait_status(fix.id, ProposalStatus.REVERTED)
        assert f"Approved-by: {ALICE}" in scene.repo.remote_message()
        assert stop(bot) == 0
    finally:
        _killed(bot)


def _verification(scene: LoopScene, proposal_id: str) -> str:
    """The stored verification's JSON body (what a restart resumes from)."""
    import json

    from fixes.persistence.db import Database
    from fixes.persistence.verifications import VerificationStore

    db = Database(scene.db_url)
    try:
        found = VerificationStore(db).get(proposal_id)
        return json.dumps(found.model_dump(mode="json")) if found else ""
    finally:
        db.dispose()
