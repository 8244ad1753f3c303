"""Shared contracts: log records, anomalies and diagnoses, the types every stage passes on.

``LogRecord`` is produced by the parsers for every logical log event, ``Anomaly`` by the
analyzer, ``Diagnosis`` by the diagnoser. ``LogRecord`` and ``Frame`` are slotted
dataclasses because hundreds of thousands of them are built per scan; the rest are
pydantic models because they are stored and serialised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Level(StrEnum):
    """Log levels, ordered by :attr:`rank` (Python ``logging`` numbers)."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        """10 for DEBUG up to 50 for CRITICAL, as in :mod:`logging`."""
        return _LEVEL_RANK[self]


_LEVEL_RANK = {
    Level.DEBUG: 10,
    Level.INFO: 20,
    Level.WARNING: 30,
    Level.ERROR: 40,
    Level.CRITICAL: 50,
}


class Severity(StrEnum):
    """How urgent an anomaly is, ordered by :attr:`rank`."""

    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"

    @property
    def rank(self) -> int:
        """1 for LOW up to 4 for CRITICAL."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}

AnomalyKind = Literal[
    "repeated_error",
    "truncation",
    "slow_operation",
    "duplicate_spike",
    "new_error",
    # Operational signals (monitoring/signals): an Alertmanager alert, a failed health check.
    "alert",
    "service_down",
    "resource_pressure",
]
#: The kinds that come from operational signals rather than from the logs.
SIGNAL_KINDS: frozenset[str] = frozenset({"alert", "service_down", "resource_pressure"})


@dataclass(frozen=True, slots=True)
class Frame:
    """One traceback frame: ``file`` as printed (e.g. ``/app/app.py``), 1-based ``line``."""

    file: str
    line: int
    function: str


@dataclass(slots=True)
class LogRecord:
    """One logical log event (a line, or a whole multi-line traceback).

    Attributes:
        timestamp: aware UTC datetime; for lines that carry none (uvicorn's), the last
            timestamp seen before them, or the reader's fallback time.
        level: normalised level; lines without one are INFO, tracebacks ERROR.
        logger: logger name when the format has one (``app.llm``), else None.
        message: the message part, without timestamp/level/logger prefixes; for a
            traceback the header line that precedes it (or ``"<Type>: <message>"``).
        service: the emitting service when the source knows it (Railway, Loki labels).
        raw: the original text, several lines for a traceback.
        attributes: extra structured fields (JSON log keys, Railway attributes, ...).
        exception_type: for a traceback, the final (innermost-raised) exception type,
            dotted as printed, e.g. ``json.decoder.JSONDecodeError``.
        exception_message: the text after ``Type:`` on the final exception line.
        frames: traceback frames of the final exception, outermost first.
    """

    timestamp: datetime
    level: Level
    message: str
    raw: str
    logger: str | None = None
    service: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    exception_type: str | None = None
    exception_message: str | None = None
    frames: tuple[Frame, ...] = ()


class FrameModel(BaseModel):
    """Serialisable twin of :class:`Frame` (for anomalies and JSON output)."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int
    function: str

    @classmethod
    def of(cls, frame: Frame) -> FrameModel:
        """Copy a parser :class:`Frame`."""
        return cls(file=frame.file, line=frame.line, function=frame.function)


MAX_SAMPLES = 5


class Anomaly(BaseModel):
    """Something going wrong in a window of records, as found by ``LogAnalyzer``.

    Attributes:
        kind: which rule fired.
        fingerprint: stable id of the underlying problem (hex SHA-256 prefix of kind and
            template or exception signature); equal across cycles, processes and hosts.
        template: the masked message template, e.g.
            ``LM response truncated (max_tokens=<NUM>, needed=<NUM>)``; for tracebacks
            ``<ExceptionType> at <file>:<function>``.
        count: events in the window that belong to this anomaly.
        first_seen, last_seen: aware UTC timestamps of the first and last such event.
        severity: LOW..CRITICAL.
        samples: at most five raw events (newest last), untrusted text.
        exception_type, exception_message, frames: for tracebacks, from the newest sample.
        logger, service: where the events came from, when known.
        summary: one human sentence, e.g. ``KeyError in orders (app.py:31), 19 times``.
        details: rule-specific figures (durations in seconds, shares, limits, ...).
    """

    kind: AnomalyKind
    fingerprint: str
    template: str
    count: int = Field(ge=1)
    first_seen: datetime
    last_seen: datetime
    severity: Severity
    samples: list[str] = Field(default_factory=list, max_length=MAX_SAMPLES)
    exception_type: str | None = None
    exception_message: str | None = None
    frames: list[FrameModel] = Field(default_factory=list)
    logger: str | None = None
    service: str | None = None
    summary: str = ""
    details: dict[str, Any] = Field(default_factory=dict)


class Diagnosis(BaseModel):
    """A root cause for an anomaly, from the LM or from an offline playbook.

    Attributes:
        root_cause: plain-language explanation, a few sentences.
        severity_assessment: LOW..CRITICAL, the diagnoser's view of the impact.
        affected_components: files, functions or subsystems, e.g. ``["app.py:orders"]``.
        confidence: 0.0 (a guess) to 1.0 (certain).
        source: ``"lm"`` or ``"playbook"``.
        model: the LiteLLM model string when ``source == "lm"``.
        evidence: short facts the root cause rests on (counts, sample lines, code lines).
    """

    root_cause: str
    severity_assessment: Severity
    affected_components: list[str] = Field(default_factory=list)
    confidence: float = Field(ge=0.0, le=1.0)
    source: Literal["lm", "playbook"] = "playbook"
    model: str | None = None
    evidence: list[str] = Field(default_factory=list)
