"""Operational signals: Alertmanager's webhook payload (version 4) read into Signals.

The payload (Alertmanager's ``webhook_config``; https://prometheus.io/docs/alerting/latest/
configuration/#webhook_config)::

    {"version": "4", "status": "firing", "groupKey": "{}:{alertname=\\"X\\"}",
     "receiver": "mendbot", "groupLabels": {...}, "commonLabels": {...}, ...,
     "alerts": [{"status": "firing" | "resolved", "labels": {...}, "annotations": {...},
                 "startsAt": RFC 3339, "endsAt": RFC 3339, "generatorURL": "...",
                 "fingerprint": "hex"}]}

One alert is one anomaly (kind ``alert``, labels and annotations kept in ``details``): its
fingerprint is Alertmanager's (a hash of the labels; ours from the labels when it is
missing or not hex), its episode is ``startsAt``. Alertmanager delivers at least once,
repeats a firing alert every ``repeat_interval`` and, run as an HA pair, twice: all of
those are the same fingerprint and episode.

The body is untrusted even with a valid token (label values come from scraped targets):
sizes are bounded, text is kept as data, and a malformed alert is refused on its own,
with its index and the reason, while the others are taken.

Errors::

    AlertPayloadError   the body is not a version 4 payload at all (HTTP 400)
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.models import Anomaly, Severity
from monitoring.signals.base import Signal, fingerprint

#: Most alerts read from one payload; most labels or annotations per alert.
MAX_ALERTS = 500
MAX_PAIRS = 64
#: Longest label or annotation name, and value, kept (characters).
MAX_NAME_CHARS = 128
MAX_VALUE_CHARS = 2000
_HEX = re.compile(r"^[0-9a-f]{1,32}$")
SEVERITIES = {
    "critical": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "error": Severity.HIGH,
    "high": Severity.HIGH,
    "warning": Severity.MEDIUM,
    "warn": Severity.MEDIUM,
    "medium": Severity.MEDIUM,
    "info": Severity.LOW,
    "low": Severity.LOW,
    "none": Severity.LOW,
}


class AlertPayloadError(ValueError):
    """The body is not an Alertmanager version 4 payload; ``str(e)`` says why."""


def _pairs(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("must be an object of strings")
    if len(value) > MAX_PAIRS:
        raise ValueError(f"has {len(value)} entries; at most {MAX_PAIRS} are read")
    pairs = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or len(key) > MAX_NAME_CHARS:
            raise ValueError(f"has a name that is empty or over {MAX_NAME_CHARS} characters")
        pairs[key] = str(item)[:MAX_VALUE_CHARS]
    return pairs


class Alert(BaseModel):
    """One alert of a payload (field names as Alertmanager sends them)."""

    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = Field("", max_length=MAX_VALUE_CHARS)
    fingerprint: str = Field("", max_length=200)

    @field_validator("labels", "annotations", mode="before")
    @classmethod
    def _bounded(cls, value: Any) -> dict[str, str]:
        return _pairs(value)

    @field_validator("startsAt", "endsAt")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def name(self) -> str:
        """The ``alertname`` label (``"alert"`` when it has none)."""
        return self.labels.get("alertname") or "alert"


class Payload(BaseModel):
    """A webhook body: the group and its alerts (read one by one, see :func:`read_payload`)."""

    model_config = ConfigDict(extra="ignore")

    version: str
    status: Literal["firing", "resolved"]
    groupKey: str = Field(max_length=4000)
    receiver: str = Field("", max_length=MAX_VALUE_CHARS)
    alerts: list[dict[str, Any]] = Field(max_length=MAX_ALERTS)


def read_payload(body: bytes) -> tuple[Payload, list[Alert], list[dict[str, Any]]]:
    """The payload, its valid alerts, and ``{"index", "error"}`` for each refused alert.

    Raises:
        AlertPayloadError: not JSON, not version 4, or missing ``status``, ``groupKey``
            or ``alerts``.
    """
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise AlertPayloadError(f"the body is not JSON: {error}") from error
    if not isinstance(data, dict):
        raise AlertPayloadError("the body is not a JSON object")
    if str(data.get("version")) != "4":
        raise AlertPayloadError(
            f"unsupported payload version {str(data.get('version'))[:20]!r}; "
            "Alertmanager's webhook sends version 4"
        )
    try:
        payload = Payload.model_validate(data)
    except ValidationError as error:
        raise AlertPayloadError(f"not an Alertmanager payload: {_problem(error)}") from error
    alerts, refused = [], []
    for index, item in enumerate(payload.alerts):
        try:
            alerts.append(Alert.model_validate(item))
        except ValidationError as error:
            refused.append({"index": index, "error": _problem(error)})
    return payload, alerts, refused


def alert_signal(alert: Alert, *, now: datetime) -> Signal:
    """The :class:`Signal` one alert gives: firing or clearing, episode ``startsAt``."""
    labels, notes = alert.labels, alert.annotations
    print_ = alert.fingerprint if _HEX.match(alert.fingerprint) else _labels_hash(labels)
    summary = notes.get("summary") or notes.get("description") or f"Alert {alert.name} is firing"
    starts = alert.startsAt
    anomaly = Anomaly(
        kind="alert",
        fingerprint=fingerprint("alert", print_),
        template=f"alert {alert.name}",
        count=1,
        first_seen=starts,
        last_seen=max(starts, now) if alert.status == "firing" else (alert.endsAt or now),
        severity=SEVERITIES.get(labels.get("severity", "").lower(), Severity.HIGH),
        samples=[_sample(alert)],
        service=labels.get("service") or labels.get("job"),
        summary=f"{alert.name}: {summary}"[:1000],
        details={
            "alertname": alert.name,
            "labels": labels,
            "annotations": notes,
            "starts_at": starts.isoformat(),
            "alertmanager_fingerprint": alert.fingerprint[:64],
            "generator_url": alert.generatorURL,
        },
    )
    state: Literal["firing", "clearing"] = "firing" if alert.status == "firing" else "clearing"
    return Signal(anomaly=anomaly, state=state, episode=starts.isoformat(), source="alert")


def _sample(alert: Alert) -> str:
    lines = [f"{alert.status}: {alert.name} since {alert.startsAt.isoformat()}"]
    lines += [f"  {k}={v}" for k, v in sorted(alert.labels.items())]
    lines += [f"  {k}: {v}" for k, v in sorted(alert.annotations.items())]
    return "\n".join(lines)[:4000]


def _labels_hash(labels: dict[str, str]) -> str:
    return fingerprint(*(f"{k}={v}" for k, v in sorted(labels.items())))


def _problem(error: ValidationError) -> str:
    problem = error.errors()[0]
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    return f"{where}: {problem['msg'].removeprefix('Value error, ')}"[:300]
