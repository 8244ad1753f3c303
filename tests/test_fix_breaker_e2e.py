"""End to end, the fix breaker: ``mendbot run`` as a real process (fake Railway checked
against the schema, fake Slack and OpenAI servers, a SQLite file, a checkout with a bare
remote). The same KeyError incident is proposed and approved three times, and each fix
fails differently:

1. its validation fails: ``rolled_back``;
2. its deploy fails on Railway: ``regressed``;
3. its deploy fails again and an approver reverts it: ``reverted``.

The incident comes back: the breaker opens, the channel is told once, and no fourth
proposal is made however many cycles pass. A non-approver's ``resume fix proposals for``
is refused; an approver's closes it, and the next occurrence is proposed again, its
confidence calibrated by the three failures.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.proposals import FixProposal, ProposalStatus
from tests.fakes.openai import FakeOpenAI
from tests.fakes.railway import FakeRailway
from tests.fakes.slack import FakeSlack, SlackSender, mention_envelope
from tests.test_loop_e2e import HEALTH, LoopScene, _killed
from tests.test_run_e2e import ALICE, Bot, lm_answer, stop, uvicorn_key_error, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

MALLORY = "U0MALLORY"
NOTICE = "No more fix proposals for"


class BreakerScene(LoopScene):
    """The loop scene with a validation that fails while a marker file exists."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)  # type: ignore[arg-type]
        self.marker = self.tmp_path / "fail-validation"
        check = f"{sys.executable} -m py_compile app.py"
        self.extra = {"VALIDATE_COMMAND": f"test ! -e {self.marker} && {check}"}
        self.seen: set[str] = set()

    def keyerror_proposals(self) -> list[FixProposal]:
        return [p for p in self.proposals() if p.anomaly.exception_type == "KeyError"]

    def incident(self, n: int) -> None:
        self.log("dep-1", [x for k in range(4) for x in uvicorn_key_error(f"ghost{n}{k}")])

    def new_proposal(self, n: int) -> FixProposal:
        """The incident again; returns the proposal it makes."""
        self.incident(n)
        found = wait_until(
            f"proposal {n}",
            lambda: next((p for p in self.keyerror_proposals() if p.id not in self.seen), None),
            30,
        )
        self.seen.add(found.id)
        return found

    def say(self, bot: Bot, text: str, user: str = ALICE) -> None:
        sender = SlackSender(f"http://127.0.0.1:{bot.port}/slack/events")
        sender.event(mention_envelope(text, user=user))
        sender.close()

    def failed_deploy(self, fix: FixProposal, n: int) -> FixProposal:
        applied = self.wait_status(fix.id, ProposalStatus.APPLIED)
        self.railway.deploy(
            f"dep-fix{n}", commit=applied.commit_sha, status="FAILED", status_at=datetime.now(UTC)
        )
        return self.wait_status(fix.id, ProposalStatus.REGRESSED)

    def notices(self) -> list[str]:
        return [c.text for c in self.slack.received("chat.postMessage") if NOTICE in c.text]


@pytest.fixture
def scene(tmp_path: Path) -> Iterator[BreakerScene]:
    with FakeRailway() as railway, FakeSlack() as slack, FakeOpenAI() as llm:
        llm.respond_with(lm_answer)
        railway.deploy("dep-1", created_at=datetime.now(UTC) - timedelta(days=1))
        railway.add_logs("dep-1", [HEALTH] * 5, at=datetime.now(UTC) - timedelta(minutes=2))
        yield BreakerScene(tmp_path, railway, slack, llm)
        assert railway.invalid == [], "mendbot sent a query Railway's schema rejects"


def test_three_failed_fixes_open_the_breaker_until_a_person_resumes(scene: BreakerScene) -> None:
    bot = scene.start()
    try:
        scene.marker.touch()
        first = scene.new_proposal(1)
        scene.say(bot, f"implement {first.id}")
        scene.wait_status(first.id, ProposalStatus.ROLLED_BACK)
        scene.marker.unlink()

        second = scene.new_proposal(2)
        scene.say(bot, f"implement {second.id}")
        scene.failed_deploy(second, 2)

        third = scene.new_proposal(3)
        scene.say(bot, f"implement {third.id}")
        scene.failed_deploy(third, 3)
        scene.say(bot, f"revert {third.id}")
        scene.wait_status(third.id, ProposalStatus.REVERTED)
        fingerprints = {p.fingerprint for p in scene.keyerror_proposals()}
        assert len(fingerprints) == 1
        [fingerprint] = fingerprints
        assert scene.notices() == []

        scene.incident(4)
        notice = wait_until("the breaker's notice", lambda: scene.notices(), 30)[0]
        assert f"`{fingerprint}`" in notice and "3 fixes failed" in notice
        assert f"{first.id} rolled back" in notice and f"{second.id} regressed" in notice
        assert f"{third.id} reverted" in notice
        scene.incident(5)
        bot.wait_cycles(3)
        assert len(scene.notices()) == 1  # told once
        assert len(scene.keyerror_proposals()) == 3  # no fourth proposal

        scene.say(bot, f"resume fix proposals for {fingerprint}", user=MALLORY)
        scene.slack.wait_for("chat.postEphemeral", where=lambda c: "Only approvers" in c.text)
        scene.say(bot, f"resume fix proposals for {fingerprint}")
        scene.slack.wait_for("chat.postMessage", where=lambda c: "closed the fix breaker" in c.text)

        fourth = scene.new_proposal(6)
        assert fourth.track_record is not None
        assert fourth.track_record.sentence() == "fixes of this kind: 0 of 3 verified"
        posted = scene.slack.wait_for(
            "chat.postMessage", where=lambda c: fourth.id in c.text and not c.args.get("thread_ts")
        )
        assert "fixes of this kind: 0 of 3 verified" in str(posted[0].args["blocks"])
        assert len(scene.notices()) == 1
        assert stop(bot) == 0
    finally:
        _killed(bot)
    assert "Traceback" not in bot.output(), bot.output()
