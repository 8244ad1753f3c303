"""Process entry point: what ``mendbot scan`` prints (JSON lines, rich tables, the summary).

Pure functions from our models to JSON-ready dicts, rich renderables and text, plus the
scan command's user-facing messages, so that the command module only decides what to
show. Log text is untrusted: every cell is a plain :class:`rich.text.Text` (never console
markup, so ``[bold]`` in a log line stays text) made :func:`core.text.printable`, and
JSON lines are written by :func:`core.text.json_text` (valid JSON that decodes to the
exact text, with control and invisible characters as ``\\u`` escapes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import IO, Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from core.models import Anomaly, Severity
from core.proposals import FixProposal
from core.text import json_text, one_line, printable

NO_SOURCE = "no log source configured; pass a PATH or '-' (stdin)"
#: Proposals whose change a human scan shows as a diff.
MAX_DIFFS = 3
NO_ANOMALIES = "no anomalies"
TEMPLATE_WIDTH = 160
#: Rows a human table shows before saying how many more there are.
MAX_ROWS = 30
#: Console width (columns) from which the anomaly table also shows when things were seen.
WIDE = 120
_SEVERITY_STYLE = {
    Severity.CRITICAL: "bold red",
    Severity.HIGH: "red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
}


def input_error(message: str) -> str:
    """One line for an unreadable input (the ``LogInputError`` text)."""
    return f"cannot scan: {one_line(message)}"


def repo_error(message: str) -> str:
    """One line for a ``--repo`` that cannot be used."""
    return f"cannot use --repo: {message}"


def scratch_note(asked: str, copy: object) -> str:
    """Where ``--repo`` was copied, and that the folder itself is left alone."""
    return f"diagnosing against a scratch git copy of {asked} at {copy} ({asked} is not changed)"


def apply_on_copy(copy: object) -> str:
    """How to apply a proposal to the scratch copy."""
    return f"to apply one to the copy: TARGET_REPO_PATH={copy} mendbot fixes implement ID"


def progress_line(records: int) -> str:
    """The stderr progress note for long inputs."""
    return f"scanning... {records:,} records"


def anomaly_to_json(anomaly: Anomaly) -> dict[str, Any]:
    """``{"type": "anomaly", <every Anomaly field>}``; datetimes as ISO 8601 strings."""
    return {"type": "anomaly", **anomaly.model_dump(mode="json")}


def proposal_to_json(proposal: FixProposal) -> dict[str, Any]:
    """``{"type": "proposal", "id", "fingerprint", "root_cause", "edits", ...}``.

    ``edits`` is a list of ``{"path", "old_text", "new_text"}`` (paths relative to the
    repository); ``risk`` and ``status`` are their string values; ``risk_reasons`` the
    risky constructs the edits add or remove (any makes ``risk`` HIGH).
    """
    return {
        "type": "proposal",
        "id": proposal.id,
        "fingerprint": proposal.fingerprint,
        "title": proposal.title,
        "root_cause": proposal.diagnosis.root_cause,
        "edits": [
            {"path": e.path, "old_text": e.old_text, "new_text": e.new_text} for e in proposal.edits
        ],
        "reasoning": proposal.reasoning,
        "risk": proposal.risk.value,
        "risk_reasons": list(proposal.risk_reasons),
        "status": proposal.status.value,
    }


def write_json_lines(objects: Iterable[dict[str, Any]], stream: IO[str]) -> None:
    """One compact JSON object per line (non-ASCII kept; control, bidi and invisible
    characters as JSON ``\\u`` escapes, see :func:`core.text.json_text`)."""
    for obj in objects:
        stream.write(json_text(obj) + "\n")


def plain(text: str, limit: int | None = None) -> Text:
    """Untrusted text as a rich ``Text``: no markup, acting characters shown as escapes."""
    shown = printable(text)
    if limit is not None and len(shown) > limit:
        shown = shown[: limit - 1] + "…"
    return Text(shown)


def anomaly_table(anomalies: list[Anomaly], *, width: int = 80) -> Table:
    """Anomalies in the given order: severity, kind, count, template (and logger), and on
    consoles at least :data:`WIDE` columns wide, when they were seen (UTC)."""
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    table.add_column("severity", no_wrap=True)
    table.add_column("kind", no_wrap=True)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("template / logger", ratio=1, overflow="fold")
    wide = width >= WIDE
    if wide:
        table.add_column("seen (UTC)", no_wrap=True)
    for a in anomalies:
        what = Text(one_line(a.template, TEMPLATE_WIDTH))
        if a.logger:
            what.append("\n" + one_line(a.logger, TEMPLATE_WIDTH), style="dim")
        row = [
            Text(a.severity.value, style=_SEVERITY_STYLE[a.severity]),
            Text(a.kind),
            Text(str(a.count)),
            what,
        ]
        table.add_row(*row, *([_seen(a)] if wide else []))
    return table


def _seen(anomaly: Anomaly) -> Text:
    first, last = anomaly.first_seen, anomaly.last_seen
    if first.date() == last.date():
        return Text(f"{first:%Y-%m-%d %H:%M:%S}-{last:%H:%M:%S}")
    return Text(f"{first:%Y-%m-%d %H:%M}-{last:%Y-%m-%d %H:%M}")


def proposal_table(proposals: list[FixProposal]) -> Table:
    """A table of proposals: id, status, risk, title, and how many edits they carry."""
    table = Table(box=box.SIMPLE_HEAD, header_style="bold", pad_edge=False)
    for column in ("id", "status", "risk", "edits"):  # ids are copied into commands
        table.add_column(column, no_wrap=True)
    table.add_column("title", ratio=1, overflow="fold")
    for p in proposals:
        edits = str(len(p.edits)) if p.edits else "none"
        cells = (p.id, p.status.value, p.risk.value, edits)
        table.add_row(*map(Text, cells), Text(one_line(p.title, TEMPLATE_WIDTH)))
    return table


def next_steps(proposals: list[FixProposal]) -> str | None:
    """How to act on the proposals (None when there are none)."""
    if not proposals:
        return None
    lines = ["details: mendbot fixes show ID"]
    if any(p.implementable for p in proposals):
        lines.append("apply:   mendbot fixes implement ID   (needs TARGET_REPO_PATH)")
    if not all(p.implementable for p in proposals):
        lines.append("edits none = needs investigation: a root cause, no safe change to apply")
    return "\n".join(lines)


def summary_line(
    records: int, anomalies: list[Anomaly], proposals: list[FixProposal] | None = None
) -> str:
    """E.g. ``498 records, 7 anomalies (3 HIGH, 2 MEDIUM, 2 LOW), 2 proposals``."""
    text = f"{records:,} record{'s' if records != 1 else ''}, "
    if anomalies:
        counts = Counter(a.severity for a in anomalies)
        by_severity = ", ".join(f"{counts[s]} {s.value}" for s in reversed(Severity) if counts[s])
        text += f"{len(anomalies)} anomal{'ies' if len(anomalies) != 1 else 'y'} ({by_severity})"
    else:
        text += NO_ANOMALIES
    if proposals is not None:
        text += f", {len(proposals)} proposal{'s' if len(proposals) != 1 else ''}"
    return text


def render(
    console: Console,
    records: int,
    anomalies: list[Anomaly],
    proposals: list[FixProposal] | None = None,
    diffs: list[tuple[FixProposal, str]] = (),  # type: ignore[assignment]
) -> None:
    """The human output of a scan: the anomaly table, the proposal table, the first
    changes as diffs, the summary.

    Each table shows at most :data:`MAX_ROWS` rows (the first ones: most severe first), then
    a line saying how many more there are and where to see them, so a pathological log
    does not flood the terminal; ``--json`` always has every one.
    """
    if anomalies:
        console.print(anomaly_table(anomalies[:MAX_ROWS], width=console.width))
        if len(anomalies) > MAX_ROWS:
            console.print(plain(more_anomalies(len(anomalies) - MAX_ROWS)), style="dim")
    if proposals:
        console.print(proposal_table(proposals[:MAX_ROWS]))
        if len(proposals) > MAX_ROWS:
            console.print(plain(more_proposals(len(proposals))), style="dim")
        for proposal, diff in diffs:  # long lines overflow rather than wrap: copyable
            console.print(plain(f"{proposal.id}  {proposal.title}"), style="bold", soft_wrap=True)
            console.print(plain(diff.rstrip("\n")), soft_wrap=True)
        more = sum(bool(p.edits) for p in proposals) - len(diffs)
        if more > 0:
            console.print(plain(f"{more} more with a change: mendbot fixes show ID"), style="dim")
        console.print(plain(next_steps(proposals) or ""), style="dim")
    console.print(plain(summary_line(records, anomalies, proposals)))


def more_anomalies(hidden: int) -> str:
    """The line under an anomaly table cut to :data:`MAX_ROWS` rows."""
    return f"... and {hidden:,} more anomalies (mendbot scan --json lists every one)"


def more_proposals(total: int) -> str:
    """The line under a proposal table cut to :data:`MAX_ROWS` rows."""
    return (
        f"... and {total - MAX_ROWS:,} more proposals "
        f"(mendbot fixes list --status proposed --limit {total} lists every one)"
    )
