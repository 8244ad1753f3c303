"""Diagnosis playbooks: offline root causes and safe edits, one playbook per anomaly kind.

Used when ``MENDBOT_LM`` is unset, when the LM fails, and beyond the per-cycle LM budget.
Each playbook words a root cause from the evidence (counts, times, the raising line, the
code that emits the message) and proposes an edit only where one is clearly safe:

========================  ==================================================================
kind                      edit
========================  ==================================================================
truncation                raise the limit where it is defined (the name behind ``key=<NUM>``
                          in the emitting call, whatever it is called), to the largest
                          value needed in the samples plus 10%, rounded up
repeated_error/new_error  KeyError on a lookup in a request handler: a guard answering 404;
                          a parse of a handler parameter (JSONDecodeError, ValueError): a
                          ``try``/``except`` answering 422; anything else: none
slow_operation            none (timing needs a person)
duplicate_spike           none
========================  ==================================================================

A playbook without an edit yields "needs investigation" (no edits): still posted, never
implementable. Edits are built by :mod:`monitoring.diagnosis.guards` and always parse.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from datetime import datetime

from core.models import Anomaly, Diagnosis
from core.proposals import Risk
from monitoring.diagnosis import messages as msg
from monitoring.diagnosis.context import CodeContext
from monitoring.diagnosis.draft import Draft
from monitoring.diagnosis.emitters import template_keys
from monitoring.diagnosis.guards import GuardEdit, key_guard, parse_guard, raise_literal
from monitoring.diagnosis.repo import RepoIndex

#: Confidence of a playbook diagnosis with and without an edit.
CONFIDENCE_WITH_EDIT = 0.8
CONFIDENCE_WITHOUT_EDIT = 0.5
#: Headroom added to the largest value needed when a limit is raised.
LIMIT_HEADROOM = 1.1
_LIMIT_KEY = re.compile(r"max|limit|cap|budget|allowed|size", re.IGNORECASE)
_SECONDS = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s)\b")

Playbook = Callable[[Anomaly, CodeContext, "RepoIndex | None"], Draft]


def run_playbook(anomaly: Anomaly, context: CodeContext, index: RepoIndex | None) -> Draft:
    """The offline diagnosis of ``anomaly`` (never raises for odd input; at worst no edit)."""
    playbook = PLAYBOOKS.get(anomaly.kind, _error)
    draft = playbook(anomaly, context, index)
    if not draft.edits:
        draft.reasoning = draft.reasoning or _no_edit_reason(context, index)
        draft.risk_notes = draft.risk_notes or msg.RISK_INVESTIGATE
    return draft


# --- truncation --------------------------------------------------------------------------


def _truncation(anomaly: Anomaly, context: CodeContext, index: RepoIndex | None) -> Draft:
    keys = template_keys(anomaly.template) or [k for k in anomaly.details if _LIMIT_KEY.search(k)]
    limit_key = next((k for k in keys if _LIMIT_KEY.search(k)), keys[0] if keys else "limit")
    current = _number(anomaly, limit_key, largest=False)
    needed = max(
        filter(None, (_number(anomaly, k, largest=True) for k in keys if k != limit_key)),
        default=None,
    )
    definition = _limit_definition(context, limit_key)
    facts = {
        "key": limit_key,
        "current": current,
        "needed": needed or "?",
        "times": _times(anomaly.count),
    }
    edit = None
    if definition and current and index is not None:
        proposed = proposed_limit(current, needed)
        edit = raise_literal(index, definition, current, proposed)
    if edit and definition and current:
        where = f"{definition.path}:{definition.line}"
        root = msg.ROOT_TRUNCATION.format(name=definition.name, where=where, **facts)
        risk_notes = msg.RISK_RAISE_LIMIT
        if "environ" in definition.value or "getenv" in definition.value:
            risk_notes += msg.RISK_LIMIT_FROM_ENV.format(name=definition.name)
        reasoning = msg.REASON_RAISE_LIMIT.format(
            name=definition.name, current=current, proposed=proposed, needed=needed or "?"
        )
        return _draft(
            anomaly,
            root,
            [f"{definition.path}:{definition.name}"],
            evidence_facts(anomaly, context),
            edits=[edit],
            reasoning=reasoning,
            risk=Risk.LOW,
            risk_notes=risk_notes,
        )
    if definition:
        detail = msg.ROOT_TRUNCATION_LIMIT_NOT_LITERAL.format(
            name=definition.name,
            where=f"{definition.path}:{definition.line}",
            value=definition.value,
        )
    else:
        detail = msg.ROOT_TRUNCATION_NO_LIMIT_FOUND
    root = msg.ROOT_TRUNCATION_NO_DEFINITION.format(detail=detail, **facts)
    return _draft(anomaly, root, _components(context), evidence_facts(anomaly, context))


def proposed_limit(current: int, needed: int | None) -> int:
    """A new limit: ``needed`` plus 10% (or twice ``current``), rounded up to a round step.

    The step is 1024 when ``current`` is a multiple of 1024, else the power of ten of
    ``current``'s leading digit (3000 -> 1000, 250 -> 100).
    """
    target = needed * LIMIT_HEADROOM if needed and needed > current else current * 2
    step = 1024 if current % 1024 == 0 else 10 ** max(0, len(str(current)) - 1)
    return max(current + step, math.ceil(target / step) * step)


def _number(anomaly: Anomaly, key: str, *, largest: bool) -> int | None:
    """``key``'s value from the details or, failing that, the samples (largest or last).

    Details may hold it at the top level or one level down (``{"limits": {"max_tokens":
    3000, "needed": {"min": 3450, "max": 8292}}}``); a ``{"min", "max"}`` figure gives
    its max (``largest``) or min.
    """
    nested = [v for v in anomaly.details.values() if isinstance(v, dict)]
    for scope in (anomaly.details, *nested):
        value = scope.get(key)
        if isinstance(value, dict):
            value = value.get("max" if largest else "min")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    pattern = re.compile(rf"\b{re.escape(key)}\s*[=:]\s*(\d+)")
    found = [int(m.group(1)) for sample in anomaly.samples for m in pattern.finditer(sample)]
    if not found:
        return None
    return max(found) if largest else found[-1]


def _limit_definition(context: CodeContext, key: str):
    for emitter in context.emitters:
        expression = emitter.bindings.get(key)
        if not expression:
            continue
        names = set(re.findall(r"[A-Za-z_]\w*", expression))
        for definition in context.definitions:
            if definition.name in names:
                return definition
    return None


# --- exceptions and error logs ------------------------------------------------------------


def _error(anomaly: Anomaly, context: CodeContext, index: RepoIndex | None) -> Draft:
    if anomaly.exception_type and context.frames and index is not None:
        return _traceback(anomaly, context, index)
    facts = _facts(anomaly)
    if anomaly.exception_type and anomaly.frames:
        root = msg.ROOT_EXCEPTION_NO_CODE.format(**facts)
    else:
        root = msg.ROOT_ERROR_LOG.format(where=_where(context), **facts)
        if re.search(r"connect|unreachable|refused|timed? ?out", anomaly.template, re.I):
            root += msg.ROOT_CONNECT_HINT
    return _draft(anomaly, root, _components(context), evidence_facts(anomaly, context))


def _traceback(anomaly: Anomaly, context: CodeContext, index: RepoIndex) -> Draft:
    top = context.frames[0]
    path, line, function = top.path, top.frame.line, top.frame.function
    code = index.lines(path)[line - 1].strip() if line <= len(index.lines(path)) else ""
    facts = {**_facts(anomaly), "path": path, "line": line, "function": function, "code": code}
    short = (anomaly.exception_type or "").rsplit(".", 1)[-1]
    guard: GuardEdit | None = None
    root_template, reason, risk = msg.ROOT_EXCEPTION, "", ""
    if short == "KeyError":
        guard = key_guard(index, path, line, _literal(anomaly.exception_message))
        root_template, reason, risk = msg.ROOT_KEY_ERROR, msg.REASON_KEY_GUARD, msg.RISK_KEY_GUARD
    elif short in ("JSONDecodeError", "ValueError"):
        guard = parse_guard(index, path, line, anomaly.exception_type or "")
        root_template, reason, risk = (
            msg.ROOT_PARSE_ERROR,
            msg.REASON_PARSE_GUARD,
            msg.RISK_PARSE_GUARD,
        )
    components = [f"{f.path}:{f.frame.function}" for f in context.frames]
    evidence = evidence_facts(anomaly, context)
    if guard is not None:
        merged = {**facts, **guard.facts}
        return _draft(
            anomaly,
            root_template.format(**merged),
            components,
            evidence,
            edits=[guard.edit],
            reasoning=reason.format(**merged),
            risk=Risk.LOW,
            risk_notes=risk.format(**merged),
        )
    denominator = _denominator(index, path, line) if short == "ZeroDivisionError" else None
    if denominator:
        root = msg.ROOT_ZERO_DIVISION.format(denominator=denominator, **facts)
    else:
        root = msg.ROOT_EXCEPTION.format(**facts)
    return _draft(anomaly, root, components, evidence)


def _literal(text: str | None) -> object:
    try:
        return ast.literal_eval(text) if text else None
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _denominator(index: RepoIndex, path: str, line: int) -> str | None:
    tree = index.tree(path)
    text = index.text(path) or ""
    for node in ast.walk(tree) if tree else ():
        if not isinstance(node, ast.BinOp):
            continue
        division = isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod))
        if division and node.lineno <= line <= (node.end_lineno or node.lineno):
            return ast.get_source_segment(text, node.right) or ast.unparse(node.right)
    return None


# --- slow operations and duplicates ------------------------------------------------------


def _slow(anomaly: Anomaly, context: CodeContext, index: RepoIndex | None) -> Draft:
    root = msg.ROOT_SLOW.format(slowest=_slowest(anomaly), where=_where(context), **_facts(anomaly))
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
    root = msg.ROOT_DUPLICATES.format(where=_where(context), **_facts(anomaly))
    return _draft(anomaly, root, _components(context), evidence_facts(anomaly, context))


PLAYBOOKS: dict[str, Playbook] = {
    "truncation": _truncation,
    "repeated_error": _error,
    "new_error": _error,
    "slow_operation": _slow,
    "duplicate_spike": _duplicates,
}


# --- shared wording -----------------------------------------------------------------------


def _draft(
    anomaly: Anomaly,
    root: str,
    components: list[str],
    evidence: list[str],
    *,
    edits=None,
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
        "exception": anomaly.exception_type or "error",
        "message": _short(message, 120) or "no message",
    }


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
