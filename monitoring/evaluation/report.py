"""Fix evaluation: per-incident rows, the summary over them, floors, and the tables.

One :class:`IncidentRow` per incident says what happened to it; :func:`judge` derives the
verdicts from the facts, so the rules are in one place:

- **fixed**: a fix was applied (pushed), its oracle failed before and passes after, and
  nothing made it harmful;
- **harmful**: a fix was applied and its oracle still fails after, or the service's own
  tests fail on the final HEAD, or the incident needed no code change at all;
- **correct no-code-change**: an incident whose right answer is no code change was
  flagged and its proposal has no edits ("needs investigation").

- **proven**: an applied fix whose regression test failed on the unfixed code with the
  logged exception and passed after the fix (the summary gives the count and the share of
  applied fixes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table


@dataclass
class IncidentRow:
    """What happened to one incident of one case (facts first, verdicts last).

    Attributes:
        case, incident, failure_class, kind, expected_count, code_fix: from the case.
        flagged: an anomaly of the expected kind matched the incident's key.
        flagged_kind, flagged_count: the matched anomaly's kind and event count (also set
            when only the key matched, with another kind).
        fingerprint, proposal_id: the anomaly and its proposal.
        diagnosis_source: ``lm`` or ``playbook``.
        edits: edits proposed; files: the files they touch.
        outcome: ``applied``, ``rolled_back``, ``failed`` or ``refused`` after implement;
            None when nothing was implemented. reason: why it did not apply.
        oracle_before, oracle_after: the oracle passed on the buggy code / on HEAD at the
            end (None: no oracle).
        service_tests_after: the case's ``validate_command`` passed on HEAD at the end.
        lm_requests, input_tokens, output_tokens: what the diagnosis sent and got.
        diagnosis_seconds, apply_seconds: wall time of the diagnosis and the implement.
        regression_test: how the proposal's regression test reaches the failure
            (``GET /rooms/lobby``), None without one.
        proven: applied with a regression test that failed before and passed after (None
            when nothing was applied).
        fixed, harmful, harm, no_code_change_correct: verdicts (:func:`judge`).
    """

    case: str
    incident: str
    failure_class: str
    kind: str
    expected_count: int
    code_fix: bool
    flagged: bool = False
    flagged_kind: str | None = None
    flagged_count: int | None = None
    fingerprint: str | None = None
    proposal_id: str | None = None
    diagnosis_source: str | None = None
    edits: int = 0
    files: list[str] = field(default_factory=list)
    outcome: str | None = None
    reason: str | None = None
    oracle_before: bool | None = None
    oracle_after: bool | None = None
    service_tests_after: bool | None = None
    lm_requests: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    diagnosis_seconds: float = 0.0
    apply_seconds: float = 0.0
    regression_test: str | None = None
    fixed: bool = False
    harmful: bool = False
    harm: str | None = None
    no_code_change_correct: bool | None = None
    proven: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"type": "incident", ...every field}``, seconds rounded to milliseconds."""
        data = asdict(self)
        for key in ("diagnosis_seconds", "apply_seconds"):
            data[key] = round(data[key], 3)
        return {"type": "incident", **data}


@dataclass
class ExtraAnomaly:
    """An anomaly no incident accounts for (a false positive, or a case's gap)."""

    case: str
    kind: str
    template: str
    count: int
    edits: int
    outcome: str | None


def judge(row: IncidentRow) -> IncidentRow:
    """Fill in ``fixed``, ``harmful`` / ``harm`` and ``no_code_change_correct``."""
    applied = row.outcome == "applied"
    harm = None
    if applied and not row.code_fix:
        harm = "changed code for an incident that needs no code change"
    elif applied and row.oracle_after is False:
        harm = "applied, but the oracle still fails"
    elif applied and row.service_tests_after is False:
        harm = "the service's own tests fail after the fixes"
    row.harm, row.harmful = harm, harm is not None
    row.fixed = (
        applied
        and row.code_fix
        and not row.harmful
        and row.oracle_before is False
        and row.oracle_after is True
    )
    row.no_code_change_correct = None if row.code_fix else (row.flagged and row.edits == 0)
    return row


def summarize(
    rows: Sequence[IncidentRow], extras: Sequence[ExtraAnomaly], *, seconds: float
) -> dict[str, Any]:
    """The summary object: counts, LM cost per diagnosis, and one entry per case.

    Returns:
        ``{"type": "summary", "incidents", "flagged", "fixed", "harmful",
        "no_code_change_correct", "proven", "proven_share", ..., "cases": {name:
        {...same counts}}}``; ``proven_share`` is proven / applied (None when nothing was
        applied).
    """
    summary: dict[str, Any] = {"type": "summary", **_counts(rows, extras)}
    diagnosed = [r for r in rows if r.proposal_id]
    tokens = sum(r.input_tokens + r.output_tokens for r in diagnosed)
    summary["diagnoses"] = len(diagnosed)
    summary["lm_requests"] = sum(r.lm_requests for r in rows)
    summary["input_tokens"] = sum(r.input_tokens for r in rows)
    summary["output_tokens"] = sum(r.output_tokens for r in rows)
    summary["tokens_per_diagnosis"] = round(tokens / len(diagnosed), 1) if diagnosed else 0.0
    diagnosis_seconds = sum(r.diagnosis_seconds for r in diagnosed)
    summary["seconds_per_diagnosis"] = (
        round(diagnosis_seconds / len(diagnosed), 3) if diagnosed else 0.0
    )
    summary["seconds"] = round(seconds, 1)
    names = sorted({r.case for r in rows})
    summary["cases"] = {
        name: _counts([r for r in rows if r.case == name], [e for e in extras if e.case == name])
        for name in names
    }
    return summary


def _counts(rows: Sequence[IncidentRow], extras: Sequence[ExtraAnomaly]) -> dict[str, Any]:
    code = [r for r in rows if r.code_fix]
    applied = [r for r in rows if r.outcome == "applied"]
    return {
        "incidents": len(rows),
        "code_fix_incidents": len(code),
        "no_code_change_incidents": len(rows) - len(code),
        "flagged": sum(r.flagged for r in rows),
        "proposals_with_edits": sum(r.edits > 0 for r in rows),
        "applied": len(applied),
        "rolled_back": sum(r.outcome in ("rolled_back", "failed") for r in rows),
        "fixed": sum(r.fixed for r in rows),
        "harmful": sum(r.harmful for r in rows),
        "no_code_change_correct": sum(bool(r.no_code_change_correct) for r in rows),
        "proven": sum(r.proven is True for r in applied),
        "proven_share": round(sum(r.proven is True for r in applied) / len(applied), 3)
        if applied
        else None,
        "oracles_passing_before": sum(r.oracle_before is True for r in code),
        "extra_anomalies": len(extras),
        "extra_applied": sum(e.outcome == "applied" for e in extras),
    }


@dataclass(frozen=True)
class Floors:
    """What a run must reach (None = no floor)."""

    min_fixed: int | None = None
    max_harmful: int | None = None
    min_flagged: int | None = None
    min_no_code_change_correct: int | None = None

    def failures(self, summary: dict[str, Any]) -> list[str]:
        """One sentence per floor the summary misses (empty when all are met)."""
        problems = []
        for name, need in (
            ("fixed", self.min_fixed),
            ("flagged", self.min_flagged),
            ("no_code_change_correct", self.min_no_code_change_correct),
        ):
            if need is not None and summary[name] < need:
                problems.append(f"{name} {summary[name]} is below the floor {need}")
        if self.max_harmful is not None and summary["harmful"] > self.max_harmful:
            problems.append(f"harmful {summary['harmful']} is above the ceiling {self.max_harmful}")
        return problems


# --- tables ---------------------------------------------------------------------------------


def incident_table(rows: Iterable[IncidentRow]) -> Table:
    """One line per incident: expected, flagged, edits and what became of them, the oracle
    before -> after, the verdict (``*`` marks an incident that needs no code change)."""
    table = Table(title="incidents", title_justify="left")
    for column in ("incident", "expected", "flagged", "edits", "oracle", "verdict"):
        table.add_column(column, no_wrap=column != "verdict")
    for r in rows:
        if r.flagged:
            flagged = f"x{r.flagged_count}"
        elif r.flagged_kind:
            flagged = f"as {r.flagged_kind} x{r.flagged_count}"
        else:
            flagged = "no"
        edits = f"{r.edits} {r.outcome.replace('_', ' ')}" if r.outcome else str(r.edits)
        table.add_row(
            f"{r.case}/{r.incident}" + ("" if r.code_fix else " *"),
            f"{r.kind} x{r.expected_count}",
            flagged,
            edits,
            "-"
            if r.oracle_before is None
            else f"{_mark(r.oracle_before)}->{_mark(r.oracle_after)}",
            verdict(r),
        )
    return table


def verdict(row: IncidentRow) -> str:
    """A word for the row: fixed, HARMFUL, no change (correct), missed, ..."""
    if row.harmful:
        return "HARMFUL"
    if row.fixed:
        return "fixed"
    if row.no_code_change_correct:
        return "no change (correct)"
    if not row.flagged:
        return "not flagged"
    if row.outcome in ("rolled_back", "failed", "refused"):
        return row.outcome.replace("_", " ")
    return "needs investigation" if row.edits == 0 else "not fixed"


def case_table(summary: dict[str, Any]) -> Table:
    """One line per case and a total: flagged, fixed, harmful, no-code-change correct, and
    proven of applied."""
    table = Table(title="cases", title_justify="left")
    table.add_column("case", no_wrap=True)
    for column in ("incidents", "flagged", "fixed", "harmful", "no change ok", "proven", "extra"):
        table.add_column(column, justify="right")
    items = [*summary["cases"].items(), ("total", summary)]
    for name, c in items:
        table.add_row(
            name,
            str(c["incidents"]),
            f"{c['flagged']}/{c['incidents']}",
            f"{c['fixed']}/{c['code_fix_incidents']}",
            str(c["harmful"]),
            f"{c['no_code_change_correct']}/{c['no_code_change_incidents']}",
            f"{c['proven']}/{c['applied']}",
            str(c["extra_anomalies"]),
        )
    return table


def render(console: Console, rows: Sequence[IncidentRow], summary: dict[str, Any]) -> None:
    """Both tables and a line of LM cost and time."""
    console.print(incident_table(rows))
    console.print(case_table(summary))
    console.print(
        f"{summary['diagnoses']} diagnoses: {summary['lm_requests']} LM requests, "
        f"{summary['tokens_per_diagnosis']:g} tokens and "
        f"{summary['seconds_per_diagnosis']:.3f} s per diagnosis; "
        f"{summary['seconds']:.1f} s in all"
    )


def _mark(value: bool | None) -> str:
    return "-" if value is None else ("pass" if value else "fail")
