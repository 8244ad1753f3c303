"""Process entry point: ``mendbot fixes list | show ID | implement ID | reject ID``.

The same decisions as in Slack (through :class:`~fixes.decisions.Decisions`), for a
terminal; the actor in the audit trail is ``cli:<login>`` or ``--as NAME``. Results go to
stdout, progress and errors to stderr; exit codes as in :mod:`bot.cli.main`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from sqlalchemy.exc import SQLAlchemyError

from bot.cli import messages as say
from bot.cli.support import local_actor
from core.edits import unified_diff
from core.notifier import NullNotifier, ProposalEvent
from core.proposals import FixProposal, ProposalStatus
from fixes.apply.journal import JournalError
from fixes.decisions import DecisionRefused
from fixes.persistence.store import ProposalNotFound
from monitoring.runtime import Runtime, build_runtime
from settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3


class _ProgressNotifier(NullNotifier):
    """Prints each step of an implement to stderr as it happens."""

    def post_event(self, proposal: FixProposal, event: ProposalEvent) -> None:
        line = say.progress(event)
        if line:
            _err(line)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``mendbot fixes <action>``; returns the exit code (0, 1, 2 or 3)."""
    try:
        runtime = build_runtime(settings, notifier=_ProgressNotifier())
    except SQLAlchemyError as error:
        _err(say.database_error(error))
        return EXIT_USAGE
    except JournalError as error:
        _err(say.journal_error(error))
        return EXIT_FAILED
    try:
        for proposal in runtime.recovered:
            _err(say.recovered_line(proposal))
        return _ACTIONS[args.action](args, runtime)
    except DecisionRefused as refused:
        _err(refused.reason)
        return EXIT_USAGE if refused.code == "no_repository" else EXIT_REFUSED
    finally:
        runtime.close()


def _list(args: argparse.Namespace, runtime: Runtime) -> int:
    statuses = None
    if args.status:
        try:
            statuses = {ProposalStatus(args.status.strip().lower())}
        except ValueError:
            _err(say.unknown_status(args.status))
            return EXIT_USAGE
    if args.limit < 1:
        _err("--limit must be at least 1")
        return EXIT_USAGE
    proposals = runtime.store.list(statuses=statuses, limit=args.limit)
    if args.json:
        for proposal in proposals:
            print(json.dumps(proposal.model_dump(mode="json")))
    elif proposals:
        print(say.proposal_table(proposals))
    else:
        _err(say.NO_PROPOSALS)
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
        print(json.dumps(payload))
        return EXIT_OK
    print(say.proposal_details(proposal))
    print()
    print(diff.rstrip("\n") if diff else say.no_change(proposal))
    print()
    print(say.audit_lines(trail))
    return EXIT_OK


def _implement(args: argparse.Namespace, runtime: Runtime) -> int:
    if runtime.implementor is None and not _is_action(runtime, args.id):
        _err(say.NO_REPOSITORY)
        return EXIT_USAGE
    final = runtime.decisions.implement(args.id, actor=local_actor(args.actor))
    if final.status is ProposalStatus.APPLIED:
        print(say.outcome(final))
        return EXIT_OK
    _err(say.outcome(final))
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
    print(say.rejected(final))
    return EXIT_OK


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


_ACTIONS: dict[str, Callable[[argparse.Namespace, Runtime], int]] = {
    "list": _list,
    "show": _show,
    "implement": _implement,
    "reject": _reject,
}
