"""One monitoring cycle: real parser, analyzer, offline diagnoser, store and in-memory notifier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.models import LogRecord
from core.notifier import InMemoryNotifier
from core.proposals import ProposalStatus
from fixes.persistence.db import Database
from fixes.persistence.state import StateStore
from fixes.persistence.store import ProposalStore
from monitoring.analysis.analyzer import LogAnalyzer
from monitoring.parsing.parser import parse_lines
from monitoring.pipeline import CyclePipeline
from monitoring.runtime import build_diagnoser
from monitoring.sources import CursoredSource, StaticSource
from tests.conftest import ROOT
from tests.fakes.git import make_repo

EXAMPLE_LOG = ROOT / "examples" / "asgi_service.log"
KEY_ERROR_BLOCK = [
    'INFO:     127.0.0.1:50000 - "GET /orders/ghost HTTP/1.1" 500 Internal Server Error',
    "ERROR:    Exception in ASGI application",
    "Traceback (most recent call last):",
    '  File "/app/app.py", line 31, in orders',
    "    return ORDERS[order_id]",
    "KeyError: 'ghost'",
]


def incident(at: datetime, times: int = 4) -> list[LogRecord]:
    """``times`` KeyError tracebacks from the orders handler, starting at ``at``."""
    records = list(parse_lines(KEY_ERROR_BLOCK * times))
    for i, record in enumerate(records):
        record.timestamp = at + timedelta(seconds=i)
    return records


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class World:
    """A database, an offline diagnoser over a real repository, a notifier, a pipeline."""

    def __init__(self, tmp_path: Path, database_url: str, make_settings) -> None:
        repo = make_repo(tmp_path / "repo", copy_from=ROOT / "examples" / "service")
        self.settings = make_settings(database_url=database_url, target_repo_path=repo.work)
        self.db = Database(database_url)
        self.store, self.state = ProposalStore(self.db), StateStore(self.db)
        self.notifier = InMemoryNotifier()
        self.clock = Clock(datetime.now(UTC))
        self.pipeline = self.make_pipeline()

    def make_pipeline(self, **options: object) -> CyclePipeline:
        options.setdefault("cooldown_seconds", 3600)
        return CyclePipeline(
            analyzer=LogAnalyzer(state=self.state),
            diagnoser=build_diagnoser(self.settings, state=self.state),
            store=self.store,
            notifier=self.notifier,
            clock=self.clock,
            **options,
        )


@pytest.fixture
def world(tmp_path, database_url, make_settings) -> World:
    (tmp_path / "repo").mkdir()
    return World(tmp_path, database_url, make_settings)


def test_the_example_log_gives_stored_posted_proposals(world) -> None:
    records = list(parse_lines(EXAMPLE_LOG.read_text().splitlines()))
    result = world.make_pipeline(max_posts_per_cycle=50).process(records)
    assert result.records == len(records)
    assert len(result.new_proposals) == len(result.anomalies) >= 5
    assert [p.fingerprint for p in result.new_proposals] == [
        a.fingerprint for a in result.anomalies
    ]
    for proposal in result.new_proposals:
        stored = world.store.get(proposal.id)
        assert stored.thread_ref == proposal.thread_ref and stored.thread_ref
    assert sorted(p.id for p in world.notifier.proposals) == sorted(
        p.id for p in result.new_proposals
    )
    assert result.held == [] and world.notifier.held == []
    key_error = next(p for p in result.new_proposals if p.anomaly.exception_type == "KeyError")
    assert key_error.edits, "the offline playbook proposes a guarded lookup"
    assert result.summary().startswith(f"{len(records)} records, ")


def test_an_open_proposal_is_not_posted_again_but_counted_in_its_thread(world) -> None:
    start = world.clock.now - timedelta(minutes=5)
    first = world.pipeline.process(incident(start))
    [proposal] = first.new_proposals
    second = world.pipeline.process(incident(start + timedelta(minutes=1), times=3))
    third = world.pipeline.process(incident(start + timedelta(minutes=2), times=5))
    assert second.new_proposals == [] and third.new_proposals == []
    assert [(p.id, n) for p, n in second.repeats] == [(proposal.id, 3)]
    assert len(world.notifier.proposals) == 1
    repeats = [e for pid, e in world.notifier.events if pid == proposal.id]
    assert [(e.kind, e.details) for e in repeats] == [
        ("seen_again", {"count": 3, "total": 3}),
        ("seen_again", {"count": 5, "total": 8}),
    ]
    assert world.store.get(proposal.id).seen_again == 8
    assert world.store.anomaly_totals(proposal.fingerprint)["total_count"] == 12


def test_a_rejection_suppresses_the_fingerprint_for_the_cooldown(world) -> None:
    start = world.clock.now - timedelta(minutes=5)
    [proposal] = world.pipeline.process(incident(start)).new_proposals
    world.store.transition(
        proposal.id,
        ProposalStatus.REJECTED,
        actor="U1",
        decided_by="U1",
        decided_at=world.clock.now,
    )
    world.clock.now += timedelta(minutes=30)
    later = world.pipeline.process(incident(world.clock.now))
    assert later.new_proposals == [] and [a.fingerprint for a in later.suppressed] == [
        proposal.fingerprint
    ]
    world.clock.now += timedelta(hours=1)
    after = world.pipeline.process(incident(world.clock.now))
    assert [p.fingerprint for p in after.new_proposals] == [proposal.fingerprint]
    assert after.new_proposals[0].id != proposal.id


def test_events_from_before_an_applied_fix_is_live_do_not_propose_again(world) -> None:
    start = world.clock.now - timedelta(minutes=5)
    [proposal] = world.pipeline.process(incident(start)).new_proposals
    for status in (ProposalStatus.APPROVED, ProposalStatus.APPLYING, ProposalStatus.APPLIED):
        world.store.transition(proposal.id, status, actor="U1")
    old_code = world.pipeline.process(incident(world.clock.now + timedelta(minutes=1)))
    assert old_code.new_proposals == [] and len(old_code.suppressed) == 1
    world.clock.now += timedelta(hours=1)
    still_failing = world.pipeline.process(incident(world.clock.now))
    assert len(still_failing.new_proposals) == 1


def test_a_failed_post_is_stored_and_posted_again_next_cycle(world) -> None:
    class Flaky(InMemoryNotifier):
        down = True

        def post_proposal(self, proposal):
            if self.down:
                raise ConnectionError("slack unreachable, token xoxb-1234567890-abcdefghij")
            return super().post_proposal(proposal)

    world.notifier = Flaky()
    pipeline = world.make_pipeline()
    result = pipeline.process(incident(world.clock.now))
    [proposal] = result.new_proposals
    assert proposal.thread_ref is None and "could not post" in result.notes[0]
    assert "xoxb-1234567890" not in result.notes[0]
    assert world.store.get(proposal.id).status is ProposalStatus.PROPOSED
    world.notifier.down = False
    quiet = pipeline.process([])
    assert [p.id for p in world.notifier.proposals] == [proposal.id]
    assert world.store.get(proposal.id).thread_ref == "memory:1"
    assert quiet.notes == [f"posted {proposal.id} after an earlier failure"]
    pipeline.process([])
    assert len(world.notifier.proposals) == 1


def test_without_diagnosis_nothing_is_stored_or_posted(world) -> None:
    result = world.make_pipeline(diagnose=False).process(incident(world.clock.now))
    assert len(result.anomalies) == 1
    assert result.new_proposals == [] and world.store.list() == []
    assert world.notifier.proposals == []


def test_run_once_moves_the_cursor_only_after_the_cycle_succeeded(world) -> None:
    static = StaticSource(records=incident(world.clock.now))
    source = CursoredSource(static, state=world.state)

    class Broken:
        def analyze(self, records):
            raise RuntimeError("analyzer bug")

    broken = world.make_pipeline()
    broken.analyzer = Broken()
    with pytest.raises(RuntimeError):
        broken.run_once(source)
    result = world.pipeline.run_once(source)
    assert result.records == 8 and len(result.new_proposals) == 1  # access line + crash, x4
    assert world.pipeline.run_once(source).records == 0


# --- the cap on posts per cycle -------------------------------------------------------------


class Fixed:
    """An analyzer that finds the given anomalies in any window."""

    def __init__(self, anomalies) -> None:
        self.anomalies = anomalies

    def analyze(self, records):
        list(records)
        return list(self.anomalies)


def _mixed_anomalies() -> list:
    from core.models import Severity
    from tests.fakes.anomalies import anomaly

    severities = [Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]
    return [
        anomaly(
            kind="new_error",
            fingerprint=f"fp{n:02d}",
            template=f"failure number {n}",
            severity=severities[n % 4],
            count=n + 1,
        )
        for n in range(12)
    ]


def test_at_most_the_cap_is_posted_most_severe_first_and_the_rest_held(world) -> None:
    pipeline = world.make_pipeline(max_posts_per_cycle=5)
    pipeline.analyzer = Fixed(_mixed_anomalies())
    result = pipeline.process([])

    assert len(result.new_proposals) == 12 and len(world.store.list(limit=100)) == 12
    posted = world.notifier.proposals
    ranks = [(p.anomaly.severity.value, p.anomaly.count) for p in posted]
    assert ranks == [("CRITICAL", 12), ("CRITICAL", 8), ("CRITICAL", 4), ("HIGH", 11), ("HIGH", 7)]
    assert [p.id for p in result.held] == world.notifier.held[0][0]
    assert world.notifier.held == [([p.id for p in result.held], 5)]
    assert len(result.held) == 7 and all(p.thread_ref is None for p in result.held)
    for proposal in result.held:
        stored = world.store.get(proposal.id)
        assert stored.status is ProposalStatus.PROPOSED and stored.thread_ref is None
        [held] = [e for e in world.store.audit_trail(proposal.id) if e.action == "held"]
        assert held.details == {"cap": 5, "new_this_cycle": 12}
    assert "12 new proposals, 7 held over the cap" in result.summary()


def test_held_proposals_are_counted_but_never_posted_later(world) -> None:
    pipeline = world.make_pipeline(max_posts_per_cycle=5)
    pipeline.analyzer = Fixed(_mixed_anomalies())
    first = pipeline.process([])
    again = pipeline.process([])  # the same twelve problems, still going on
    pipeline.process([])

    assert again.new_proposals == [] and len(again.repeats) == 12
    assert len(world.notifier.proposals) == 5 and len(world.notifier.held) == 1
    told_per_cycle = len(world.notifier.events) // 2
    print(
        f"\nrepeat cycles of 12 problems (5 posted, 7 held): {told_per_cycle} thread replies each"
    )
    told = {pid for pid, event in world.notifier.events if event.kind == "seen_again"}
    assert told == {p.id for p in first.new_proposals if p.thread_ref}
    assert all(world.store.get(p.id).seen_again == 2 * p.anomaly.count for p in first.held)


def test_a_failing_summary_loses_nothing(world) -> None:
    class NoSummary(InMemoryNotifier):
        def post_held(self, proposals, *, cap):
            raise ConnectionError("slack down")

    world.notifier = NoSummary()
    pipeline = world.make_pipeline(max_posts_per_cycle=2)
    pipeline.analyzer = Fixed(_mixed_anomalies())
    result = pipeline.process([])
    assert len(world.store.list(limit=100)) == 12 and len(result.held) == 10
    assert any("summary of held proposals" in note for note in result.notes)
