"""Diagnosis result: what a playbook or the LM concluded, before it becomes a FixProposal."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from core.models import Anomaly, Diagnosis
from core.proposals import Edit, Evidence, FixProposal, ProposalStatus, RegressionTest, Risk
from core.redact import mask_proposal
from monitoring.diagnosis.context import CodeContext
from monitoring.diagnosis.titles import title_for

if TYPE_CHECKING:
    from core.review import ReviewedChange


@dataclass
class Draft:
    """A diagnosis with its proposed change.

    Attributes:
        diagnosis: root cause, severity, components, confidence, source.
        edits: the change (paths relative to the repository); empty = needs investigation.
        reasoning: why the edits fix the root cause.
        risk, risk_notes: LOW/MEDIUM/HIGH and what could go wrong.
        notes: remarks from the checks and the fallbacks, in order.
        edits_dropped: the LM proposed edits and all of them failed the checks.
        evidence, risk_reasons: set by :meth:`settle` once the edits passed the review.
        title: the proposal's header when the diagnosis words one (a playbook's remedy:
            ``Answer 404 for an unknown room_id in get_room()``); "" for the default.
        regression_test: a test that reproduces the failure (with edits only), or None.
    """

    diagnosis: Diagnosis
    edits: list[Edit] = field(default_factory=list)
    reasoning: str = ""
    risk: Risk = Risk.MEDIUM
    risk_notes: str = ""
    notes: list[str] = field(default_factory=list)
    edits_dropped: bool = False
    title: str = ""
    regression_test: RegressionTest | None = None
    evidence: list[Evidence] = field(default_factory=list)
    risk_reasons: list[str] = field(default_factory=list)

    def settle(self, reviewed: ReviewedChange) -> None:
        """Take a passed review's edits, evidence and risk reasons; any reason makes the
        risk HIGH, whatever the LM or playbook said."""
        self.edits = reviewed.edits
        self.evidence = reviewed.evidence
        self.risk_reasons = reviewed.risk_reasons
        self.risk = reviewed.risk_floor or self.risk

    def to_json(self) -> dict[str, object]:
        """A JSON-serialisable dict (for the diagnosis cache)."""
        return {
            "diagnosis": self.diagnosis.model_dump(mode="json"),
            "edits": [edit.model_dump() for edit in self.edits],
            "reasoning": self.reasoning,
            "risk": self.risk.value,
            "risk_notes": self.risk_notes,
            "notes": list(self.notes),
            "edits_dropped": self.edits_dropped,
            "title": self.title,
            "regression_test": (
                self.regression_test.model_dump() if self.regression_test else None
            ),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Draft:
        """The inverse of :meth:`to_json`.

        Raises:
            pydantic.ValidationError, KeyError, TypeError: ``data`` is not such a dict.
        """
        return cls(
            diagnosis=Diagnosis.model_validate(data["diagnosis"]),
            edits=[Edit.model_validate(e) for e in data["edits"]],  # type: ignore[attr-defined]
            reasoning=str(data["reasoning"]),
            risk=Risk(str(data["risk"])),
            risk_notes=str(data["risk_notes"]),
            notes=[str(n) for n in data["notes"]],  # type: ignore[attr-defined]
            edits_dropped=bool(data.get("edits_dropped", False)),
            title=str(data.get("title", "")),
            regression_test=(
                RegressionTest.model_validate(data["regression_test"])
                if data.get("regression_test")
                else None
            ),
        )


def proposal_from(
    anomaly: Anomaly, draft: Draft, context: CodeContext, now: datetime
) -> FixProposal:
    """The unsaved ``proposed`` proposal a draft makes, created at ``now`` (aware UTC);
    every text a person reads is masked for secrets (:func:`core.redact.mask_proposal`)."""
    return mask_proposal(
        FixProposal(
            fingerprint=anomaly.fingerprint,
            anomaly=anomaly,
            diagnosis=draft.diagnosis,
            title=title_for(anomaly, context, draft.title),
            edits=draft.edits,
            reasoning=draft.reasoning,
            evidence=draft.evidence,
            risk=draft.risk,
            risk_notes=draft.risk_notes,
            risk_reasons=draft.risk_reasons,
            notes=draft.notes,
            regression_test=draft.regression_test if draft.edits else None,
            status=ProposalStatus.PROPOSED,
            created_at=now,
        )
    )
