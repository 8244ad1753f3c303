"""Shared contracts (masking): anomalies, proposals and audit facts masked where they enter.

:func:`mask_anomaly` is applied where records become anomalies (``LogAnalyzer.analyze``),
so every later user (the LM inputs, the database, Slack, the terminal, commit messages)
starts from masked text; :func:`mask_proposal` again where a proposal is built and stored
(the LM's answer is untrusted too), and :func:`mask_data` on audit facts. One
:class:`~core.redact.redactor.Redactor` per anomaly or proposal keeps its placeholders
consistent across fields (the ``<SECRET_1>`` of a sample is the ``<SECRET_1>`` of the
root cause). Edits are never masked: their ``old_text`` must match the code byte for byte.
Masking is idempotent. No errors are raised.
"""

from __future__ import annotations

from typing import Any, TypeVar

from core.models import Anomaly, FrameModel
from core.proposals import FixProposal
from core.redact.redactor import Redactor

_T = TypeVar("_T")


def mask_anomaly(anomaly: Anomaly, redactor: Redactor | None = None) -> Anomaly:
    """``anomaly`` with every text field masked (samples, template, summary, exception,
    frames, logger, service, details); the fingerprint and figures are kept.

    Args:
        anomaly: an anomaly, masked or not.
        redactor: the redactor to share placeholders with (a new one by default).

    Returns:
        A masked copy (``anomaly`` itself when nothing needed masking).
    """
    r = redactor if redactor is not None else Redactor()
    for text in (anomaly.template, anomaly.summary, *anomaly.samples):
        r.reserve(text)
    update: dict[str, Any] = {
        "template": r.redact(anomaly.template),
        "summary": r.redact(anomaly.summary),
        "samples": r.redact_all(anomaly.samples),
        "exception_type": _optional(r, anomaly.exception_type),
        "exception_message": _optional(r, anomaly.exception_message),
        "logger": _optional(r, anomaly.logger),
        "service": _optional(r, anomaly.service),
        "frames": [_frame(r, f) for f in anomaly.frames],
        "details": mask_data(anomaly.details, r),
    }
    if all(getattr(anomaly, name) == value for name, value in update.items()):
        return anomaly
    return anomaly.model_copy(update=update)


def mask_proposal(proposal: FixProposal) -> FixProposal:
    """``proposal`` with its anomaly and every sentence masked (title, root cause,
    components, evidence, reasoning, risk notes, notes, error), edits untouched.

    Returns:
        A masked copy (``proposal`` itself when nothing needed masking).
    """
    r = Redactor()
    diagnosis = proposal.diagnosis
    for text in (proposal.title, diagnosis.root_cause, proposal.reasoning):
        r.reserve(text)
    anomaly = mask_anomaly(proposal.anomaly, r)
    masked_diagnosis = diagnosis.model_copy(
        update={
            "root_cause": r.redact(diagnosis.root_cause),
            "affected_components": r.redact_all(diagnosis.affected_components),
            "evidence": r.redact_all(diagnosis.evidence),
        }
    )
    update: dict[str, Any] = {
        "anomaly": anomaly,
        "diagnosis": masked_diagnosis,
        "title": r.redact(proposal.title),
        "reasoning": r.redact(proposal.reasoning),
        "risk_notes": r.redact(proposal.risk_notes),
        "notes": r.redact_all(proposal.notes),
        "error": _optional(r, proposal.error),
    }
    if all(getattr(proposal, name) == value for name, value in update.items()):
        return proposal
    return proposal.model_copy(update=update)


def mask_data(value: _T, redactor: Redactor | None = None) -> _T:
    """A JSON-like value (dicts, lists, tuples, strings, numbers) with every string masked,
    keys included; other values are returned as they are."""
    r = redactor if redactor is not None else Redactor()
    return _mask(value, r)  # type: ignore[no-any-return]


def _mask(value: Any, r: Redactor) -> Any:
    if isinstance(value, str):
        return r.redact(value)
    if isinstance(value, dict):
        return {_mask(k, r): _mask(v, r) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask(v, r) for v in value)
    return value


def _optional(r: Redactor, text: str | None) -> str | None:
    return None if text is None else r.redact(text)


def _frame(r: Redactor, frame: FrameModel) -> FrameModel:
    file, function = r.redact(frame.file), r.redact(frame.function)
    if file == frame.file and function == frame.function:
        return frame
    return FrameModel(file=file, line=frame.line, function=function)
