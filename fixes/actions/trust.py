"""Fixes actions: who decides an action: trust levels per kind under one master switch.

``MENDBOT_REMEDIATION`` is the master switch: ``off`` (monitor only: report, propose no
action), ``ask`` (every action waits for a person) or ``auto`` (actions trusted ``auto``
run at once, then are reported). Under it each action kind has its own level
(``MENDBOT_TRUST``, e.g. ``restart=auto,rollback=off``; a runbook rule may set one for
itself); the effective level is the lower of the two. By default nothing is ``auto``.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.actions import ActionKind, TrustLevel, capped

#: The level of an action kind that ``MENDBOT_TRUST`` does not name.
DEFAULT_TRUST: TrustLevel = "ask"


class TrustPolicy:
    """The effective trust level of an action.

    Args:
        master: ``MENDBOT_REMEDIATION``.
        per_kind: ``MENDBOT_TRUST``: action kind -> level (kinds not named are ``ask``).
    """

    def __init__(self, *, master: TrustLevel, per_kind: Mapping[str, TrustLevel]) -> None:
        self.master = master
        self.per_kind = dict(per_kind)

    def level(self, kind: ActionKind, rule_level: TrustLevel | None = None) -> TrustLevel:
        """The rule's level (else the kind's, else ``ask``), capped by the master switch."""
        wanted = rule_level or self.per_kind.get(kind, DEFAULT_TRUST)
        return capped(wanted, self.master)

    @property
    def acting(self) -> bool:
        """False when the master switch is ``off`` (monitor only)."""
        return self.master != "off"
