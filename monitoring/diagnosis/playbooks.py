"""Diagnosis playbooks: offline root causes and safe edits, one playbook per anomaly kind.

Used when ``MENDBOT_LM`` is unset, when the LM fails, and beyond the per-cycle LM budget.
Each playbook words a root cause from the evidence (counts, times, the raising line, the
code that emits the message) and proposes an edit only where one is right in every
reading of the evidence; the remedies (:mod:`monitoring.diagnosis.remedies`) decide:

========================  ==================================================================
kind                      remedies tried
========================  ==================================================================
truncation                raise the limit to the measured need (``limits``), never when the
                          message says what is past the limit is dropped
repeated_error/new_error  by the exception: a pool or resource exhausted (``resources``);
                          a coroutine used as a value (``awaits``); KeyError (``lookups``);
                          a parse of input (``parsing``); UnicodeDecodeError (``decoding``);
                          ZeroDivisionError, IndexError (``empty``); None from a lookup
                          (``nones``). Failures of the world outside (connection
                          refused, timeouts, a full disk, rate limits) get none
slow_operation            a timeout below the durations the same messages measured
                          (``limits``)
duplicate_spike           a mutable default argument in the code that logs it (``defaults``)
========================  ==================================================================

A playbook without an edit yields "needs investigation" (no edits): still posted, never
implementable, its root cause saying what a person must decide.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

from core.models import Anomaly, Diagnosis
from core.proposals import Edit, Risk
from monitoring.diagnosis import messages as msg
from monitoring.diagnosis.context import CodeContext
from monitoring.diagnosis.draft import Draft
from monitoring.diagnosis.remedies import (
    awaits,
    decoding,
    defaults,
    empty,
    limits,
    lookups,
    nones,
    parsing,
    resources,
)
from monitoring.diagnosis.remedies.base import Failure, Remedy
from monitoring.diagnosis.repo import RepoIndex
from monitoring.diagnosis.titles import humanize

#: Confidence of a playbook diagnosis with and without an edit.
CONFIDENCE_WITH_EDIT = 0.8
CONFIDENCE_WITHOUT_EDIT = 0.5
_SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s)\b")
#: Failures of the world outside the code (no edit is the right answer): by the exception's
#: class name, or by what its message (or an error log's template) says.
_OUTSIDE_TYPE = re.compile(
    r"connect|timeout|unreachable|gaierror|ssl|dns|ratelimit|toomanyrequests|unavailable"
    r"|httpstatus|remotedisconnected|brokenpipe",
    re.IGNORECASE,
)
_OUTSIDE_MESSAGE = re.compile(
    r"connection (?:refused|reset|aborted|attempts failed|error)|connect(?:ion)?error"
    r"|(?:failed|unable|could not) to connect|could not connect|unreachable|timed? ?out"
    r"|no space left|errno (?:28|104|110|111|113)\b|\b429\b|too many requests"
    r"|rate.?limit|service unavailable|quota exceeded",
    re.IGNORECASE,
)

Playbook = Callable[[Anomaly, CodeContext, "RepoIndex | None"], Draft]
ExceptionRemedy = Callable[[Failure, dict[str, object]], Remedy | None]

#: The remedy per exception class name (without its module).
EXCEPTION_REMEDIES: dict[str, ExceptionRemedy] = {
    "KeyError": lookups.remedy,
    "JSONDecodeError": parsing.remedy,
    "ValueError": parsing.remedy,
    "UnicodeDecodeError": decoding.remedy,
    "ZeroDivisionError": empty.zero_division,
    "IndexError": empty.index_error,
    "AttributeError": nones.remedy,
    "TypeError": nones.remedy,
}


def run_playbook(anomaly: Anomaly, context: CodeContext, index: RepoIndex | None) -> Draft:
    """The offline diagnosis of ``anomaly`` (never raises for odd input; at worst no edit)."""
    playbook = PLAYBOOKS.get(anomaly.kind, _error)
    draft = playbook(anomaly, context, index)
    if not draft.edits:
        draft.reasoning = draft.reasoning or _no_edit_reason(context, index)
        draft.risk_notes = draft.risk_notes or msg.RISK_INVESTIGATE
    return draft


def _truncation(anomaly: Anomaly, context: CodeContext, index: RepoIndex | None) -> Draft:
    remedy = limits.truncation(anomaly, context, index, _facts(anomaly))
    return _from_remedy(anomaly, context, remedy)


def _error(anomaly: Anomaly, context: CodeContext, index: RepoIndex | None) -> Draft:
    facts = _facts(anomaly)
    failure = Failure.of(anomaly, context, index) if index is not None else None
    if failure is not None:
        remedy = _exception_remedy(failure, {**facts, **_where_failed(failure)})
        if remedy is not None:
            return _from_remedy(anomaly, context, remedy, _frame_components(context))
        root = msg.ROOT_EXCEPTION.format(**facts, **_where_failed(failure))
    elif anomaly.exception_type and anomaly.frames:
        root = msg.ROOT_EXCEPTION_NO_CODE.format(**facts)
    else:
        root = msg.ROOT_ERROR_LOG.format(where=_where(context), **facts)
    if _outside(anomaly.exception_type or "", anomaly.exception_message or anomaly.template):
        root += msg.ROOT_OUTSIDE_HINT
    components = _frame_components(context) if failure else _components(context)
    return _draft(anomaly, root, components, evidence_facts(anomaly, context))


def _exception_remedy(failure: Failure, facts: dict[str, object]) -> Remedy | None:
    """The remedy for the failure's class; a failure of the world outside gets none."""
    if resources.applies(failure):
        return resources.remedy(failure, facts)
    if failure.short not in EXCEPTION_REMEDIES and _outside(failure.short, failure.message):
        return None  # a code bug's message may mention a connection; an OSError's says it
    if awaits.applies(failure):
        return awaits.remedy(failure, facts)
    remedy = EXCEPTION_REMEDIES.get(failure.short)
    return remedy(failure, facts) if remedy else None


def _outside(exception: str, message: str) -> bool:
    """True when an exception (class name, message) is a failure of the world outside."""
    short = exception.rsplit(".", 1)[-1]
    return bool(_OUTSIDE_TYPE.search(short) or _OUTSIDE_MESSAGE.search(message))


def _slow(anomaly: Anomaly, context: CodeContext, index: RepoIndex | None) -> Draft:
    facts = _facts(anomaly)
    remedy = limits.timeout(anomaly, context, index, facts)
    if remedy is not None:
        return _from_remedy(anomaly, context, remedy)
    root = msg.ROOT_SLOW.format(slowest=_slowest(anomaly), where=_where(context), **facts)
    return _draft(anomaly, root, _components(context), evidence_facts(anomaly, context))


def _slowest(anomaly: Anomaly) -> str:
    numbers = [
        v
        for k, v in anomaly.details.items()
        if "max" in k and isinstance(v, (int, float)) and not isinstance(v, bool)
    ]
    if numbers:
        return f"{max(numbers):.2f} s"
    seconds = [
        float(n) / (1000 if unit == "ms" else 1)
        for sample in anomaly.samples
        for n, unit in _SECONDS.findall(sample)
    ]
    return f"{max(seconds):.2f} s" if seconds else "an unknown time"


def _duplicates(anomaly: Anomaly, context: CodeContext, index: RepoIndex | None) -> Draft:
    facts = _facts(anomaly)
    if index is not None:
        remedy = defaults.remedy(index, sorted(context.evidence_files), facts)
        if remedy is not None:
            return _from_remedy(anomaly, context, remedy)
    root = msg.ROOT_DUPLICATES.format(where=_where(context), **facts)
    return _draft(anomaly, root, _components(context), evidence_facts(anomaly, context))


PLAYBOOKS: dict[str, Playbook] = {
    "truncation": _truncation,
    "repeated_error": _error,
    "new_error": _error,
    "slow_operation": _slow,
    "duplicate_spike": _duplicates,
}


# --- shared wording -----------------------------------------------------------------------


def _from_remedy(
    anomaly: Anomaly, context: CodeContext, remedy: Remedy, components: list[str] | None = None
) -> Draft:
    draft = _draft(
        anomaly,
        remedy.root,
        components if components is not None else _components(context),
        evidence_facts(anomaly, context),
        edits=remedy.edits,
        reasoning=remedy.reasoning,
        risk=remedy.risk,
        risk_notes=remedy.risk_notes,
    )
    draft.title = remedy.title if remedy.edits else ""
    return draft


def _draft(
    anomaly: Anomaly,
    root: str,
    components: list[str],
    evidence: list[str],
    *,
    edits: list[Edit] | None = None,
    reasoning: str = "",
    risk: Risk = Risk.LOW,
    risk_notes: str = "",
) -> Draft:
    diagnosis = Diagnosis(
        root_cause=root,
        severity_assessment=anomaly.severity,
        affected_components=components,
        confidence=CONFIDENCE_WITH_EDIT if edits else CONFIDENCE_WITHOUT_EDIT,
        source="playbook",
        evidence=evidence,
    )
    return Draft(
        diagnosis=diagnosis,
        edits=list(edits or []),
        reasoning=reasoning,
        risk=risk,
        risk_notes=risk_notes,
    )


def _facts(anomaly: Anomaly) -> dict[str, object]:
    message = (anomaly.exception_message or "").strip()
    return {
        "count": anomaly.count,
        "times": _times(anomaly.count),
        "first": _when(anomaly.first_seen),
        "last": _when(anomaly.last_seen),
        "template": _short(anomaly.template, 160),
        "headline": humanize(anomaly.template),
        "exception": anomaly.exception_type or "error",
        "message": _short(message, 120) or "no message",
    }


def _where_failed(failure: Failure) -> dict[str, object]:
    function = failure.frames[0].frame.function
    return {"path": failure.path, "line": failure.line, "function": function, "code": failure.code}


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _where(context: CodeContext) -> str:
    if not context.emitters:
        return ""
    emitter = context.emitters[0]
    return msg.WHERE_EMITTED.format(path=emitter.path, line=emitter.line)


def _components(context: CodeContext) -> list[str]:
    return sorted(context.evidence_files)


def _frame_components(context: CodeContext) -> list[str]:
    return [f"{f.path}:{f.frame.function}" for f in context.frames]


def evidence_facts(anomaly: Anomaly, context: CodeContext) -> list[str]:
    """Short facts a diagnosis rests on: counts and times, frames, emitters, definitions."""
    facts = [
        f'{anomaly.count} events of "{_short(anomaly.template, 120)}" '
        f"between {_when(anomaly.first_seen)} and {_when(anomaly.last_seen)}"
    ]
    facts += [f"{f.path}:{f.frame.line} in {f.frame.function}()" for f in context.frames]
    facts += [f"{e.path}:{e.line} writes the message" for e in context.emitters]
    facts += [f"{d.path}:{d.line} {d.text.strip()}" for d in context.definitions]
    return facts[:8]


def _no_edit_reason(context: CodeContext, index: RepoIndex | None) -> str:
    if index is None:
        return msg.NO_REPOSITORY
    if context.empty:
        return msg.NO_CODE_FOUND
    return msg.NEEDS_INVESTIGATION
