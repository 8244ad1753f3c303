"""Process entry point: build everything a process needs to decide on proposals, once.

Every entry point (``mendbot fixes ...``, ``mendbot run``, ``mendbot scan``) calls
:func:`build_runtime` first. It opens the database (creating the schema), builds the
implementor from the settings and runs :meth:`~fixes.decisions.Decisions.recover` before
returning, so a fix that a killed process left half applied is rolled back before
anything else runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.notifier import Notifier, NullNotifier
from core.proposals import FixProposal
from fixes.apply.implementor import FixImplementor
from fixes.decisions import Decisions
from fixes.persistence.db import Database
from fixes.persistence.state import StateStore
from fixes.persistence.store import ProposalStore
from settings import Settings


@dataclass
class Runtime:
    """Everything a process needs to decide on proposals.

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
    """

    settings: Settings
    db: Database
    store: ProposalStore
    state: StateStore
    implementor: FixImplementor | None
    decisions: Decisions
    notifier: Notifier
    recovered: list[FixProposal]

    def with_notifier(self, notifier: Notifier) -> Runtime:
        """Tell ``notifier`` from now on (here and in ``decisions``); returns self."""
        self.notifier = notifier
        self.decisions.notifier = notifier
        return self

    def close(self) -> None:
        """Release the database connections."""
        self.db.dispose()


def build_runtime(settings: Settings, *, notifier: Notifier | None = None) -> Runtime:
    """Open the database, build the implementor and decisions, and recover first.

    Args:
        settings: the process settings (``DATABASE_URL``, ``TARGET_REPO_PATH``,
            ``GIT_REMOTE``, ``GIT_BRANCH``, ``VALIDATE_COMMAND``,
            ``VALIDATE_TIMEOUT_SECONDS``, ``MENDBOT_PROPOSAL_TTL_SECONDS``, git identity).
        notifier: told about every step, recovery included; default
            :class:`~core.notifier.NullNotifier`.

    Returns:
        The runtime, with any interrupted fix already rolled back (see ``recovered``).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be reached or created.
        fixes.apply.journal.JournalError: an interrupted fix's journal cannot be read.
    """
    db = Database(settings.database_url)
    store = ProposalStore(db)
    notifier = notifier if notifier is not None else NullNotifier()
    implementor = FixImplementor.from_settings(settings)
    decisions = Decisions(
        store=store,
        notifier=notifier,
        implementor=implementor,
        proposal_ttl_seconds=settings.proposal_ttl_seconds,
    )
    recovered = decisions.recover()
    return Runtime(
        settings=settings,
        db=db,
        store=store,
        state=StateStore(db),
        implementor=implementor,
        decisions=decisions,
        notifier=notifier,
        recovered=recovered,
    )
