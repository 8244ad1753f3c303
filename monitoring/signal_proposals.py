"""Monitoring orchestration: the proposal an operational signal gets: diagnosis and action.

An alert or a failed health check is not diagnosed from code: its root cause is what the
signal says (an alert's summary and description, the health check's reason), its evidence
the labels, the logs around its start (:class:`~monitoring.pipeline.RecentRecords`) and
Prometheus' figures (``details["metrics"]``), and its change is the runbook's action
(:class:`~fixes.actions.runbook.Runbook`) under the trust policy. No action is attached
when remediation is off, the rule's level is ``off``, no rule matches, there is no target,
or the signal is about mendbot itself ("reported, not acted on"); the proposal then
"needs investigation", like a fix without edits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from core.actions import Action
from core.clock import utcnow
from core.models import Anomaly, Diagnosis
from core.proposals import FixProposal, Risk
from fixes.actions.runbook import Runbook
from fixes.actions.trust import TrustPolicy
from monitoring.recent import RecentRecords

#: Alert labels that may name the service or container an alert is about.
SUBJECT_LABELS = ("service", "job", "container", "container_name", "app", "railway_service")
RISK = {
    "restart": Risk.MEDIUM,
    "redeploy": Risk.MEDIUM,
    "rollback": Risk.HIGH,
    "container_restart": Risk.MEDIUM,
    "command": Risk.LOW,
}
RISK_NOTES = {
    "restart": "Requests in flight while it restarts fail; the same code comes back.",
    "redeploy": "A fresh deployment of the same source; requests in flight may fail.",
    "rollback": "The service goes back to its previous deployment: newer changes are undone.",
    "container_restart": "Requests in flight while it restarts fail.",
    "command": "The cleanup command changes the host as the runbook says.",
}


class SignalProposer:
    """Drafts proposals (unsaved) for operational anomalies.

    Args:
        runbook: which action answers which anomaly.
        trust: trust levels and the master switch.
        watched_service_id: the Railway service ``watched`` targets (``RAILWAY_SERVICE_ID``).
        self_names: names that mean mendbot itself (its Railway service name and id, its
            container); an alert labelled with one is reported, not acted on.
        recent: the last log records read, for the logs around the signal's start.
        clock: the current aware UTC time.
    """

    def __init__(
        self,
        *,
        runbook: Runbook,
        trust: TrustPolicy,
        watched_service_id: str | None,
        self_names: frozenset[str] = frozenset(),
        recent: RecentRecords | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.runbook = runbook
        self.trust = trust
        self.watched_service_id = watched_service_id
        self.self_names = frozenset(n for n in self_names if n)
        self.recent = recent
        self.clock = clock

    def propose(self, anomalies: Sequence[Anomaly]) -> list[FixProposal]:
        """One proposal per anomaly, same order (never raises for a missing rule)."""
        return [self._proposal(anomaly) for anomaly in anomalies]

    def _proposal(self, anomaly: Anomaly) -> FixProposal:
        action, notes, reasoning = self._action(anomaly)
        logs = self._logs_around(anomaly)
        evidence = [f"{k}: {v}" for k, v in (anomaly.details.get("metrics") or {}).items()]
        evidence += logs
        return FixProposal(
            fingerprint=anomaly.fingerprint,
            anomaly=anomaly,
            diagnosis=Diagnosis(
                root_cause=_root_cause(anomaly),
                severity_assessment=anomaly.severity,
                affected_components=[anomaly.service] if anomaly.service else [],
                confidence=0.6,
                evidence=evidence[:12],
            ),
            title=_title(anomaly),
            reasoning=reasoning,
            risk=RISK[action.kind] if action else Risk.LOW,
            risk_notes=RISK_NOTES[action.kind] if action else "",
            notes=notes,
            created_at=self.clock(),
            action=action,
        )

    def _action(self, anomaly: Anomaly) -> tuple[Action | None, list[str], str]:
        if not self.trust.acting:
            return None, ["monitor only (MENDBOT_REMEDIATION=off): no action proposed"], ""
        rule = self.runbook.rule_for(anomaly)
        if rule is None:
            return None, ["no runbook rule matches: a person should look"], ""
        target = self.runbook.target_of(rule, watched_service_id=self.watched_service_id)
        if not target:
            return None, [f"runbook rule {rule.name!r} has no target (set RAILWAY_SERVICE_ID)"], ""
        itself = self._about_itself(anomaly, target)
        if itself:
            return None, [f"reported, not acted on: it is about mendbot itself ({itself})"], ""
        level = self.trust.level(rule.action, rule.trust)
        if level == "off":
            return None, [f"{rule.action} actions are switched off (trust level off)"], ""
        action = Action(kind=rule.action, target=target, trust=level, rule=rule.name)
        reasoning = f"Runbook rule {rule.name!r}: {action.describe()}. Trust level {level}: " + (
            "mendbot acts at once and reports." if level == "auto" else "a person decides."
        )
        return action, [], reasoning

    def _about_itself(self, anomaly: Anomaly, target: str) -> str | None:
        if target in self.self_names:
            return target
        labels = anomaly.details.get("labels") or {}
        for name in SUBJECT_LABELS:
            if labels.get(name) in self.self_names:
                return f"{name}={labels[name]}"
        return None

    def _logs_around(self, anomaly: Anomaly) -> list[str]:
        if self.recent is None:
            return []
        records = self.recent.around(anomaly.first_seen)
        return [f"log {r.timestamp:%H:%M:%S} {r.level.value}: {r.message[:300]}" for r in records]


def _root_cause(anomaly: Anomaly) -> str:
    details = anomaly.details
    if anomaly.kind == "alert":
        notes = details.get("annotations") or {}
        text = notes.get("description") or notes.get("summary") or anomaly.summary
        return f"Alertmanager reports {details.get('alertname', 'an alert')}: {text}"[:1500]
    url = details.get("url", anomaly.service)
    return f"The health check of {url} failed: {details.get('reason', '')}."


def _title(anomaly: Anomaly) -> str:
    if anomaly.kind == "alert":
        return f"Alert {anomaly.details.get('alertname', '')} firing"[:150]
    if anomaly.kind == "resource_pressure":
        return f"{anomaly.details.get('resource', 'resource')} pressure on {anomaly.service}"[:150]
    return f"{anomaly.service} is down"[:150]
