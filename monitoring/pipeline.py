"""Monitoring cycle: records -> anomalies -> new proposals stored and posted, repeats counted.

One cycle's core, shared by the scheduled monitor and ``mendbot scan``. For each anomaly
the analyzer finds, in order:

1. its events are added to the fingerprint's running totals (``store.record_anomaly``);
2. an open proposal for the fingerprint (proposed, approved, applying) means it is not
   posted again: the proposal's ``seen_again`` grows and its thread gets a
   ``seen_again`` event (``details``: ``count`` this cycle, ``total``); a proposal that
   has no thread (held, or its posting failed) is only counted, never told in the channel;
3. a rejection within ``cooldown_seconds`` suppresses it, and so does a fix applied
   recently when every event predates ``applied + applied_grace_seconds`` (the fix is
   still deploying), and an open fix breaker (too many failed fixes for it; see
   :mod:`monitoring.fix_history`);
4. otherwise it is diagnosed and stored. Then at most ``max_posts_per_cycle``
   (``MENDBOT_MAX_PROPOSALS_PER_CYCLE``) of the new proposals are posted, most severe
   first (then most events), and the notifier's thread handle is stored with each; the
   rest are **held**: stored and open like the others (a person can ``show``, implement
   or reject them), audited ``held`` (``details``: ``cap``, ``new_this_cycle``), never
   posted one by one, and listed in one summary message (``Notifier.post_held``).

So a pathological log (thousands of distinct errors in one cycle) makes at most
``max_posts_per_cycle`` + 1 messages a cycle, and loses none of its proposals.

With a :class:`~monitoring.verification.Verifier` (the monitor's pipeline), pushed fixes
are followed too: before the records, deploys are checked and the records of a cycle pass
through the fixes' watches on their way to the analyzer; after them, the watches' counts
are stored and windows that are over are judged. An anomaly whose fingerprint is being
verified is not proposed again (its events are the verification's).

A proposal whose posting failed (Slack down) is stored all the same, audited
``notify_failed``, and posted again at the start of the next cycle.

Steps 1-4 are :meth:`CyclePipeline.take_in`, which the operational signals (alerts, health
checks: :mod:`monitoring.operations`) share with a different ``propose``. Before
diagnosis each new anomaly passes through the optional ``context`` (Prometheus' figures
around it), and the records of every cycle pass through the optional
:class:`RecentRecords`, so an alert can show the logs around its start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from core.clock import utcnow
from core.models import SIGNAL_KINDS, Anomaly, LogRecord
from core.notifier import Notifier, ProposalEvent
from core.proposals import OPEN_STATUSES, FixProposal, ProposalStatus
from core.redact import scrub_secrets
from fixes.persistence.store import SYSTEM_ACTOR, ProposalStore
from monitoring.recent import RecentRecords

if TYPE_CHECKING:
    from monitoring.fix_history import FixHistory
    from monitoring.sources.base import CursoredSource
    from monitoring.verification import Verifier


class Analyzer(Protocol):
    """``monitoring.analysis.analyzer.LogAnalyzer``'s one method the pipeline uses."""

    def analyze(self, records: Iterable[LogRecord]) -> list[Anomaly]:
        """Anomalies in one window of records (consumed once), most severe first."""
        ...


class Diagnoser(Protocol):
    """``monitoring.diagnosis.Diagnoser``'s one method the pipeline uses."""

    def propose(self, anomalies: Sequence[Anomaly]) -> list[FixProposal]:
        """One unsaved proposal per anomaly, same order; never raises for LM trouble."""
        ...


@dataclass
class CycleResult:
    """What one cycle did.

    Attributes:
        records: records analyzed.
        anomalies: every anomaly found, most severe first.
        new_proposals: proposals stored this cycle (ids assigned), posted or held, in
            anomaly order.
        held: those of ``new_proposals`` not posted (over the cycle's cap), most severe
            first.
        repeats: ``(open proposal, events this cycle)`` for anomalies already proposed.
        suppressed: anomalies not proposed because of a recent rejection or fix.
        notes: remarks for the operator (a notifier failure, a source's note).
    """

    records: int
    anomalies: list[Anomaly]
    new_proposals: list[FixProposal] = field(default_factory=list)
    held: list[FixProposal] = field(default_factory=list)
    repeats: list[tuple[FixProposal, int]] = field(default_factory=list)
    suppressed: list[Anomaly] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """E.g. ``"812 records, 2 anomalies, 1 new proposal, 1 repeat"`` (and ``"N held over
        the cap"`` when some were not posted)."""
        parts = [
            _plural(self.records, "record"),
            _plural(len(self.anomalies), "anomaly"),
            _plural(len(self.new_proposals), "new proposal"),
        ]
        if self.held:
            parts.append(f"{len(self.held)} held over the cap")
        if self.repeats:
            parts.append(_plural(len(self.repeats), "repeat"))
        if self.suppressed:
            parts.append(f"{len(self.suppressed)} suppressed")
        return ", ".join(parts)


class CyclePipeline:
    """Analyze, dedupe, diagnose, store and notify for one batch of records.

    Args:
        analyzer: finds anomalies (keeps its baseline in the state store).
        diagnoser: turns anomalies into unsaved proposals.
        store: where proposals and anomaly totals live.
        notifier: where proposals and repeats are shown.
        cooldown_seconds: after a rejection, the same fingerprint is not proposed again
            for this long (``MENDBOT_COOLDOWN_SECONDS``).
        clock: the current aware UTC time.
        diagnose: False = only find anomalies (nothing stored, diagnosed or posted).
        applied_grace_seconds: after a fix is applied, events older than this much past
            the push are taken as the old code's and not proposed again.
        max_posts_per_cycle: new proposals posted per cycle, most severe first; the rest
            are held (``MENDBOT_MAX_PROPOSALS_PER_CYCLE``).
        verifier: follows pushed fixes to production through the cycles (None: off).
        context: adds facts to a new anomaly before diagnosis (Prometheus' figures);
            it must not raise.
        recent: keeps the last records read, for the logs around an alert.
        history: earlier fixes' outcomes: the fix breaker holds an anomaly whose fixes
            failed too often, and new code fixes get their kind's track record
            (:class:`~monitoring.fix_history.FixHistory`); None = neither.
    """

    def __init__(
        self,
        *,
        analyzer: Analyzer,
        diagnoser: Diagnoser | None,
        store: ProposalStore,
        notifier: Notifier,
        cooldown_seconds: float,
        clock: Callable[[], datetime] = utcnow,
        diagnose: bool = True,
        applied_grace_seconds: float = 600.0,
        max_posts_per_cycle: int = 5,
        verifier: Verifier | None = None,
        context: Callable[[Anomaly], Anomaly] | None = None,
        recent: RecentRecords | None = None,
        history: FixHistory | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.diagnoser = diagnoser
        self.store = store
        self.notifier = notifier
        self.cooldown = timedelta(seconds=cooldown_seconds)
        self.applied_grace = timedelta(seconds=applied_grace_seconds)
        self.clock = clock
        self.diagnose = diagnose and diagnoser is not None
        self.max_posts = max(1, max_posts_per_cycle)
        self.verifier = verifier if self.diagnose else None
        self.context = context
        self.recent = recent
        self.history = history

    def process(self, records: Iterable[LogRecord]) -> CycleResult:
        """Run the cycle over ``records`` (one window, oldest first).

        Raises:
            fixes.persistence.store.StoreError, sqlalchemy errors: the database failed (nothing of
                this cycle should be taken as done; the caller keeps its cursor).
        """
        watch = self.verifier.begin_cycle() if self.verifier is not None else None
        tap = watch if watch is not None and watch.watches else None
        counted = _Counted(records, tap, self.recent)  # streamed: never all held in memory
        anomalies = self.analyzer.analyze(counted)
        result = CycleResult(records=counted.count, anomalies=anomalies)
        if not self.diagnose:
            return result
        result.notes.extend(self.retry_unposted())
        self.take_in(result.anomalies, result)
        if self.verifier is not None and watch is not None:
            result.notes.extend(self.verifier.end_cycle(watch, result.anomalies))
        return result

    def take_in(
        self,
        anomalies: Sequence[Anomaly],
        result: CycleResult,
        *,
        propose: Callable[[Sequence[Anomaly]], list[FixProposal]] | None = None,
    ) -> None:
        """Steps 1-4 for ``anomalies``: count, dedupe, suppress, diagnose, store, post.

        Args:
            anomalies: what was found (one per fingerprint is kept, counts merged).
            result: collects the new proposals, repeats, suppressions and notes.
            propose: drafts proposals for the new anomalies; default: the diagnoser.

        Raises:
            fixes.persistence.store.StoreError, sqlalchemy errors: the database failed.
        """
        fresh: list[Anomaly] = []
        for anomaly in _one_per_fingerprint(anomalies):
            self.store.record_anomaly(anomaly)
            standing = self.store.open_for_fingerprint(anomaly.fingerprint)
            if standing is not None:
                result.repeats.append((self._seen_again(standing, anomaly, result), anomaly.count))
            elif self._suppressed(anomaly) or self._held(anomaly):
                result.suppressed.append(anomaly)
            else:
                fresh.append(anomaly)
        if not fresh:
            return
        if self.context is not None:
            fresh = [self.context(anomaly) for anomaly in fresh]
        if propose is None:
            assert self.diagnoser is not None
            propose = self.diagnoser.propose
        drafts = propose(fresh)
        if self.history is not None:
            drafts = self.history.calibrate(drafts)
        stored = self.store.add_many(drafts)
        self._post_within_cap(stored, result)

    def run_once(self, source: CursoredSource, *, commit: bool = True) -> CycleResult:
        """Fetch from ``source``, process, then commit its cursor (only after success).

        Args:
            source: the cursored log source.
            commit: False leaves the cursor where it was (a dry look, e.g.
                ``mendbot scan --no-diagnose``).

        Raises:
            monitoring.sources.LogSourceError: the fetch failed (nothing consumed).
        """
        batch = source.fetch()
        result = self.process(batch.records)
        if commit:
            source.commit(batch)
        result.notes.extend(batch.notes)
        return result

    def retry_unposted(self) -> list[str]:
        """Post again every open proposal whose posting failed; returns notes."""
        notes: list[str] = []
        for proposal in self.store.list(statuses=OPEN_STATUSES, limit=200):
            if proposal.thread_ref is None and self._post_failed_last(proposal.id):
                self._post(proposal, None)
                if not self._post_failed_last(proposal.id):
                    notes.append(f"posted {proposal.id} after an earlier failure")
        return notes

    # --- internals ----------------------------------------------------------------------------
    def _post_within_cap(self, stored: list[FixProposal], result: CycleResult) -> None:
        """Post the most severe ``max_posts`` of ``stored``; hold and summarise the rest."""
        ranked = sorted(stored, key=_urgency)
        posting, held = ranked[: self.max_posts], ranked[self.max_posts :]
        posted = {proposal.id: self._post(proposal, result) for proposal in posting}
        result.new_proposals = [posted.get(p.id, p) for p in stored]
        if not held:
            return
        result.held = held
        self.store.audit_each(
            actor=SYSTEM_ACTOR,
            action="held",
            proposal_ids=[p.id for p in held],
            details={"cap": self.max_posts, "new_this_cycle": len(stored)},
        )
        try:
            self.notifier.post_held(held, cap=self.max_posts)
        except Exception as error:  # stored and audited already: only the summary is lost
            result.notes.append(f"could not post the summary of held proposals: {_safe(error)}")

    def _seen_again(
        self, standing: FixProposal, anomaly: Anomaly, result: CycleResult
    ) -> FixProposal:
        total = self.store.add_seen_again(standing.id, anomaly.count)
        updated = standing.model_copy(update={"seen_again": total})
        if standing.thread_ref is None:  # held or never posted: no thread to tell
            return updated
        event = ProposalEvent(kind="seen_again", details={"count": anomaly.count, "total": total})
        try:
            self.notifier.post_event(updated, event)
        except Exception as error:  # a notifier failure must not lose the cycle
            result.notes.append(f"could not tell {standing.id}'s thread: {_safe(error)}")
        return updated

    def _suppressed(self, anomaly: Anomaly) -> bool:
        if self.verifier is not None and self.verifier.watching(anomaly.fingerprint):
            return True
        now = self.clock()
        rejected = self.store.latest_for_fingerprint(anomaly.fingerprint, {ProposalStatus.REJECTED})
        if rejected is not None:
            when = rejected.decided_at or rejected.updated_at or rejected.created_at
            if now - when < self.cooldown:
                return True
        if anomaly.kind in SIGNAL_KINDS:  # a signal's episodes are its own (no deploy lag)
            return False
        applied = self.store.latest_for_fingerprint(anomaly.fingerprint, {ProposalStatus.APPLIED})
        if applied is not None:
            when = applied.updated_at or applied.created_at
            return anomaly.last_seen < when + self.applied_grace
        return False

    def _held(self, anomaly: Anomaly) -> bool:
        """True while the fix breaker of the anomaly's fingerprint is open."""
        return self.history is not None and self.history.holds(anomaly, self.notifier)

    def _post(self, proposal: FixProposal, result: CycleResult | None) -> FixProposal:
        try:
            thread_ref = self.notifier.post_proposal(proposal)
        except Exception as error:  # stored already: posted again next cycle
            reason = _safe(error)
            self.store.audit(
                actor=SYSTEM_ACTOR,
                action="notify_failed",
                proposal_id=proposal.id,
                details={"error": reason},
            )
            if result is not None:
                result.notes.append(f"could not post {proposal.id}: {reason}")
            return proposal
        self.store.audit(
            actor=SYSTEM_ACTOR,
            action="posted",
            proposal_id=proposal.id,
            details={"thread_ref": thread_ref},
        )
        if thread_ref:
            self.store.set_thread_ref(proposal.id, thread_ref)
            return proposal.model_copy(update={"thread_ref": thread_ref})
        return proposal

    def _post_failed_last(self, proposal_id: str) -> bool:
        events = [
            e.action
            for e in self.store.audit_trail(proposal_id)
            if e.action in ("notify_failed", "posted")
        ]
        return bool(events) and events[-1] == "notify_failed"


class _Counted:
    """An iterable that counts the records passing through it, showing each to ``tap``
    (the verifier's watch) and keeping the recent ones (for the logs around an alert)."""

    def __init__(
        self,
        records: Iterable[LogRecord],
        tap: Callable[[LogRecord], None] | None = None,
        recent: RecentRecords | None = None,
    ) -> None:
        self._records = records
        self._tap = tap
        self._recent = recent
        self.count = 0

    def __iter__(self) -> Iterator[LogRecord]:
        tap = self._tap
        for record in self._records:
            self.count += 1
            if tap is not None:
                tap(record)
            if self._recent is not None:
                self._recent.add(record)
            yield record


def _urgency(proposal: FixProposal) -> tuple[int, int]:
    """Sort key: most severe first, then most events."""
    return (-proposal.anomaly.severity.rank, -proposal.anomaly.count)


def _one_per_fingerprint(anomalies: Sequence[Anomaly]) -> list[Anomaly]:
    """The anomalies with repeated fingerprints merged into the first (counts added)."""
    merged: dict[str, Anomaly] = {}
    for anomaly in anomalies:
        first = merged.get(anomaly.fingerprint)
        if first is None:
            merged[anomaly.fingerprint] = anomaly
        else:
            merged[anomaly.fingerprint] = first.model_copy(
                update={
                    "count": first.count + anomaly.count,
                    "first_seen": min(first.first_seen, anomaly.first_seen),
                    "last_seen": max(first.last_seen, anomaly.last_seen),
                }
            )
    return list(merged.values())


def _safe(error: BaseException) -> str:
    return scrub_secrets(f"{error.__class__.__name__}: {error}")[:300]


def _plural(count: int, noun: str) -> str:
    if count == 1:
        return f"1 {noun}"
    return f"{count} {noun[:-1] + 'ies' if noun.endswith('y') else noun + 's'}"
