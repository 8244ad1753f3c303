"""Fixes actions: the runbook: which action answers which anomaly kind or alert name.

A runbook is a YAML or JSON file (``MENDBOT_RUNBOOK``) or, without one,
:data:`DEFAULT_RUNBOOK`. Its shape::

    commands:                       # cleanup commands, by name (run with sh -c)
      tmp-cleanup: "find /tmp -type f -mtime +1 -delete"
    rules:                          # the first rule whose `when` matches wins
      - name: service-down-restart
        when: {kind: service_down}  # kind, alertname, resource, severity: a value or a list;
                                    # labels: {name: value} (all must match)
        action: restart             # restart | redeploy | rollback | container_restart | command
        target: watched             # Railway kinds: "watched" (RAILWAY_SERVICE_ID) or a
                                    # service id; container_restart: a container name;
                                    # command: a name under `commands`
        trust: ask                  # optional: auto | ask | off (else MENDBOT_TRUST)

Alert labels only *select* a rule: the target always comes from the runbook, so a label
a scraped service put on its own metrics cannot point an action elsewhere.

Errors::

    RunbookError     the file cannot be read or does not have the shape above (the message
                     says where); raised at start, never later
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.actions import RAILWAY_KINDS, ActionKind, TrustLevel
from core.models import Anomaly

#: The runbook used without MENDBOT_RUNBOOK: restart the watched Railway service when it
#: is down, when its memory runs out, or when Alertmanager says it is down or out of memory.
DEFAULT_RUNBOOK: dict[str, Any] = {
    "commands": {},
    "rules": [
        {"name": "service-down-restart", "when": {"kind": "service_down"}, "action": "restart"},
        {
            "name": "memory-pressure-restart",
            "when": {"kind": "resource_pressure", "resource": "memory"},
            "action": "restart",
        },
        {
            "name": "alert-down-restart",
            "when": {
                "kind": "alert",
                "alertname": ["ServiceDown", "InstanceDown", "TargetDown", "HighMemoryUsage"],
            },
            "action": "restart",
        },
    ],
}
WATCHED = "watched"


class RunbookError(ValueError):
    """The runbook file cannot be read or has the wrong shape; ``str(e)`` says where."""


def _values(value: str | list[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


class When(BaseModel):
    """What a rule matches; every field given must match (lists: any of them)."""

    model_config = ConfigDict(extra="forbid")

    kind: str | list[str] | None = None
    alertname: str | list[str] | None = None
    resource: str | list[str] | None = None
    severity: str | list[str] | None = None
    labels: dict[str, str] = Field(default_factory=dict)

    def matches(self, anomaly: Anomaly) -> bool:
        """True when ``anomaly`` has every property this asks for."""
        labels = anomaly.details.get("labels") or {}
        facts = {
            "kind": anomaly.kind,
            "alertname": labels.get("alertname"),
            "resource": anomaly.details.get("resource"),
            "severity": anomaly.severity.value.lower(),
        }
        for name, fact in facts.items():
            wanted = _values(getattr(self, name))
            if wanted is not None and (fact is None or str(fact).lower() not in _lower(wanted)):
                return False
        return all(labels.get(k) == v for k, v in self.labels.items())


def _lower(values: list[str]) -> set[str]:
    return {v.lower() for v in values}


class Rule(BaseModel):
    """One runbook rule: when it applies, which action, on what, under which trust."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    when: When
    action: ActionKind
    target: str = Field(WATCHED, min_length=1, max_length=200)
    trust: TrustLevel | None = None


class Runbook(BaseModel):
    """Rules in order and the cleanup commands they may name."""

    model_config = ConfigDict(extra="forbid")

    commands: dict[str, str] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _commands_exist(self) -> Runbook:
        for rule in self.rules:
            if rule.action == "command" and rule.target not in self.commands:
                raise ValueError(
                    f"rule {rule.name!r} runs command {rule.target!r}, which is not "
                    "listed under `commands`"
                )
            if rule.action == "container_restart" and rule.target == WATCHED:
                raise ValueError(f"rule {rule.name!r}: a container_restart names its container")
        return self

    def rule_for(self, anomaly: Anomaly) -> Rule | None:
        """The first rule that matches ``anomaly``, or None."""
        return next((rule for rule in self.rules if rule.when.matches(anomaly)), None)

    def target_of(self, rule: Rule, *, watched_service_id: str | None) -> str | None:
        """The rule's concrete target: ``watched`` becomes ``watched_service_id`` for the
        Railway kinds (None when no service is watched)."""
        if rule.target == WATCHED and rule.action in RAILWAY_KINDS:
            return watched_service_id
        return rule.target


def load_runbook(path: Path | None) -> Runbook:
    """The runbook in ``path`` (``.json``, else YAML), or :data:`DEFAULT_RUNBOOK` for None.

    Raises:
        RunbookError: the file cannot be read, parsed, or has the wrong shape.
    """
    if path is None:
        return Runbook.model_validate(DEFAULT_RUNBOOK)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise RunbookError(f"cannot read the runbook {path}: {error.strerror}") from error
    try:
        data = json.loads(text) if path.suffix == ".json" else _yaml(text)
        return Runbook.model_validate(data)
    except (ValueError, ValidationError) as error:
        raise RunbookError(f"the runbook {path} is not valid: {_first_problem(error)}") from error


def _yaml(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValueError(str(error)) from error


def _first_problem(error: Exception) -> str:
    if isinstance(error, ValidationError):
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "top level"
        return f"{where}: {problem['msg'].removeprefix('Value error, ')}"
    return str(error)
