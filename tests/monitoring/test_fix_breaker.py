"""The fix breaker through real cycles: three failed fixes of one fingerprint (rolled back,
regressed, reverted) stop its proposals, the channel is told once (also after a restart),
and a person's resume or the cooldown lets them through again. Real parser, analyzer,
offline diagnoser, database (SQLite and PostgreSQL) and an in-memory notifier; the
notice's words go through the Slack notifier to a fake Slack with the injection corpus."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from slack_sdk import WebClient

from bot.slack.notifier import SlackNotifier
from bot.slack.outbox import SlackOutbox
from core.proposals import FixProposal, ProposalStatus
from monitoring.fix_history import BreakerState, FixHistory, breaker_notice
from monitoring.pipeline import CycleResult
from tests.bot.test_slack_injection import _run_corpus
from tests.fakes.slack import BOT_TOKEN, FakeSlack
from tests.monitoring.test_pipeline import World, incident

S = ProposalStatus
FAILING = {
    S.ROLLED_BACK: [S.APPROVED, S.APPLYING, S.ROLLED_BACK],
    S.REGRESSED: [S.APPROVED, S.APPLYING, S.APPLIED, S.REGRESSED],
    S.REVERTED: [S.APPROVED, S.APPLYING, S.APPLIED, S.VERIFIED, S.REVERTED],
}


class BreakerWorld(World):
    def history(self, cooldown_seconds: float = 3600.0) -> FixHistory:
        return FixHistory(
            store=self.store,
            state=self.state,
            failures=3,
            cooldown_seconds=cooldown_seconds,
            clock=self.clock,
        )

    def cycle(self, history: FixHistory) -> CycleResult:
        """The KeyError incident again, a minute of log time later."""
        self.clock.now += timedelta(minutes=1)
        pipeline = self.make_pipeline(history=history)
        return pipeline.process(incident(self.clock.now))

    def fail(self, proposal: FixProposal, outcome: ProposalStatus) -> None:
        for step in FAILING[outcome]:
            self.store.transition(proposal.id, step, actor="U0ALICE")


@pytest.fixture
def world(tmp_path, database_url, make_settings) -> BreakerWorld:
    (tmp_path / "repo").mkdir()
    return BreakerWorld(tmp_path, database_url, make_settings)


def three_failures(world: BreakerWorld, history: FixHistory) -> str:
    """Three proposals of the KeyError, each failed a different way; returns the fingerprint."""
    fingerprints = set()
    for outcome in (S.ROLLED_BACK, S.REGRESSED, S.REVERTED):
        [proposal] = world.cycle(history).new_proposals
        assert proposal.edits, "the playbook proposes the KeyError guard"
        fingerprints.add(proposal.fingerprint)
        world.fail(proposal, outcome)
    [fingerprint] = fingerprints
    return fingerprint


def test_three_failed_fixes_stop_proposals_until_a_person_resumes(world: BreakerWorld) -> None:
    history = world.history()
    fingerprint = three_failures(world, history)
    assert world.notifier.alerts == []

    held = world.cycle(history)
    assert held.new_proposals == [] and [a.fingerprint for a in held.suppressed] == [fingerprint]
    [notice] = world.notifier.alerts
    assert f"No more fix proposals for `{fingerprint}`" in notice
    assert "3 fixes failed" in notice and "rolled back" in notice and "reverted" in notice
    assert f"@mendbot resume fix proposals for {fingerprint}" in notice

    # Later cycles, and a restart (a new history over the same database), say nothing more.
    assert world.cycle(history).new_proposals == []
    assert world.cycle(world.history()).new_proposals == []
    assert len(world.notifier.alerts) == 1
    assert world.store.anomaly_totals(fingerprint)["total_count"] > 0  # still counted

    assert history.resume("0123456789abcdef", actor="U0ALICE") == "unknown"
    assert history.resume(fingerprint, actor="U0ALICE") == "resumed"
    assert history.resume(fingerprint, actor="U0ALICE") == "not_open"
    [proposal] = world.cycle(history).new_proposals
    assert proposal.fingerprint == fingerprint
    record = proposal.track_record
    assert record is not None and record.sentence() == "fixes of this kind: 0 of 3 verified"
    actions = [e.action for e in world.store.audit_trail() if e.action.startswith("fix_breaker")]
    assert actions == ["fix_breaker_opened", "fix_breaker_closed"]
    closed = next(e for e in world.store.audit_trail() if e.action == "fix_breaker_closed")
    assert (closed.actor, closed.details["why"]) == ("U0ALICE", "resumed")


def test_the_cooldown_closes_the_breaker_and_failures_count_afresh(world: BreakerWorld) -> None:
    history = world.history(cooldown_seconds=600)
    fingerprint = three_failures(world, history)
    assert world.cycle(history).new_proposals == []
    breaker = history.breaker(fingerprint)
    assert breaker.open and breaker.closes_at is not None

    world.clock.now = breaker.closes_at + timedelta(seconds=1)
    [again] = world.cycle(history).new_proposals
    assert not history.breaker(fingerprint).open
    closed = [e for e in world.store.audit_trail() if e.action == "fix_breaker_closed"]
    assert [(e.actor, e.details["why"]) for e in closed] == [("mendbot", "cooldown")]
    world.fail(again, S.ROLLED_BACK)  # one failure after the cooldown: not three
    assert len(world.cycle(history).new_proposals) == 1


def test_without_a_cooldown_only_a_person_closes_it(world: BreakerWorld) -> None:
    history = world.history(cooldown_seconds=0)
    fingerprint = three_failures(world, history)
    world.clock.now += timedelta(days=365)
    assert world.cycle(history).new_proposals == []
    breaker = history.breaker(fingerprint)
    assert breaker.open and breaker.closes_at is None
    assert "until then none is proposed" in world.notifier.alerts[0]
    assert [b.fingerprint for b in history.open_breakers()] == [fingerprint]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def test_the_notice_of_a_hostile_template_is_inert_in_slack(world, slack: FakeSlack) -> None:
    """The anomaly's template is log text: every corpus string as a template arrives in the
    channel as words, never as a broadcast, a mention, a link or a terminal escape."""
    from tests.fakes.proposals import make_proposal

    client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    notifier = SlackNotifier(
        client=client,
        channel="#ops",
        outbox=SlackOutbox(client=client, posts_per_second=10_000, burst=10_000),
    )
    anomaly = make_proposal().anomaly
    breaker = BreakerState("3f2a9c0d1e4b5a69", (), world.clock.now, None)

    def send(text: str) -> None:
        notifier.post_alert(breaker_notice(anomaly.model_copy(update={"template": text}), breaker))

    _run_corpus(slack, "fix breaker notice", send)
