"""Process entry point: ``mendbot fixes list | show ID | implement ID | reject ID | revert ID``.

The same decisions as in Slack (through :class:`~fixes.decisions.Decisions`), for a
terminal; the actor in the audit trail is ``cli:<login>`` or ``--as NAME``. Results go to
stdout, progress and errors to stderr; exit codes as in :mod:`bot.cli.main`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from bot.cli import messages as say
from bot.cli.support import err, local_actor, out
from core.edits import unified_diff
from core.notifier import NullNotifier, ProposalEvent
from core.proposals import FixProposal, ProposalStatus
from core.text import json_text
from fixes.apply.journal import JournalError
from fixes.decisions import DecisionRefused
from fixes.persistence.errors import DatabaseUnusable
from fixes.persistence.store import ProposalNotFound
from monitoring.runtime import Runtime, build_runtime
from settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


class _ProgressNotifier(NullNotifier):
    """Prints each step of an implement to stderr as it happens."""

    def post_event(self, proposal: FixProposal, event: ProposalEvent) -> None:
        line = say.progress(event)
        if line:
            err(line)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``mendbot fixes <action>``; returns the exit code (0, 1, 2 or 3)."""
    try:
        runtime = build_runtime(settings, notifier=_ProgressNotifier())
    except (DatabaseUnusable, SQLAlchemyError) as error:
        err(say.database_error(error))
        return EXIT_USAGE
    except JournalError as error:
        err(say.journal_error(error))
        return EXIT_FAILED
    try:
        for proposal in runtime.recovered:
            err(say.recovered_line(proposal))
        return _ACTIONS[args.action](args, runtime)
    except DecisionRefused as refused:
        err(refused.reason)
        return EXIT_USAGE if refused.code == "no_repository" else EXIT_REFUSED
    except SQLAlchemyError as error:  # the database failed after it opened
        err(say.database_error(error))
        return EXIT_USAGE
    finally:
        runtime.close()


def _list(args: argparse.Namespace, runtime: Runtime) -> int:
    statuses = None
    if args.status:
        try:
            statuses = {ProposalStatus(args.status.strip().lower())}
        except ValueError:
            err(say.unknown_status(args.status))
            return EXIT_USAGE
    if args.limit < 1:
        err("--limit must be at least 1")
        return EXIT_USAGE
    proposals = runtime.store.list(statuses=statuses, limit=args.limit)
    if args.json:
        for proposal in proposals:
            out(json_text(proposal.model_dump(mode="json")))
    elif proposals:
        out(say.proposal_table(proposals))
    else:
        err(say.NO_PROPOSALS)
    return EXIT_OK


def _show(args: argparse.Namespace, runtime: Runtime) -> int:
    try:
        proposal = runtime.store.get(args.id)
    except ProposalNotFound:
        raise DecisionRefused(args.id, "not_found", f"there is no proposal {args.id}") from None
    trail = runtime.store.audit_trail(proposal.id)
    repo = runtime.implementor.repo_path if runtime.implementor else None
    diff = unified_diff(proposal.edits, repo_root=repo) if proposal.edits else ""
    if args.json:
        payload = proposal.model_dump(mode="json")
        payload["diff"] = diff
        payload["audit"] = [event.model_dump(mode="json") for event in trail]
        out(json_text(payload))
        return EXIT_OK
    out(say.proposal_details(proposal))
    out()
    out(diff.rstrip("\n") if diff else say.no_change(proposal))
    out()
    out(say.audit_lines(trail))
    return EXIT_OK


def _implement(args: argparse.Namespace, runtime: Runtime) -> int:
    if runtime.implementor is None and not _is_action(runtime, args.id):
        err(say.NO_REPOSITORY)
        return EXIT_USAGE
    final = runtime.decisions.implement(args.id, actor=local_actor(args.actor))
    if final.status in (ProposalStatus.APPLIED, ProposalStatus.AWAITING_MERGE):
        out(say.outcome(final))
        return EXIT_OK
    err(say.outcome(final))
    return EXIT_FAILED


def _is_action(runtime: Runtime, proposal_id: str) -> bool:
    """True when the proposal carries an operational action (no repository needed)."""
    try:
        return runtime.store.get(proposal_id).action is not None
    except ProposalNotFound:
        return False


def _reject(args: argparse.Namespace, runtime: Runtime) -> int:
    final = runtime.decisions.reject(
        args.id, actor=local_actor(args.actor), reason=args.reason or ""
    )
    out(say.rejected(final))
    return EXIT_OK


def _revert(args: argparse.Namespace, runtime: Runtime) -> int:
    if runtime.implementor is None:
        err(say.NO_REPOSITORY)
        return EXIT_USAGE
    result = runtime.decisions.revert(
        args.id, actor=local_actor(args.actor), reason=args.reason or ""
    )
    if result.reverted:
        out(say.revert_outcome(result.proposal, result.outcome))
        return EXIT_OK
    err(say.revert_outcome(result.proposal, result.outcome))
    return EXIT_FAILED


_ACTIONS: dict[str, Callable[[argparse.Namespace, Runtime], int]] = {
    "list": _list,
    "show": _show,
    "implement": _implement,
    "reject": _reject,
    "revert": _revert,
}
