"""Shared contracts: proposals, their edits and state machine, and audit events.

The proposal lifecycle (``TRANSITIONS`` is the single source of truth)::

    proposed ──▶ approved ──▶ applying ──▶ applied
       │             │            ├──────▶ rolled_back   (validation failed, interrupted)
       │             │            ├──────▶ failed        (push refused, preflight refused)
       │             │            └──────▶ awaiting_merge ──▶ applied    (PR merged)
       │             │                     (pull request   └──▶ rejected (PR closed)
       │             │                      open)
       │             └──────────────────▶ failed
       ├──▶ rejected
       ├──▶ expired                      (older than MENDBOT_PROPOSAL_TTL_SECONDS)
       └──▶ resolved                     (its signal cleared before anyone acted: an
                                          alert resolved, a health check passing again)

    applied ──▶ verified                 (the fingerprint was gone for the verify window)
       │   └──▶ regressed                (still seen after the deploy, or the deploy failed)
       └──────────┴──────┴──▶ reverted   (a person, or MENDBOT_AUTO_REVERT: ``git revert``)

``awaiting_merge`` exists only with ``MENDBOT_DELIVERY=pull_request``: the validated fix
is on branch ``mendbot/<id>`` with a pull request into the deploy branch, and
``fixes.pull_requests`` follows it each cycle.

A proposal carries either ``edits`` (a code fix, applied by the implementor) or an
operational ``action`` (:class:`core.actions.Action`: restart, redeploy, rollback, a
container restart, a configured command), run by ``fixes.actions`` through the same
approval, audit and notification path.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.actions import Action
from core.models import Anomaly, Diagnosis


class Risk(StrEnum):
    """How risky applying a proposal is."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


class ProposalStatus(StrEnum):
    """Where a proposal is in its lifecycle (see the module docstring)."""

    PROPOSED = "proposed"
    APPROVED = "approved"
    APPLYING = "applying"
    APPLIED = "applied"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"
    AWAITING_MERGE = "awaiting_merge"
    VERIFIED = "verified"
    REGRESSED = "regressed"
    REVERTED = "reverted"
    RESOLVED = "resolved"


S = ProposalStatus
TRANSITIONS: dict[ProposalStatus, frozenset[ProposalStatus]] = {
    S.PROPOSED: frozenset({S.APPROVED, S.REJECTED, S.EXPIRED, S.RESOLVED}),
    S.APPROVED: frozenset({S.APPLYING, S.FAILED}),
    S.APPLYING: frozenset({S.APPLIED, S.ROLLED_BACK, S.FAILED, S.AWAITING_MERGE}),
    S.AWAITING_MERGE: frozenset({S.APPLIED, S.REJECTED}),
    S.APPLIED: frozenset({S.VERIFIED, S.REGRESSED, S.REVERTED}),
    S.ROLLED_BACK: frozenset(),
    S.FAILED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
    S.VERIFIED: frozenset({S.REVERTED}),
    S.REGRESSED: frozenset({S.REVERTED}),
    S.REVERTED: frozenset(),
    S.RESOLVED: frozenset(),
}
#: Statuses in which a proposal still stands for its fingerprint (not posted again).
OPEN_STATUSES = frozenset({S.PROPOSED, S.APPROVED, S.APPLYING, S.AWAITING_MERGE})
#: Statuses from which nothing follows.
FINAL_STATUSES = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)
#: Statuses of a fix whose commit is on the remote and may be undone with ``git revert``.
REVERTIBLE_STATUSES = frozenset(s for s, nxt in TRANSITIONS.items() if S.REVERTED in nxt)


class Edit(BaseModel):
    """One textual replacement in the target repository.

    Attributes:
        path: POSIX path relative to the repository root, e.g. ``app.py``.
        old_text: text that must occur exactly once in the file today.
        new_text: its replacement. An edit with empty ``old_text`` creates ``path``
            (which must not exist yet) with ``new_text`` as its content.
    """

    path: str
    old_text: str
    new_text: str


class Evidence(BaseModel):
    """A place in the service's code that the anomaly points at: why one file may be edited.

    Diagnosis builds these from the anomaly (a traceback frame, the statement that writes
    the logged message, a definition that statement uses) and keeps only those that agree
    with the repository (:mod:`core.evidence`); the proposal stores them and the
    implementor checks them again, so a file stays editable only while its evidence holds.

    Attributes:
        kind: ``frame``, ``emitter`` or ``definition``.
        path: repository-relative POSIX path, e.g. ``app.py``.
        line: 1-based line when the proposal was built.
        function: the scope of that line as a traceback names it: a function's name,
            a class's, ``<module>``, ``<lambda>``, ``<genexpr>``...
        code_sha256: SHA-256 (hex) of the line's text without surrounding whitespace;
            how the line is found again when lines above it moved.
        detail: for a frame the file as the traceback printed it (``/app/app.py``), for
            an emitter the literal text that matched the message, for a definition the
            name it assigns.
    """

    kind: Literal["frame", "emitter", "definition"]
    path: str
    line: int = Field(ge=1)
    function: str
    code_sha256: str
    detail: str = ""


#: The folder of regression tests: ``tests/mendbot/test_<fix id>.py``.
REGRESSION_TEST_DIR = "tests/mendbot"


def regression_test_path(fix_id: str) -> str:
    """Where the regression test of ``fix_id`` lives, e.g.
    ``tests/mendbot/test_fix_20261121_023300.py`` (the one new file a fix may create)."""
    return f"{REGRESSION_TEST_DIR}/test_{fix_id}.py"


class RegressionTest(BaseModel):
    """A pytest module that reproduces the failure: it must fail on the unfixed tree
    with ``fails_with`` and pass once the edits are applied (a fail-to-pass test).

    Attributes:
        path: repository-relative, :func:`regression_test_path` of the proposal's id
            (set by ``ProposalStore.add``; "" before the proposal has an id).
        content: the module's source.
        fails_with: the exception class name the test fails with before the fix, as the
            log showed it (``KeyError``); None when the failure is an assertion.
        reaches: how the test reaches the failure, in words (``GET /rooms/lobby``).
    """

    path: str = ""
    content: str
    fails_with: str | None = None
    reaches: str = ""


#: Pseudo-outcomes the stated confidence counts for in :func:`calibrated_confidence`.
PRIOR_WEIGHT = 2.0


def diagnosis_source(diagnosis: Diagnosis) -> str:
    """Where a diagnosis came from, as outcomes are grouped: ``lm:<model>`` for an LM's
    (``lm`` when the model is unknown), ``playbook`` for the offline playbooks (which are
    chosen by the anomaly's kind, so source and anomaly kind name the playbook)."""
    if diagnosis.source == "lm":
        return f"lm:{diagnosis.model}" if diagnosis.model else "lm"
    return "playbook"


def calibrated_confidence(stated: float, verified: int, judged: int) -> float:
    """The stated confidence (0..1) moved toward the share of earlier fixes of the same
    kind that were verified: ``(verified + stated * PRIOR_WEIGHT) / (judged + PRIOR_WEIGHT)``,
    so with no history it is the stated one and with much history the record decides."""
    return (verified + stated * PRIOR_WEIGHT) / (judged + PRIOR_WEIGHT)


class TrackRecord(BaseModel):
    """How earlier fixes of the same kind ended, counted when this proposal was made.

    "Of the same kind" means: the same diagnosis source (:func:`diagnosis_source`:
    ``playbook`` or ``lm:<model>``) and the same anomaly kind (``repeated_error``, ...).

    Attributes:
        source, anomaly_kind: the kind.
        verified: earlier fixes of that kind whose status is ``verified``.
        judged: those that reached a verdict: verified, regressed, reverted, rolled back.
        confidence: :func:`calibrated_confidence` of the diagnosis' stated confidence.
    """

    source: str
    anomaly_kind: str
    verified: int = Field(ge=0)
    judged: int = Field(ge=0)
    confidence: float = Field(ge=0.0, le=1.0)

    def sentence(self) -> str:
        """``fixes of this kind: 7 of 9 verified`` (or that none was judged yet)."""
        if not self.judged:
            return "no fix of this kind judged yet"
        return f"fixes of this kind: {self.verified} of {self.judged} verified"


class FixProposal(BaseModel):
    """A diagnosed anomaly with the change that would fix it, waiting for a person.

    Attributes:
        id: ``fix_YYYYMMDD_HHMMSS`` (UTC), with ``_2``, ``_3``... (no upper bound) on a
            clash; assigned by ``ProposalStore.add`` (empty before that).
        fingerprint: the anomaly's fingerprint (dedup key across cycles).
        anomaly, diagnosis: what was seen and why it happens.
        title: one line for a message header, e.g. ``KeyError in orders()``.
        edits: the change; empty means "needs investigation" (cannot be implemented).
        reasoning: why these edits fix the root cause.
        evidence: what made each edited file editable (see :class:`Evidence`).
        risk, risk_notes: LOW/MEDIUM/HIGH and what could go wrong.
        risk_reasons: risky constructs the edits add or remove, one sentence each
            (``adds a shell command call (os.system)``); any makes the risk HIGH.
        notes: remarks from the checks, e.g. an LM edit dropped and why.
        status: lifecycle state; change it only through ``ProposalStore.transition``.
        created_at, updated_at: aware UTC.
        decided_by, decided_at: who approved or rejected, and when.
        commit_sha: the pushed fix commit, once applied (with pull-request delivery: the
            commit on ``mendbot/<id>`` while ``awaiting_merge``, then the merge commit).
        error: why it failed or was rolled back, token-scrubbed.
        thread_ref: the notifier's handle on the proposal's message (Slack
            ``"<channel>:<ts>"``), None until posted.
        seen_again: how many more events of this anomaly arrived after it was posted.
        regression_test: a test that reproduces the failure, when the evidence shows how
            it is reached; None otherwise.
        proven: once applied: True when the regression test failed on the unfixed tree
            with the logged exception and passed after the fix; False when it did not
            reproduce the failure (no proof, and the test is not committed); None when
            there was no test or nothing was applied.
        action: instead of edits, an operational action (restart, redeploy, ...); None for
            a code fix.
        track_record: how earlier fixes of the same kind ended, when it was proposed (a
            code fix only; None before the cycle counts them, or for older proposals).
    """

    id: str = ""
    fingerprint: str
    anomaly: Anomaly
    diagnosis: Diagnosis
    title: str
    edits: list[Edit] = Field(default_factory=list)
    reasoning: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    risk: Risk = Risk.MEDIUM
    risk_notes: str = ""
    risk_reasons: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    status: ProposalStatus = ProposalStatus.PROPOSED
    created_at: datetime
    updated_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    commit_sha: str | None = None
    error: str | None = None
    thread_ref: str | None = None
    seen_again: int = 0
    regression_test: RegressionTest | None = None
    proven: bool | None = None
    action: Action | None = None
    track_record: TrackRecord | None = None

    @property
    def implementable(self) -> bool:
        """True when there is a concrete change to apply or an action to run (otherwise:
        needs investigation)."""
        return bool(self.edits) or self.action is not None


def proof_status(proposal: FixProposal) -> str:
    """Whether a test proves the fix, in one sentence, the same on every surface (Slack,
    ``fixes show``, the commit message)."""
    test = proposal.regression_test
    if proposal.proven and test is not None:
        return f"Proven by a test that failed before the fix and passes after it: {test.path}."
    if proposal.proven is False:
        return (
            "No proof: the regression test did not reproduce the failure on the unfixed "
            "code, so it was left out."
        )
    if test is not None and proposal.status is ProposalStatus.APPLIED:
        return "No proof: the regression test was not run."
    if test is not None:
        reaches = f" ({test.reaches})" if test.reaches else ""
        return (
            f"To be proven: {test.path}{reaches} must fail before the fix (else the fix "
            "goes without proof) and pass after it (else nothing is pushed)."
        )
    return "No proof: the evidence does not show how to reach the failure, so no test."


class AuditEvent(BaseModel):
    """One append-only audit trail entry.

    Attributes:
        id: database sequence number (ascending in time order).
        at: aware UTC time of the event.
        actor: who did it: a Slack user id (``U...``), ``cli:<user>``, or ``mendbot``.
        action: e.g. ``proposed``, ``approved``, ``applying``, ``applied``,
            ``rolled_back``, ``refused``, ``validation_output``.
        proposal_id: the proposal concerned, if any.
        details: JSON-serialisable facts (reasons, commit sha, command output).
    """

    id: int
    at: datetime
    actor: str
    action: str
    proposal_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
