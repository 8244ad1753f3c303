"""Log analysis: the ``Anomaly`` for a group that a rule flagged (fingerprint, severity, text).

* Fingerprint (:func:`fingerprint`): the first 16 hex digits of SHA-256 over the rule's
  family and the group's canonical template (:meth:`Group.canonical`), so the same problem
  gets the same fingerprint in every cycle, process and host. ``repeated_error`` and
  ``new_error`` share the family ``error``: they are one problem seen more or less often.
* Severity: ``repeated_error`` HIGH, ``new_error`` and ``truncation`` MEDIUM,
  ``slow_operation`` and ``duplicate_spike`` LOW; one step up for an error group with a
  CRITICAL record and one for :data:`ESCALATE_AT_COUNT` events or more, at most CRITICAL.
* Summary: one sentence per rule, from the group, its count and the rule's details.

No errors are raised here.
"""

from __future__ import annotations

import hashlib
from typing import Any

from core.frames import app_frame, basename
from core.models import Anomaly, AnomalyKind, FrameModel, Level, Severity
from monitoring.analysis.evidence import Group

_SUMMARIES: dict[str, str] = {
    "repeated_error": "{what} happened {times} ({level}) between {first} and {last} UTC.",
    "new_error": "New {level}, not seen in earlier cycles: {what}, {times} at {first} UTC.",
    "truncation": "Output was cut {times} ({limits}) between {first} and {last} UTC: {what}.",
    "slow_operation": "{count} slow operations (max {max_seconds:.2f} s, mean "
    "{mean_seconds:.2f} s) between {first} and {last} UTC: {what}.",
    "duplicate_spike": "{what} logged {times} ({share:.1%} of the window, usually "
    "{usual_share:.1%}): duplicates or retries.",
}
_BASE_SEVERITY: dict[str, Severity] = {
    "repeated_error": Severity.HIGH,
    "new_error": Severity.MEDIUM,
    "truncation": Severity.MEDIUM,
    "slow_operation": Severity.LOW,
    "duplicate_spike": Severity.LOW,
}
#: A group this large (events) is one severity step more urgent.
ESCALATE_AT_COUNT = 50


def fingerprint(family: str, basis: str) -> str:
    """Stable id: the first 16 hex digits of SHA-256 over family and canonical basis."""
    return hashlib.sha256(f"{family}\x1f{basis}".encode()).hexdigest()[:16]


def build(group: Group, kind: AnomalyKind, count: int, details: dict[str, Any]) -> Anomaly:
    """The :class:`Anomaly` for a group that a rule flagged.

    Args:
        group: the flagged group.
        kind: the rule that flagged it.
        count: the events the rule counted (errors, noisy, slow or all records).
        details: the rule's facts (``level``, ``limits``, ``max_seconds``, ``share``...);
            kept as ``Anomaly.details`` and quoted in the summary.

    Returns:
        The anomaly, with samples, and the exception and frames of the newest record when
        the group is a traceback signature.
    """
    template = group.canonical()
    family = "error" if kind in ("repeated_error", "new_error") else kind
    newest = group.newest
    traceback = group.signature is not None
    return Anomaly(
        kind=kind,
        fingerprint=fingerprint(family, template),
        template=template,
        count=count,
        first_seen=group.first,
        last_seen=group.last,
        severity=_severity(kind, count, group.top_rank),
        samples=list(group.samples),
        exception_type=newest.exception_type if traceback else None,
        exception_message=newest.exception_message if traceback else None,
        frames=[FrameModel.of(f) for f in newest.frames] if traceback else [],
        logger=newest.logger,
        service=newest.service,
        summary=_summary(kind, group, count, template, details),
        details=details,
    )


def _severity(kind: str, count: int, top_rank: int) -> Severity:
    rank = _BASE_SEVERITY[kind].rank
    if kind in ("repeated_error", "new_error") and top_rank >= Level.CRITICAL.rank:
        rank += 1
    if count >= ESCALATE_AT_COUNT:
        rank += 1
    return next(s for s in reversed(Severity) if s.rank <= min(rank, Severity.CRITICAL.rank))


def _summary(kind: str, group: Group, count: int, template: str, details: dict[str, Any]) -> str:
    what = template if len(template) <= 160 else template[:157] + "..."
    frame = app_frame(group.newest.frames) if group.signature else None
    if frame is not None and group.signature is not None:
        what = f"{group.signature[0]} in {frame.function} ({basename(frame.file)}:{frame.line})"
    same_day = group.first.date() == group.last.date()
    facts = {
        **{k: v if v is not None else 0.0 for k, v in details.items()},
        "what": what,
        "count": count,
        "times": "once" if count == 1 else f"{count} times",
        "first": f"{group.first:%Y-%m-%d %H:%M:%S}",
        "last": f"{group.last:%H:%M:%S}" if same_day else f"{group.last:%Y-%m-%d %H:%M:%S}",
        "limits": ", ".join(_limit_text(k, v) for k, v in details.get("limits", {}).items())
        or "no limits given",
    }
    return _SUMMARIES[kind].format(**facts)


def _limit_text(key: str, value: Any) -> str:
    """``max_tokens=3000`` or ``needed=3450..8292``."""
    if isinstance(value, dict):
        return f"{key}={value['min']}..{value['max']}"
    return f"{key}={value}"
