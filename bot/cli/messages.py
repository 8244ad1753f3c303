"""Process entry point: the words the ``mendbot`` command line shows a person (one place).

Pure functions from our models to text; the commands print what these return (through
:func:`bot.cli.support.out`, which makes every line printable). Values that came from
logs, an LM or a person (titles, root causes, reasons, actors) are flattened to one line
(:func:`core.text.one_line`) where a line is theirs, and indented under their label where
they may span lines, so no value can pose as a field, a table row or an audit event.
"""

from __future__ import annotations

from datetime import datetime

from core.notifier import ProposalEvent
from core.proposals import AuditEvent, FixProposal, ProposalStatus, proof_status
from core.text import one_line, printable
from fixes.apply.contract import RevertOutcome
from fixes.persistence.db import driver_reason
from fixes.persistence.errors import DatabaseUnusable

STATUSES = ", ".join(status.value for status in ProposalStatus)

NO_PROPOSALS = "no proposals yet (mendbot scan stores them)"
NO_REPOSITORY = "no repository is configured: set TARGET_REPO_PATH to the service's git checkout"


def unknown_status(value: str) -> str:
    """Error for ``fixes list --status`` with a value that is not a status."""
    return f"unknown status {value!r}; use one of: {STATUSES}"


def database_error(error: BaseException) -> str:
    """``mendbot: cannot open the database (DATABASE_URL): <where>: <why>``, one line.

    Args:
        error: a :class:`~fixes.persistence.errors.DatabaseUnusable` (its text says where
            and why), or a SQLAlchemy error raised later (its driver's reason is shown,
            never its SQL or parameters, which may quote log text).
    """
    reason = str(error) if isinstance(error, DatabaseUnusable) else driver_reason(error)
    return f"mendbot: cannot open the database (DATABASE_URL): {one_line(reason, 600)}"


def journal_error(error: Exception) -> str:
    """Error when an interrupted fix cannot be recovered."""
    return (
        f"an interrupted fix could not be recovered: {error}\n"
        "look at the repository and .git/mendbot/ before running mendbot again"
    )


def recovered_line(proposal: FixProposal) -> str:
    """One line about a proposal that start-up recovery finished."""
    reason = one_line(proposal.error or "done", 300)
    return f"recovered {proposal.id}: {_status(proposal.status)} ({reason})"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


def _status(status: ProposalStatus) -> str:
    return status.value.replace("_", " ")


def proposal_table(proposals: list[FixProposal]) -> str:
    """``fixes list``: one aligned row per proposal (id, status, risk, created, title)."""
    rows = [("ID", "STATUS", "RISK", "CREATED", "TITLE")]
    rows += [
        (
            p.id,
            p.status.value,
            p.risk.value,
            _when(p.created_at),
            one_line(p.title if p.implementable else f"{p.title} (needs investigation)", 200),
        )
        for p in proposals
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in rows
    )


_EVIDENCE_KIND = {
    "frame": "traceback frame",
    "emitter": "writes the message",
    "definition": "definition it uses",
}


def proposal_details(proposal: FixProposal) -> str:
    """``fixes show``: the header block of one proposal, one ``label: value`` per field."""
    a, d = proposal.anomaly, proposal.diagnosis
    decided = (
        f" by {one_line(proposal.decided_by, 128)} at {_when(proposal.decided_at)}"
        if proposal.decided_by
        else ""
    )
    risk_notes = f" ({proposal.risk_notes})" if proposal.risk_notes else ""
    again = f", {proposal.seen_again} more since posted" if proposal.seen_again else ""
    lines = [
        f"{proposal.id}  {one_line(proposal.title, 200)}",
        _field("status", f"{_status(proposal.status)}{decided}"),
        _field("risk", f"{proposal.risk.value}{risk_notes}"),
        *(_field("", f"! {reason}") for reason in proposal.risk_reasons),
        _field(
            "anomaly",
            f"{a.kind}, {a.count} event(s), {a.severity.value}, fingerprint {a.fingerprint}",
        ),
        _field("", one_line(a.summary or a.template, 500)),
        _field("seen", f"{_when(a.first_seen)} .. {_when(a.last_seen)}{again}"),
        _field("root cause", d.root_cause),
        _field("confidence", _confidence(proposal)),
    ]
    lines.extend(
        _field("evidence", f"{e.path}:{e.line} in {e.function} ({_EVIDENCE_KIND[e.kind]})")
        for e in proposal.evidence
    )
    if proposal.reasoning:
        lines.append(_field("reasoning", proposal.reasoning))
    if proposal.implementable:
        lines.append(_field("proof", proof_status(proposal)))
    if proposal.commit_sha:
        lines.append(_field("commit", one_line(proposal.commit_sha)))
    if proposal.error:
        lines.append(_field("error", proposal.error))
    lines.extend(_field("note", note) for note in proposal.notes)
    return "\n".join(lines)


def _confidence(proposal: FixProposal) -> str:
    """``80% (playbook)``, or calibrated by the track record of fixes of the same kind:
    ``78% (playbook; fixes of this kind: 7 of 9 verified; stated 80%)``."""
    d, record = proposal.diagnosis, proposal.track_record
    source = f"{d.source}{', ' + d.model if d.model else ''}"
    if record is None:
        return f"{d.confidence:.0%} ({source})"
    return f"{record.confidence:.0%} ({source}; {record.sentence()}; stated {d.confidence:.0%})"


_LABEL_WIDTH = 13


def _field(label: str, value: str) -> str:
    """``label:`` padded to one width, then ``value``; a value's later lines are indented
    to the value's column, so none of them can start with a label of its own."""
    head = f"{label}:".ljust(_LABEL_WIDTH) if label else " " * _LABEL_WIDTH
    lines = printable(value).splitlines() or [""]
    indent = "\n" + " " * _LABEL_WIDTH
    return head + indent.join(line.rstrip() for line in lines)


def no_change(proposal: FixProposal | None = None) -> str:
    """``fixes show`` for a proposal without edits: its action, or "needs investigation"."""
    if proposal is not None and proposal.action is not None:
        action = proposal.action
        rule = f", runbook rule {action.rule}" if action.rule else ""
        return f"action: {action.describe()} (trust level {action.trust}{rule})"
    return "(no change proposed: needs investigation)"


def audit_lines(events: list[AuditEvent]) -> str:
    """``fixes show``: the audit trail, oldest first, one event per line (output indented)."""
    lines = []
    for event in events:
        details = {
            k: v
            for k, v in event.details.items()
            if k not in ("from", "output", "validation_output")
        }
        text = ", ".join(f"{k}={one_line(str(v), 300)}" for k, v in details.items())
        actor, action = one_line(event.actor, 64), one_line(event.action, 64)
        lines.append(f"{_when(event.at)}  {actor:<16} {action:<18} {text}".rstrip())
        output = event.details.get("output") or event.details.get("validation_output")
        if output and event.action == "validation_output":
            lines.extend("    | " + line for line in printable(str(output)).splitlines()[-20:])
    return "\n".join(lines)


def progress(event: ProposalEvent) -> str | None:
    """``fixes implement``: one line per step as it happens (None for steps not shown)."""
    details = event.details
    if event.kind == "approved":
        return f"approved by {one_line(event.actor or 'someone', 128)}"
    if event.kind == "applying":
        return "backed up and applying: " + ", ".join(
            one_line(str(f), 200) for f in details.get("files", [])
        )
    if event.kind == "validation_passed":
        checks = "; ".join(one_line(str(c), 200) for c in details.get("checks", []))
        checks = checks or "nothing to check"
        again = " (after rebasing onto the remote)" if details.get("after_rebase") else ""
        return f"validation passed{again}: {checks}"
    if event.kind == "validation_failed":
        check = one_line(str(details.get("check")), 200)
        return f"validation failed ({check}):\n{printable(str(details.get('output', '')))}"
    if event.kind == "pull_request_opened":
        pull = details.get("pull_request") or {}
        url, branch = one_line(str(pull.get("url")), 300), one_line(str(pull.get("branch")), 200)
        return f"pull request opened: {url} (branch {branch})"
    if event.kind == "reverting":
        fix = str(details.get("fix_commit") or "")[:12]
        return f"backed up and reverting {fix}: " + ", ".join(
            one_line(str(f), 300) for f in details.get("files", [])
        )
    return None


def outcome(proposal: FixProposal) -> str:
    """``fixes implement``: the final line(s) for the proposal's status."""
    if proposal.status is ProposalStatus.APPLIED and proposal.action is not None:
        return f"{proposal.id} done: {proposal.action.describe()}"
    if proposal.status is ProposalStatus.APPLIED:
        return (
            f"{proposal.id} applied: commit {proposal.commit_sha} pushed. {proof_status(proposal)}"
        )
    if proposal.status is ProposalStatus.AWAITING_MERGE:
        return (
            f"{proposal.id} awaiting merge: commit {proposal.commit_sha} pushed to "
            f"mendbot/{proposal.id}, pull request open; it is applied once merged"
        )
    reason = one_line(proposal.error or "no reason recorded", 1000)
    return f"{proposal.id} {_status(proposal.status)}: {reason}"


def rejected(proposal: FixProposal) -> str:
    """``fixes reject``: confirmation."""
    return f"{proposal.id} rejected by {one_line(proposal.decided_by or 'someone', 128)}"


def revert_outcome(proposal: FixProposal, outcome: RevertOutcome) -> str:
    """``fixes revert``: the final line for what the revert did."""
    if outcome.status == "reverted" and outcome.already:
        return f"{proposal.id} reverted: the remote already had its revert {outcome.revert_sha}"
    if outcome.status == "reverted":
        return f"{proposal.id} reverted: commit {outcome.revert_sha} pushed"
    kept = f" (the revert commit is kept on {outcome.kept_branch})" if outcome.kept_branch else ""
    reason = one_line(outcome.reason or "no reason recorded", 1000)
    return f"{proposal.id} not reverted ({outcome.status}): {reason}{kept}"
