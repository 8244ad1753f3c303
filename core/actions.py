"""Shared contracts: operational actions (restart, redeploy, rollback, cleanup) and trust levels.

An :class:`Action` is what an operational proposal would do instead of editing code. It
names a *kind* of action and a *target* that the runbook chose (never a value taken from
an alert or a log: labels only select among the runbook's rules), and the executors in
``fixes.actions`` carry it out::

    restart            Railway ``deploymentRestart`` of the target service's latest deployment
    redeploy           Railway ``serviceInstanceRedeploy`` of the target service
    rollback           Railway ``deploymentRollback`` to the service's previous good deployment
    container_restart  Docker Engine ``POST /containers/{target}/restart``
    command            one of the configured cleanup commands, by name

:data:`TrustLevel` says who decides: ``auto`` (done at once, then reported), ``ask``
(posted with Approve / Reject like a fix) or ``off`` (never).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ActionKind = Literal["restart", "redeploy", "rollback", "container_restart", "command"]
TrustLevel = Literal["auto", "ask", "off"]

ACTION_KINDS: tuple[ActionKind, ...] = (
    "restart",
    "redeploy",
    "rollback",
    "container_restart",
    "command",
)
#: Action kinds carried out through Railway's API (their target is a Railway service id).
RAILWAY_KINDS: frozenset[str] = frozenset({"restart", "redeploy", "rollback"})
#: Trust levels, least trusting first: a switch caps a level at its own rank.
TRUST_ORDER: tuple[TrustLevel, ...] = ("off", "ask", "auto")

_VERBS = {
    "restart": "restart the Railway service",
    "redeploy": "redeploy the Railway service",
    "rollback": "roll back the Railway service to its previous deployment",
    "container_restart": "restart the Docker container",
    "command": "run the cleanup command",
}


def capped(level: TrustLevel, ceiling: TrustLevel) -> TrustLevel:
    """``level`` lowered to ``ceiling`` when it trusts more (``auto`` under ``ask`` is ``ask``)."""
    return min(level, ceiling, key=TRUST_ORDER.index)


class Action(BaseModel):
    """One operational action, as a proposal carries it.

    Attributes:
        kind: what to do (see the module docstring).
        target: a Railway service id (Railway kinds), a container name or id
            (``container_restart``) or a configured command's name (``command``).
        trust: who decides, after the master switch capped it.
        rule: the runbook rule that chose it (for the audit trail and ``mendbot stats``).
        params: kind-specific extras the runbook set, e.g. ``environment_id``.
    """

    model_config = ConfigDict(frozen=True)

    kind: ActionKind
    target: str = Field(min_length=1, max_length=200)
    trust: TrustLevel = "ask"
    rule: str = ""
    params: dict[str, str] = Field(default_factory=dict)

    def describe(self) -> str:
        """One line for people, e.g. ``restart the Railway service svc-1``."""
        return f"{_VERBS[self.kind]} {self.target}"
