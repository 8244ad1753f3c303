"""Composition root: the :class:`Runtime` of a process and :func:`build_runtime`."""

from __future__ import annotations

from dataclasses import dataclass

from core.metrics import Metrics
from core.notifier import Notifier, NullNotifier
from core.proposals import FixProposal
from fixes.actions.runbook import Runbook, load_runbook
from fixes.apply.github import GitHubClient
from fixes.apply.implementor import FixImplementor
from fixes.decisions import Decisions
from fixes.persistence.at_rest import mask_at_rest
from fixes.persistence.db import Database
from fixes.persistence.state import StateStore
from fixes.persistence.store import ProposalStore
from monitoring.fix_history import FixHistory
from monitoring.recent import RecentRecords
from monitoring.runtime.actions import build_action_runner
from monitoring.runtime.applying import build_github, build_implementor
from settings import Settings


@dataclass
class Runtime:
    """Everything a process needs to watch logs and decide on proposals.

    Attributes:
        settings: the process settings.
        db: the one database (engine and schema) of the process.
        store: proposals, anomalies seen, audit trail.
        state: small JSON values and once-only keys.
        implementor: applies fixes to ``TARGET_REPO_PATH``; None when it is unset.
        decisions: approve / execute / implement / reject / expire / recover.
        notifier: where progress is told. To swap it after construction (e.g. once the
            Slack app exists) call :meth:`with_notifier`, which updates ``decisions`` too.
        recovered: proposals whose status start-up recovery changed.
        github: the GitHub client of pull-request delivery (``MENDBOT_DELIVERY``), or None.
        runbook: which action answers which anomaly (``MENDBOT_RUNBOOK`` or the default).
        recent: the last log records read (the logs around an alert).
        metrics: the process's own metrics (``GET /metrics``).
        fix_history: earlier fixes' outcomes: calibration and the fix breaker.
    """

    settings: Settings
    db: Database
    store: ProposalStore
    state: StateStore
    implementor: FixImplementor | None
    decisions: Decisions
    notifier: Notifier
    recovered: list[FixProposal]
    github: GitHubClient | None = None
    runbook: Runbook | None = None
    recent: RecentRecords | None = None
    metrics: Metrics | None = None
    fix_history: FixHistory | None = None

    def with_notifier(self, notifier: Notifier) -> Runtime:
        """Tell ``notifier`` from now on (here and in ``decisions``); returns self."""
        self.notifier = notifier
        self.decisions.notifier = notifier
        return self

    def close(self) -> None:
        """Release the database connections (and the GitHub client's)."""
        self.db.dispose()
        if self.github is not None:
            self.github.client.close()


def build_runtime(
    settings: Settings, *, notifier: Notifier | None = None, metrics: Metrics | None = None
) -> Runtime:
    """Open the database (masking rows an older mendbot stored in clear), build the
    implementor and decisions, and recover first.

    Args:
        settings: the process settings.
        notifier: told about every step, recovery included; default: a ``NullNotifier``.
        metrics: the process's metrics (default: new ones, on a registry of their own);
            proposals by status and actions by result are read from this database.

    Returns:
        The runtime, with any interrupted fix already rolled back (see ``recovered``).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be reached or created.
        fixes.apply.journal.JournalError: an interrupted fix's journal cannot be read.
        fixes.actions.runbook.RunbookError: ``MENDBOT_RUNBOOK`` is unreadable or invalid.
    """
    runbook = load_runbook(settings.runbook_path)
    db = Database(settings.database_url)
    mask_at_rest(db)
    store = ProposalStore(db)
    state = StateStore(db)
    notifier = notifier if notifier is not None else NullNotifier()
    github = build_github(settings)
    implementor = build_implementor(settings, github=github)
    decisions = Decisions(
        store=store,
        notifier=notifier,
        implementor=implementor,
        proposal_ttl_seconds=settings.proposal_ttl_seconds,
        actions=build_action_runner(settings, db=db, state=state, runbook=runbook),
    )
    recovered = decisions.recover()
    if decisions.action_flow is not None:
        recovered += decisions.action_flow.recover()
    metrics = _watching(metrics or Metrics(), store, decisions)
    history = FixHistory(
        store=store,
        state=state,
        failures=settings.fix_breaker_failures,
        cooldown_seconds=settings.fix_breaker_cooldown_seconds,
    )
    return Runtime(
        settings=settings, db=db, store=store, state=state, implementor=implementor,
        decisions=decisions, notifier=notifier, recovered=recovered, github=github,
        runbook=runbook, recent=RecentRecords(), metrics=metrics, fix_history=history,
    )  # fmt: skip


def _watching(metrics: Metrics, store: ProposalStore, decisions: Decisions) -> Metrics:
    """``metrics``, reading proposals by status and actions by result from the database."""
    runs = decisions.actions.runs if decisions.actions is not None else None
    metrics.watch_database(proposals=store.count_by_status, actions=runs.counts if runs else None)
    return metrics
