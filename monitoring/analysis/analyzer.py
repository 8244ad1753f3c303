"""Log analysis: ``LogAnalyzer`` groups a window of records by template and finds anomalies.

One :meth:`LogAnalyzer.analyze` call is one monitoring cycle. Records stream through once
(memory does not grow with the window: per group only counts, a few figures and the last
five raw events are kept, and a window keeps at most ``max_groups_per_window`` groups, the
rest counted in one overflow group). Plain records are gathered per message shape, then
merged per template once the window is read (``monitoring/analysis/templates.py``);
tracebacks are grouped by exception type and innermost in-app frame; the rules in
``monitoring/analysis/rules.py`` then decide what is anomalous.

What earlier cycles taught (the error templates already seen, for ``new_error``, and each
template's usual share of a window, for ``duplicate_spike``) is the *baseline*. It lives in
memory for the analyzer's lifetime, and when a :class:`~core.state.KeyValueStore` is given it
is loaded from and saved to it under :data:`BASELINE_KEY`, so it survives restarts.

Errors::

    AnalysisError              base of this module's errors
     └── BaselineStateError    the state store failed to load or save the baseline
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from core.models import Anomaly, Level, LogRecord
from core.redact import mask_anomaly
from core.state import KeyValueStore
from monitoring.analysis.clusters import OVERFLOW
from monitoring.analysis.evidence import OVERFLOW_SIGNATURE
from monitoring.analysis.rules import (
    Baseline,
    Group,
    RuleConfig,
    basis_hash,
    evaluate,
    traceback_key,
)
from monitoring.analysis.rules import usual_share as _usual_share
from monitoring.analysis.templates import TemplateMiner

BASELINE_KEY = "monitoring.analyzer.baseline"  # a stored key: keep it when code moves
#: Error bases remembered (oldest forgotten first) and template shares kept (largest kept).
MAX_KNOWN_ERRORS = 20_000
MAX_KNOWN_SHARES = 5_000
#: Shapes the miner keeps across windows; past this, only the last window's are kept.
MAX_KNOWN_SHAPES = 25_000
#: Groups (templates, traceback signatures) one window keeps at most; records of further
#: ones are counted in one overflow group, so a flood of distinct lines has bounded memory.
MAX_GROUPS_PER_WINDOW = 5_000
#: Weight of the current window when updating a template's usual share (EWMA).
SHARE_LEARNING_RATE = 0.3

_RANK = {level: level.rank for level in Level}


class AnalysisError(Exception):
    """Base of the analyzer's errors."""


class BaselineStateError(AnalysisError):
    """The state store could not load or save the baseline (database unreachable...)."""


@dataclass(slots=True)
class _Memory:
    """The mutable baseline: insertion-ordered error hashes, template shares, cycle count."""

    errors: dict[str, None] = field(default_factory=dict)
    shares: dict[str, float] = field(default_factory=dict)
    cycles: int = 0

    @classmethod
    def from_json(cls, value: Any) -> _Memory:
        if not isinstance(value, dict):
            return cls()
        errors = value.get("errors") or []
        shares = value.get("shares") or {}
        return cls(
            errors=dict.fromkeys(str(e) for e in errors if isinstance(e, str)),
            shares={str(k): float(v) for k, v in shares.items() if isinstance(v, int | float)}
            if isinstance(shares, dict)
            else {},
            cycles=int(value.get("cycles") or 0),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "cycles": self.cycles,
            "errors": list(self.errors),
            "shares": self.shares,
        }


class LogAnalyzer:
    """Finds anomalies in windows of log records (the rules: ``monitoring/analysis/rules.py``).

    Args:
        state: where the baseline is kept between processes; None keeps it in memory.
        slow_threshold_seconds: a duration in a message above this is slow (seconds).
        repeat_min_count: errors of one kind that make a ``repeated_error`` (default 3).
        spike_min_count: events of one template needed for a ``duplicate_spike`` (10).
        spike_factor: how many times its usual share a template must reach to spike (3).
        max_groups_per_window: distinct shapes and traceback signatures one window keeps;
            the records of further ones are counted in one overflow group (memory bound).
    """

    def __init__(
        self,
        *,
        state: KeyValueStore | None = None,
        slow_threshold_seconds: float = 1.0,
        repeat_min_count: int = 3,
        spike_min_count: int = 10,
        spike_factor: float = 3.0,
        max_groups_per_window: int = MAX_GROUPS_PER_WINDOW,
    ) -> None:
        self.state = state
        self.config = RuleConfig(
            slow_threshold_seconds=slow_threshold_seconds,
            repeat_min_count=repeat_min_count,
            spike_min_count=spike_min_count,
            spike_factor=spike_factor,
        )
        self._miner = TemplateMiner()
        self.max_groups_per_window = max_groups_per_window
        self._memory: _Memory | None = None
        #: Records seen by the last :meth:`analyze` call.
        self.last_record_count = 0

    def analyze(self, records: Iterable[LogRecord]) -> list[Anomaly]:
        """Analyze one window (one cycle) of records.

        Args:
            records: the window's records, any order, consumed once (may be a generator).

        Returns:
            The anomalies, most severe first, then by count (largest first), with their
            secrets masked (:func:`core.redact.mask_anomaly`).

        Raises:
            BaselineStateError: the state store failed (only with a ``state``).
        """
        groups, total = self._group(records)
        memory = self._load()
        baseline = Baseline(errors=memory.errors.keys(), shares=memory.shares)
        anomalies = evaluate(groups, total, baseline, self.config)
        self._learn(memory, groups, total)
        self._save(memory)
        self.last_record_count = total
        return [mask_anomaly(anomaly) for anomaly in anomalies]

    def _group(self, records: Iterable[LogRecord]) -> tuple[list[Group], int]:
        """Stream the records into groups; returns the groups and the record count.

        Plain records are first gathered per shape (the miner's provisional group), then
        merged per template once the window is read (:meth:`TemplateMiner.groups`).
        """
        groups: dict[object, Group] = {}
        add_message = self._miner.add
        threshold = self.config.slow_threshold_seconds
        rank_of = _RANK
        limit = self.max_groups_per_window
        total = 0
        key: object
        masked: str | None
        for record in records:
            total += 1
            if record.exception_type is None:
                key, masked = add_message(record.message)
            else:
                key, masked = traceback_key(record), None
            group = groups.get(key)
            if group is None:
                if len(groups) >= limit:
                    key = OVERFLOW
                    group = groups.get(key)
                if group is None:
                    group = groups[key] = Group(
                        signature=_signature(key, masked),
                        first=record.timestamp,
                        last=record.timestamp,
                        newest=record,
                    )
            group.add(record, masked, rank_of[record.level], threshold)
        return self._by_template(groups), total

    def _by_template(self, groups: dict[object, Group]) -> list[Group]:
        """Merge the window's per-shape groups that belong to one template."""
        template_of = self._miner.groups()
        merged: dict[object, Group] = {}
        for key, group in groups.items():
            final = ("template", template_of[key]) if key in template_of else key
            into = merged.get(final)
            if into is None:
                merged[final] = group
            else:
                into.merge(group)
        if self._miner.cluster_count > MAX_KNOWN_SHAPES:
            self._miner.prune(k for k in groups if isinstance(k, int))
        return list(merged.values())

    def _learn(self, memory: _Memory, groups: list[Group], total: int) -> None:
        """Remember this window's error bases and update template shares (EWMA)."""
        memory.cycles += 1
        for group in groups:
            if group.errors:
                for basis in group.bases():
                    digest = basis_hash(basis)
                    memory.errors.pop(digest, None)
                    memory.errors[digest] = None
            elif total:
                share = group.count / total
                usual = _usual_share(group, share, Baseline(frozenset(), memory.shares))
                key = basis_hash(group.canonical())
                memory.shares[key] = usual + SHARE_LEARNING_RATE * (share - usual)
        while len(memory.errors) > MAX_KNOWN_ERRORS:
            memory.errors.pop(next(iter(memory.errors)))
        if len(memory.shares) > MAX_KNOWN_SHARES:
            kept = sorted(memory.shares.items(), key=lambda kv: kv[1])[-MAX_KNOWN_SHARES:]
            memory.shares = dict(kept)

    def _load(self) -> _Memory:
        if self._memory is None:
            value = None
            if self.state is not None:
                try:
                    value = self.state.get(BASELINE_KEY)
                except SQLAlchemyError as error:
                    message = f"cannot load the analyzer baseline: {error}"
                    raise BaselineStateError(message) from error
            self._memory = _Memory.from_json(value)
        return self._memory

    def _save(self, memory: _Memory) -> None:
        if self.state is None:
            return
        try:
            self.state.set(BASELINE_KEY, memory.to_json())
        except SQLAlchemyError as error:
            raise BaselineStateError(f"cannot save the analyzer baseline: {error}") from error


def _signature(key: object, masked: str | None) -> tuple[str, str, str] | None:
    """A new group's signature: the traceback key, the overflow's, or None (a template)."""
    if key == OVERFLOW:
        return OVERFLOW_SIGNATURE
    if masked is None and isinstance(key, tuple):
        return key  # traceback_key
    return None
