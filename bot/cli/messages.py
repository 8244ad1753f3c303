"""Process entry point: the words the ``mendbot`` command line shows a person (one place).

Pure functions from our models to text; the commands print what these return.
"""

from __future__ import annotations

from datetime import datetime

from core.notifier import ProposalEvent
from core.proposals import AuditEvent, FixProposal, ProposalStatus
from core.redact import scrub_secrets

STATUSES = ", ".join(status.value for status in ProposalStatus)

NO_PROPOSALS = "no proposals yet (mendbot scan stores them)"
NO_REPOSITORY = "no repository is configured: set TARGET_REPO_PATH to the service's git checkout"


def unknown_status(value: str) -> str:
    """Error for ``fixes list --status`` with a value that is not a status."""
    return f"unknown status {value!r}; use one of: {STATUSES}"


def database_error(error: Exception) -> str:
    """Error when the database cannot be opened."""
    detail = scrub_secrets(str(error).split("\n(Background")[0].strip())
    return f"cannot open the database (DATABASE_URL): {type(error).__name__}: {detail}"


def journal_error(error: Exception) -> str:
    """Error when an interrupted fix cannot be recovered."""
    return (
        f"an interrupted fix could not be recovered: {error}\n"
        "look at the repository and .git/mendbot/ before running mendbot again"
    )


def recovered_line(proposal: FixProposal) -> str:
    """One line about a proposal that start-up recovery finished."""
    return f"recovered {proposal.id}: {_status(proposal.status)} ({proposal.error or 'done'})"


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
            p.title if p.implementable else f"{p.title} (needs investigation)",
        )
        for p in proposals
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in rows
    )


def proposal_details(proposal: FixProposal) -> str:
    """``fixes show``: the header block of one proposal."""
    a, d = proposal.anomaly, proposal.diagnosis
    lines = [
        f"{proposal.id}  {proposal.title}",
        f"status:      {_status(proposal.status)}"
        + (
            f" by {proposal.decided_by} at {_when(proposal.decided_at)}"
            if proposal.decided_by
            else ""
        ),
        f"risk:        {proposal.risk.value}"
        + (f" ({proposal.risk_notes})" if proposal.risk_notes else ""),
        f"anomaly:     {a.kind}, {a.count} event(s), {a.severity.value}, "
        f"fingerprint {a.fingerprint}",
        f"             {a.summary or a.template}",
        f"seen:        {_when(a.first_seen)} .. {_when(a.last_seen)}"
        + (f", {proposal.seen_again} more since posted" if proposal.seen_again else ""),
        f"root cause:  {d.root_cause}",
        f"confidence:  {d.confidence:.0%} ({d.source}{', ' + d.model if d.model else ''})",
    ]
    if proposal.reasoning:
        lines.append(f"reasoning:   {proposal.reasoning}")
    if proposal.commit_sha:
        lines.append(f"commit:      {proposal.commit_sha}")
    if proposal.error:
        lines.append(f"error:       {proposal.error}")
    lines.extend(f"note:        {note}" for note in proposal.notes)
    return "\n".join(lines)


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
        text = ", ".join(f"{k}={v}" for k, v in details.items())
        lines.append(f"{_when(event.at)}  {event.actor:<16} {event.action:<18} {text}".rstrip())
        output = event.details.get("output") or event.details.get("validation_output")
        if output and event.action == "validation_output":
            lines.extend("    | " + line for line in str(output).splitlines()[-20:])
    return "\n".join(lines)


def progress(event: ProposalEvent) -> str | None:
    """``fixes implement``: one line per step as it happens (None for steps not shown)."""
    details = event.details
    if event.kind == "approved":
        return f"approved by {event.actor}"
    if event.kind == "applying":
        return "backed up and applying: " + ", ".join(details.get("files", []))
    if event.kind == "validation_passed":
        checks = "; ".join(details.get("checks", [])) or "nothing to check"
        again = " (after rebasing onto the remote)" if details.get("after_rebase") else ""
        return f"validation passed{again}: {checks}"
    if event.kind == "validation_failed":
        return f"validation failed ({details.get('check')}):\n{details.get('output', '')}"
    return None


def outcome(proposal: FixProposal) -> str:
    """``fixes implement``: the final line(s) for the proposal's status."""
    if proposal.status is ProposalStatus.APPLIED and proposal.action is not None:
        return f"{proposal.id} done: {proposal.action.describe()}"
    if proposal.status is ProposalStatus.APPLIED:
        return f"{proposal.id} applied: commit {proposal.commit_sha} pushed"
    reason = proposal.error or "no reason recorded"
    return f"{proposal.id} {_status(proposal.status)}: {reason}"


def rejected(proposal: FixProposal) -> str:
    """``fixes reject``: confirmation."""
    return f"{proposal.id} rejected by {proposal.decided_by}"
