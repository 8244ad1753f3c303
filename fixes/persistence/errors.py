"""Fixes persistence: the errors the stores raise (import them from here or from ``store``).

::

    StoreError
    ├── ProposalNotFound      no proposal with that id
    ├── InvalidTransition     the proposal is not in a state the transition starts from
    │                         (``.current`` holds the status it is in)
    └── DatabaseUnusable      the database cannot be opened or written (unreachable,
        │                     refused, read-only, not a database); raised by ``Database()``
        └── SchemaMismatch    an older mendbot created it (defined in ``db``)
"""

from __future__ import annotations

from core.proposals import ProposalStatus


class StoreError(Exception):
    """Base of the errors raised by the stores (e.g. no free proposal id)."""


class ProposalNotFound(StoreError):
    """No proposal has the given id."""

    def __init__(self, proposal_id: str) -> None:
        super().__init__(f"no proposal {proposal_id!r}")
        self.proposal_id = proposal_id


class InvalidTransition(StoreError):
    """The proposal's current status does not allow the requested transition."""

    def __init__(self, proposal_id: str, current: ProposalStatus, to: ProposalStatus) -> None:
        super().__init__(f"{proposal_id} is {current.value}; it cannot become {to.value}")
        self.proposal_id = proposal_id
        self.current = current
        self.to = to


class DatabaseUnusable(StoreError):
    """The database cannot be opened or written; ``str(e)`` is one line (where, and the
    driver's reason), with no password and no SQL or parameters in it."""
