"""Fix evaluation: one case run end to end, as a person with ``mendbot`` would run it.

For each case, in a scratch folder of its own:

1. a fresh git repository holding the case's service, with a bare remote (``origin``,
   branch ``main``), and the case's virtualenv (:mod:`monitoring.evaluation.venvs`);
2. the oracles on the buggy code ("before");
3. ``scan``: one cycle over the case's log (:func:`monitoring.runtime.build_pipeline`),
   with its own SQLite database and settings built from the caller's (so ``MENDBOT_LM``
   and friends carry over: the same command evaluates an LM);
4. ``implement`` of every proposal that has edits (:meth:`fixes.decisions.Decisions.implement`:
   backup, apply, validate with the case's ``validate_command``, commit, push or roll back);
5. the oracles and the service's own tests on HEAD ("after").

Incidents are matched to anomalies by their ``key`` (found in the anomaly's template or
exception type) and kind; anomalies no incident claims are reported as extra. Every
anomaly gets an LM diagnosis when an LM is configured (the per-cycle budget is lifted).

Errors: :func:`run_case` raises :class:`~monitoring.evaluation.venvs.VenvError` when the
case's virtualenv cannot be built, and ``subprocess.CalledProcessError`` when git fails.
"""

from __future__ import annotations

import shlex
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.models import Anomaly
from core.proposals import FixProposal, ProposalStatus
from fixes.decisions import DecisionRefused
from monitoring.diagnosis import Diagnoser, DiagnosisUsage
from monitoring.evaluation.cases import Case, Incident
from monitoring.evaluation.oracles import run_oracles, run_service_tests
from monitoring.evaluation.report import ExtraAnomaly, IncidentRow, judge
from monitoring.evaluation.venvs import bin_dir, ensure_venv
from monitoring.parsing.logfile import read_records
from monitoring.pipeline import CycleResult
from monitoring.runtime import Runtime, build_pipeline, build_runtime
from monitoring.scratch import scratch_repository
from settings import Settings

#: Who approves the fixes in an evaluation (the audit trail's actor).
EVAL_ACTOR = "mendbot-eval"
#: LM diagnoses allowed per case: every anomaly gets one.
EVAL_MAX_DIAGNOSES = 1_000

Progress = Callable[[str], None]


@dataclass
class CaseResult:
    """What one case gave: a row per incident, the unclaimed anomalies, the time."""

    case: Case
    rows: list[IncidentRow] = field(default_factory=list)
    extras: list[ExtraAnomaly] = field(default_factory=list)
    seconds: float = 0.0


def run_case(
    case: Case,
    *,
    settings: Settings,
    venv_cache: Path,
    progress: Progress = lambda line: None,
    keep_dir: Path | None = None,
    program: Callable[[], Any] | None = None,
) -> CaseResult:
    """Evaluate one case (see the module docstring for the steps).

    Args:
        case: the case.
        settings: the caller's settings (LM and its limits carry over; the database,
            repository, remote, branch and validation are the case's own).
        venv_cache: where the case's virtualenv is kept.
        progress: told one line per step.
        keep_dir: run in this (empty or new) folder and keep it, instead of a temporary one.
        program: the compiled diagnosis program LM diagnoses use (``mendbot eval
            --program``); None = the uncompiled one (the case's database has none).
    """
    started = time.monotonic()
    venv = ensure_venv(case.requirements, cache_dir=venv_cache)
    if keep_dir is not None:
        keep_dir.mkdir(parents=True, exist_ok=True)
        result = _run_in(
            case, keep_dir, settings=settings, venv=venv, progress=progress, program=program
        )
    else:
        with tempfile.TemporaryDirectory(prefix=f"mendbot-eval-{case.name}-") as scratch:
            result = _run_in(
                case,
                Path(scratch),
                settings=settings,
                venv=venv,
                progress=progress,
                program=program,
            )
    result.seconds = time.monotonic() - started
    return result


def _run_in(
    case: Case,
    work: Path,
    *,
    settings: Settings,
    venv: Path,
    progress: Progress,
    program: Callable[[], Any] | None = None,
) -> CaseResult:
    repo = make_repository(case.repo, work)
    oracles = [p for i in case.incidents if (p := case.oracle_path(i))]
    before = run_oracles(oracles, case_root=case.root, repo=repo, venv=venv)
    runtime = build_runtime(case_settings(settings, case, work=work, repo=repo, venv=venv))
    try:
        cycle, usage = _scan(runtime, case, program)
        progress(f"{case.name}: {cycle.summary()}")
        outcomes = _implement_all(runtime, cycle.new_proposals)
    finally:
        runtime.close()
    after = run_oracles(oracles, case_root=case.root, repo=repo, venv=venv)
    tests_after = run_service_tests(case.validate_command, repo=repo, venv=venv)
    proposals = {p.fingerprint: p for p in cycle.new_proposals}
    matched = match_incidents(case.incidents, cycle.anomalies)
    result = CaseResult(case=case)
    for incident in case.incidents:
        anomaly = matched.get(incident.name)
        oracle = case.oracle_path(incident)
        row = _row(case, incident, anomaly, proposals, outcomes, usage)
        row.oracle_before = before.get(oracle) if oracle else None
        row.oracle_after = after.get(oracle) if oracle else None
        row.service_tests_after = tests_after
        result.rows.append(judge(row))
    claimed = {a.fingerprint for a in matched.values()}
    for anomaly in cycle.anomalies:
        if anomaly.fingerprint not in claimed:
            result.extras.append(_extra(case, anomaly, proposals, outcomes))
    return result


def make_repository(source: Path, work: Path) -> Path:
    """``work/service``: a git repository on ``main`` holding ``source``'s files, pushed to
    a bare ``work/remote.git`` (``origin``); see :func:`~monitoring.scratch.scratch_repository`.
    """
    return scratch_repository(source, work, message="the service as the case ships it")


def case_settings(
    settings: Settings, case: Case, *, work: Path, repo: Path, venv: Path
) -> Settings:
    """The caller's settings with the case's database, repository, validation and test
    command (both in the case's virtualenv), no Slack and no log source."""
    in_venv = (
        f'export PATH={shlex.quote(str(bin_dir(venv)))}:"$PATH" '
        f"VIRTUAL_ENV={shlex.quote(str(venv))}; "
    )
    command = in_venv + case.validate_command if case.validate_command else None
    return settings.model_copy(
        update={
            "test_command": in_venv + settings.test_command,
            "database_url": f"sqlite:///{work / 'mendbot.db'}",
            "target_repo_path": repo,
            "git_remote": "origin",
            "git_branch": "main",
            "validate_command": command,
            "log_source": "none",
            "slack_bot_token": None,
            "slack_channel": None,
            "max_diagnoses_per_cycle": EVAL_MAX_DIAGNOSES,
        }
    )


def match_incidents(
    incidents: Sequence[Incident], anomalies: Sequence[Anomaly]
) -> dict[str, Anomaly]:
    """Incident name -> the anomaly that stands for it.

    An anomaly matches when the incident's ``key`` occurs in its template or exception
    type; one of the incident's kind is preferred, then the largest count. Each anomaly
    stands for one incident at most (incidents claim in case order).
    """
    taken: set[str] = set()
    found: dict[str, Anomaly] = {}
    for incident in incidents:
        candidates = [
            a
            for a in anomalies
            if a.fingerprint not in taken
            and (incident.key in a.template or incident.key in (a.exception_type or ""))
        ]
        if candidates:
            best = max(candidates, key=lambda a: (a.kind == incident.kind, a.count))
            taken.add(best.fingerprint)
            found[incident.name] = best
    return found


@dataclass
class _Outcome:
    status: str
    reason: str | None
    seconds: float
    proven: bool | None = None


def _scan(
    runtime: Runtime, case: Case, program: Callable[[], Any] | None = None
) -> tuple[CycleResult, dict[str, DiagnosisUsage]]:
    pipeline = build_pipeline(runtime, program=program)
    cycle = pipeline.process(read_records(str(case.log)))
    diagnoser = pipeline.diagnoser
    usage = diagnoser.usage if isinstance(diagnoser, Diagnoser) else {}
    return cycle, usage


def _implement_all(runtime: Runtime, proposals: Sequence[FixProposal]) -> dict[str, _Outcome]:
    """Fingerprint -> what ``implement`` did, for every proposal that has edits."""
    outcomes: dict[str, _Outcome] = {}
    for proposal in proposals:
        if not proposal.edits:
            continue
        started = time.monotonic()
        proven = None
        try:
            final = runtime.decisions.implement(proposal.id, actor=EVAL_ACTOR)
            status, reason, proven = final.status.value, final.error, final.proven
        except DecisionRefused as refused:
            status, reason = "refused", refused.reason
        if status != ProposalStatus.APPLIED.value and reason is None:
            reason = "not applied"
        seconds = time.monotonic() - started
        outcomes[proposal.fingerprint] = _Outcome(status, reason, seconds, proven)
    return outcomes


def _row(
    case: Case,
    incident: Incident,
    anomaly: Anomaly | None,
    proposals: dict[str, FixProposal],
    outcomes: dict[str, _Outcome],
    usage: dict[str, DiagnosisUsage],
) -> IncidentRow:
    row = IncidentRow(
        case=case.name,
        incident=incident.name,
        failure_class=incident.failure_class,
        kind=incident.kind,
        expected_count=incident.count,
        code_fix=incident.code_fix,
    )
    if anomaly is None:
        return row
    row.flagged = anomaly.kind == incident.kind
    row.flagged_kind, row.flagged_count = anomaly.kind, anomaly.count
    row.fingerprint = anomaly.fingerprint
    proposal = proposals.get(anomaly.fingerprint)
    if proposal is not None:
        row.proposal_id, row.diagnosis_source = proposal.id, proposal.diagnosis.source
        row.edits = len(proposal.edits)
        row.files = sorted({e.path for e in proposal.edits})
        test = proposal.regression_test
        row.regression_test = test.reaches or test.path if test else None
    cost = usage.get(anomaly.fingerprint)
    if cost is not None:
        row.lm_requests, row.diagnosis_seconds = cost.lm_requests, cost.seconds
        row.input_tokens, row.output_tokens = cost.input_tokens, cost.output_tokens
    outcome = outcomes.get(anomaly.fingerprint)
    if outcome is not None:
        row.outcome, row.reason, row.apply_seconds = outcome.status, outcome.reason, outcome.seconds
        row.proven = bool(outcome.proven) if outcome.status == "applied" else None
    return row


def _extra(
    case: Case, anomaly: Anomaly, proposals: dict[str, FixProposal], outcomes: dict[str, _Outcome]
) -> ExtraAnomaly:
    proposal = proposals.get(anomaly.fingerprint)
    outcome = outcomes.get(anomaly.fingerprint)
    return ExtraAnomaly(
        case=case.name,
        kind=anomaly.kind,
        template=anomaly.template[:200],
        count=anomaly.count,
        edits=len(proposal.edits) if proposal else 0,
        outcome=outcome.status if outcome else None,
    )
