"""Fixes persistence: how code fixes ended, derived from what is stored (no table of its own).

A code fix is a proposal with edits and no operational action. Its outcome is its status
(the state machine in :mod:`core.proposals` is the one write path), with its time from the
row's ``updated_at`` (set by every transition) and, for a rejection, the reason from its
``rejected`` audit event:

============  =====================================================================
outcome       status
============  =====================================================================
verified      ``verified``: the fingerprint was gone for the verify window
regressed     ``regressed``: still seen after the deploy, or the deploy failed
reverted      ``reverted`` (from applied, verified or regressed): ``git revert``
rolled_back   ``rolled_back``: validation failed or the apply was interrupted
failed        ``failed``: the push or a preflight check was refused
rejected      ``rejected``: a person said no, or its pull request was closed
pending       ``applied``: pushed, the verdict not in yet
============  =====================================================================

*Judged* outcomes (verified, regressed, reverted, rolled back) make a success rate:
verified / judged. *Failed attempts* (rolled back, regressed, reverted) are what the
fix breaker counts per fingerprint (:mod:`monitoring.fix_history`). Outcomes are grouped
by diagnosis source (:func:`core.proposals.diagnosis_source`: ``playbook`` or
``lm:<model>``) and anomaly kind, and by fingerprint.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import col, select

from core.proposals import (
    FixProposal,
    ProposalStatus,
    TrackRecord,
    calibrated_confidence,
    diagnosis_source,
)
from fixes.persistence.db import AuditRow, Database, ProposalRow

S = ProposalStatus
#: Statuses that are a verdict on the fix itself.
JUDGED = frozenset({S.VERIFIED, S.REGRESSED, S.REVERTED, S.ROLLED_BACK})
#: Statuses that count as a failed attempt for the fingerprint's breaker.
FAILED_ATTEMPTS = frozenset({S.ROLLED_BACK, S.REGRESSED, S.REVERTED})
#: Every status with an outcome (``applied`` = pending).
OUTCOME_STATUSES = JUDGED | {S.FAILED, S.REJECTED, S.APPLIED}
#: Longest rejection reason kept per outcome, in characters.
MAX_REASON_CHARS = 200


@dataclass(frozen=True)
class FixOutcome:
    """How one code fix ended (so far).

    Attributes:
        proposal_id, fingerprint, anomaly_kind: the fix and what it was for.
        source: ``playbook`` or ``lm:<model>``.
        status: its status now (see the module docstring).
        at: when it got there (aware UTC; the row's ``updated_at``).
        reason: for a rejection, the reason given ("" when none); for a rollback or a
            failure, the stored error; else "".
    """

    proposal_id: str
    fingerprint: str
    anomaly_kind: str
    source: str
    status: ProposalStatus
    at: datetime
    reason: str = ""

    @property
    def failed_attempt(self) -> bool:
        """True for rolled back, regressed or reverted."""
        return self.status in FAILED_ATTEMPTS


@dataclass
class OutcomeStats:
    """Outcomes of one group of fixes (one source and anomaly kind, or one fingerprint).

    Attributes:
        key: ``{"source": ..., "anomaly_kind": ...}`` or ``{"fingerprint": ...}``.
        counts: status value -> fixes in it (only statuses that occur).
        rejected_reasons: reason -> rejections with it ("" = none given).
    """

    key: dict[str, str]
    counts: Counter[str] = field(default_factory=Counter)
    rejected_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def verified(self) -> int:
        """Fixes verified."""
        return self.counts[S.VERIFIED.value]

    @property
    def judged(self) -> int:
        """Fixes with a verdict: verified, regressed, reverted, rolled back."""
        return sum(self.counts[s.value] for s in JUDGED)

    @property
    def failed_attempts(self) -> int:
        """Rolled back, regressed or reverted."""
        return sum(self.counts[s.value] for s in FAILED_ATTEMPTS)

    @property
    def success_rate(self) -> float | None:
        """verified / judged; None when nothing was judged."""
        return self.verified / self.judged if self.judged else None

    def to_json(self) -> dict[str, object]:
        """A JSON-ready dict: the key, every count, ``judged``, ``success_rate``."""
        rate = self.success_rate
        counts = {s.value: self.counts[s.value] for s in sorted(OUTCOME_STATUSES)}
        return {
            **self.key,
            **counts,
            "judged": self.judged,
            "success_rate": round(rate, 4) if rate is not None else None,
            "rejected_reasons": dict(self.rejected_reasons),
        }


class FixOutcomes:
    """Read-only queries over proposals and their audit trail.

    Args:
        db: the process's :class:`~fixes.persistence.db.Database`.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def outcomes(
        self,
        *,
        fingerprint: str | None = None,
        statuses: Collection[ProposalStatus] = OUTCOME_STATUSES,
    ) -> list[FixOutcome]:
        """The code fixes in ``statuses`` (optionally of one fingerprint), oldest first.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
        """
        query = select(ProposalRow).where(col(ProposalRow.status).in_([s.value for s in statuses]))
        if fingerprint is not None:
            query = query.where(ProposalRow.fingerprint == fingerprint)
        query = query.order_by(col(ProposalRow.updated_at), col(ProposalRow.id))
        with self.db.session() as session:
            proposals = [row.to_proposal() for row in session.exec(query)]
        fixes = [p for p in proposals if _is_code_fix(p)]
        reasons = self._rejection_reasons([p.id for p in fixes if p.status is S.REJECTED])
        return [_outcome(p, reasons.get(p.id, "")) for p in fixes]

    def stats(self) -> list[OutcomeStats]:
        """Per diagnosis source and anomaly kind, most fixes first."""
        return _grouped(self.outcomes(), _by_kind)

    def stats_by_fingerprint(self) -> list[OutcomeStats]:
        """Per fingerprint, most fixes first."""
        return _grouped(self.outcomes(), lambda o: {"fingerprint": o.fingerprint})

    def failed_attempts(
        self, fingerprint: str, *, since: datetime | None = None
    ) -> list[FixOutcome]:
        """The fingerprint's rolled back, regressed and reverted fixes that got there after
        ``since`` (all when None), oldest first."""
        found = self.outcomes(fingerprint=fingerprint, statuses=FAILED_ATTEMPTS)
        return [o for o in found if since is None or o.at > since]

    def calibrate(self, proposals: Sequence[FixProposal]) -> list[FixProposal]:
        """``proposals`` with :attr:`~core.proposals.FixProposal.track_record` set on each
        code fix (one query for all); proposals without edits, or with an action, as
        they are."""
        if not any(_is_code_fix(p) for p in proposals):
            return list(proposals)
        groups = {
            (s.key["source"], s.key["anomaly_kind"]): s
            for s in _grouped(self.outcomes(statuses=JUDGED), _by_kind)
        }
        return [_with_record(p, groups) if _is_code_fix(p) else p for p in proposals]

    def _rejection_reasons(self, proposal_ids: list[str]) -> dict[str, str]:
        """proposal id -> the reason of its latest ``rejected`` audit event."""
        reasons: dict[str, str] = {}
        for chunk in _chunks(proposal_ids, 500):
            query = (
                select(AuditRow)
                .where(AuditRow.action == "rejected")
                .where(col(AuditRow.proposal_id).in_(chunk))
                .order_by(col(AuditRow.id))
            )
            with self.db.session() as session:
                for row in session.exec(query):
                    reason = str((row.details or {}).get("reason") or "")
                    reasons[str(row.proposal_id)] = reason[:MAX_REASON_CHARS]
        return reasons


def _is_code_fix(proposal: FixProposal) -> bool:
    return bool(proposal.edits) and proposal.action is None


def _by_kind(outcome: FixOutcome) -> dict[str, str]:
    return {"source": outcome.source, "anomaly_kind": outcome.anomaly_kind}


def _outcome(proposal: FixProposal, rejection: str) -> FixOutcome:
    reason = rejection if proposal.status is S.REJECTED else (proposal.error or "")
    return FixOutcome(
        proposal_id=proposal.id,
        fingerprint=proposal.fingerprint,
        anomaly_kind=proposal.anomaly.kind,
        source=diagnosis_source(proposal.diagnosis),
        status=proposal.status,
        at=proposal.updated_at or proposal.created_at,
        reason=reason[:MAX_REASON_CHARS],
    )


def _grouped(
    outcomes: Iterable[FixOutcome], key_of: Callable[[FixOutcome], dict[str, str]]
) -> list[OutcomeStats]:
    groups: dict[tuple[tuple[str, str], ...], OutcomeStats] = defaultdict(lambda: OutcomeStats({}))
    for outcome in outcomes:
        key = key_of(outcome)
        stats = groups[tuple(sorted(key.items()))]
        stats.key = key
        stats.counts[outcome.status.value] += 1
        if outcome.status is S.REJECTED:
            stats.rejected_reasons[outcome.reason] += 1
    return sorted(groups.values(), key=lambda s: (-sum(s.counts.values()), sorted(s.key.values())))


def _with_record(proposal: FixProposal, groups: dict[tuple[str, str], OutcomeStats]) -> FixProposal:
    source = diagnosis_source(proposal.diagnosis)
    kind = proposal.anomaly.kind
    found = groups.get((source, kind))
    verified, judged = (found.verified, found.judged) if found else (0, 0)
    record = TrackRecord(
        source=source,
        anomaly_kind=kind,
        verified=verified,
        judged=judged,
        confidence=calibrated_confidence(proposal.diagnosis.confidence, verified, judged),
    )
    return proposal.model_copy(update={"track_record": record})


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
