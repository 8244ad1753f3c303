"""Log analysis: the five rules that turn one window's evidence into ``Anomaly``s.

The analyzer (``monitoring/analysis/analyzer.py``) feeds every record of a window into a
:class:`~monitoring.analysis.evidence.Group` (one per template cluster, or per exception signature
for tracebacks; see ``monitoring/analysis/evidence.py``), then calls :func:`evaluate`. Rules claim
groups in this order, so one problem is one anomaly:

1. ``truncation``: a template that says output was cut (truncated, max_tokens, context
   length...), at WARNING or above, :attr:`RuleConfig.truncation_min_count` times or more.
2. ``slow_operation``: a slow/timeout/latency template at WARNING, or durations in the
   message (``1.2s``, ``350 ms``) over the threshold, ``slow_min_count`` times or more.
3. ``repeated_error``: the same template or exception signature at ERROR or above,
   ``repeat_min_count`` times or more.
4. ``new_error``: an error seen fewer times than that, never seen in an earlier cycle.
5. ``duplicate_spike``: an INFO/WARNING template seen ``spike_min_count`` times or more
   whose share of the window is ``spike_factor`` times its usual share. A template never
   seen before has, as usual share, its current one (no spike), except one that speaks of
   duplicates or retries: those are presumed rare (usual share 0) until learned.

A flagged group becomes an ``Anomaly`` in ``monitoring/analysis/anomalies.py`` (fingerprint,
severity, summary). Fingerprints come from canonical forms only, never from cluster
ids, so the same problem gets the same fingerprint in every cycle, process and host;
``repeated_error`` and ``new_error`` share a fingerprint family. The public names of
``evidence`` and ``anomalies`` are importable from here too. No errors are raised here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from core.models import Anomaly, Level
from monitoring.analysis.anomalies import ESCALATE_AT_COUNT, build, fingerprint
from monitoring.analysis.evidence import (
    MAX_FORMS,
    MAX_SAMPLE_CHARS,
    FormFlags,
    Group,
    app_frame,
    basename,
    flags_of,
    merge_forms,
    traceback_key,
)

__all__ = [
    "ESCALATE_AT_COUNT",
    "MAX_FORMS",
    "MAX_SAMPLE_CHARS",
    "Baseline",
    "FormFlags",
    "Group",
    "RuleConfig",
    "app_frame",
    "basename",
    "basis_hash",
    "build",
    "evaluate",
    "fingerprint",
    "flags_of",
    "merge_forms",
    "traceback_key",
    "usual_share",
]


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """Thresholds of the rules (counts are events in one window, durations seconds)."""

    slow_threshold_seconds: float = 1.0
    repeat_min_count: int = 3
    truncation_min_count: int = 2
    slow_min_count: int = 2
    spike_min_count: int = 10
    spike_factor: float = 3.0


def basis_hash(basis: str) -> str:
    """Short stable hash of a baseline key (what the state store keeps)."""
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Baseline:
    """What earlier cycles taught (read-only view for the rules).

    Attributes:
        errors: :func:`basis_hash` of every error basis seen in earlier cycles.
        shares: :func:`basis_hash` of a template -> its usual share of a window (0..1).
    """

    errors: Collection[str]
    shares: dict[str, float]


def evaluate(
    groups: list[Group], total: int, baseline: Baseline, config: RuleConfig
) -> list[Anomaly]:
    """Apply the rules to one window's groups (``total`` records), most severe first.

    Args:
        groups: the window's groups, in any order.
        total: records in the window (what shares are a share of).
        baseline: what earlier cycles taught.
        config: the thresholds.

    Returns:
        At most one anomaly per group, ordered by severity (CRITICAL first), then count
        (largest first), then fingerprint.
    """
    anomalies = [a for group in groups if (a := _judge(group, total, baseline, config))]
    anomalies.sort(key=lambda a: (-a.severity.rank, -a.count, a.fingerprint))
    return anomalies


def _judge(group: Group, total: int, baseline: Baseline, config: RuleConfig) -> Anomaly | None:
    flags = group.flags
    noisy = group.errors + group.warnings
    if flags.truncation and noisy >= config.truncation_min_count:
        return build(group, "truncation", noisy, {"limits": _limits(group)})
    if flags.slow and group.warnings >= config.slow_min_count:
        return build(group, "slow_operation", group.warnings, _slow_details(group, config))
    if group.errors == 0 and group.over_threshold >= config.slow_min_count:
        return build(group, "slow_operation", group.over_threshold, _slow_details(group, config))
    if group.errors >= config.repeat_min_count:
        return build(group, "repeated_error", group.errors, _error_details(group))
    if group.errors:
        if any(basis_hash(b) in baseline.errors for b in group.bases()):
            return None
        return build(group, "new_error", group.errors, _error_details(group))
    return _spike(group, total, baseline, config)


def _spike(group: Group, total: int, baseline: Baseline, config: RuleConfig) -> Anomaly | None:
    if group.count < config.spike_min_count or not total:
        return None
    share = group.count / total
    usual = usual_share(group, share, baseline)
    if share < config.spike_factor * usual:
        return None
    details = {
        "count": group.count,
        "share": round(share, 6),
        "usual_share": round(usual, 6),
        "window_records": total,
    }
    return build(group, "duplicate_spike", group.count, details)


def usual_share(group: Group, share: float, baseline: Baseline) -> float:
    """The group's usual share: learned, else 0 for retry/duplicate templates, else ``share``.

    Args:
        group: the group (looked up by the :func:`basis_hash` of its canonical template).
        share: its share of the current window (0..1).
        baseline: what earlier cycles taught.
    """
    learned = baseline.shares.get(basis_hash(group.canonical()))
    if learned is not None:
        return learned
    return 0.0 if group.flags.duplicate else share


def _limits(group: Group) -> dict[str, Any]:
    """``{"max_tokens": 3000, "needed": {"min": 3450, "max": 8292}}`` from key=number pairs."""
    limits: dict[str, Any] = {}
    for key, (low, high) in group.limits.items():
        low_n, high_n = _number(low), _number(high)
        limits[key] = low_n if low == high else {"min": low_n, "max": high_n}
    return limits


def _number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def _slow_details(group: Group, config: RuleConfig) -> dict[str, Any]:
    durations = group.durations
    return {
        "max_seconds": round(max(durations), 6) if durations else None,
        "mean_seconds": round(sum(durations) / len(durations), 6) if durations else None,
        "threshold_seconds": config.slow_threshold_seconds,
        "over_threshold": group.over_threshold,
    }


def _error_details(group: Group) -> dict[str, Any]:
    details: dict[str, Any] = {"level": _level_name(group.top_rank)}
    frame = app_frame(group.newest.frames) if group.signature else None
    if frame is not None:
        details["app_frame"] = f"{frame.file}:{frame.line} in {frame.function}"
    request = group.newest.attributes.get("request") if group.signature else None
    if isinstance(request, str):
        details["request"] = request  # "GET /rooms/r9": how the failure is reached
    return details


def _level_name(rank: int) -> str:
    return next((lvl.value for lvl in reversed(Level) if rank >= lvl.rank), "DEBUG")
