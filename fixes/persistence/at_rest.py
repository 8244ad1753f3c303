"""Fixes persistence: rows stored before masking existed are masked, once per database.

New rows are masked as they are written (``ProposalStore.add``, ``audit_row``, the anomaly
totals). A database filled by an older mendbot may still hold secrets in clear: proposal
texts and anomaly samples, anomaly templates, audit facts. :func:`mask_at_rest` rewrites
those rows with placeholders (edits stay byte for byte), then records
:data:`MASKING_VERSION` in the state store so that later starts skip the work; raising the
version makes every database be masked again with the new rules. It is the one place
where audit rows are updated rather than appended: a secret must not rest in the trail.
"""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlmodel import select

from core.redact import mask_data, mask_proposal, scrub_secrets
from fixes.persistence.db import AnomalyRow, AuditRow, Database, ProposalRow
from fixes.persistence.state import StateStore

logger = logging.getLogger("mendbot.persistence")

#: State key holding the masking version the stored rows were last masked with.
MASKING_VERSION_KEY = "fixes.persistence.masked_at_rest"
#: Raise when the masking rules change enough that stored rows should be masked again.
MASKING_VERSION = 1


def mask_at_rest(db: Database) -> int:
    """Mask every stored proposal, anomaly template and audit fact, once per version.

    Args:
        db: the process's database.

    Returns:
        How many rows were rewritten (0 when this version already ran).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read or written.
    """
    state = StateStore(db)
    if state.get(MASKING_VERSION_KEY) == MASKING_VERSION:
        return 0
    with db.session() as session:
        changed = sum(_mask_proposal_row(row) for row in session.exec(select(ProposalRow)))
        for anomaly in session.exec(select(AnomalyRow)):
            template = scrub_secrets(anomaly.template)
            changed += template != anomaly.template
            anomaly.template = template
        for event in session.exec(select(AuditRow)):
            details = mask_data(event.details)
            changed += details != event.details
            event.details = details
    state.set(MASKING_VERSION_KEY, MASKING_VERSION)
    if changed:
        logger.warning(
            "masked secrets in %d stored rows (masking version %d)", changed, MASKING_VERSION
        )
    return changed


def _mask_proposal_row(row: ProposalRow) -> bool:
    """Rewrite one row's masked fields; False when nothing changed or it does not load."""
    try:
        proposal = row.to_proposal()
    except ValidationError as error:
        logger.warning("proposal %s not masked: it no longer loads (%s)", row.id, error)
        return False
    masked = mask_proposal(proposal)
    if masked is proposal:
        return False
    fresh = ProposalRow.from_proposal(masked)
    row.body, row.error = fresh.body, fresh.error
    return True
