"""Process entry point: ``mendbot stats``: what operational actions and code fixes achieved,
from the outcomes in the database.

Operational actions: one line per action kind and anomaly kind: success rate (the signal
cleared in time, of the actions that ran), then cleared, not cleared, failed, refused, and
the median seconds from the action to the signal clearing.

Code fixes (:mod:`fixes.persistence.outcomes`): one line per diagnosis source (``playbook``
or ``lm:<model>``) and anomaly kind: success rate (verified, of the fixes judged:
verified, regressed, reverted, rolled back), then each outcome and the reasons given for
rejections; then one line per fingerprint with a failed fix: its fixes, failures, and
whether its fix breaker is open.

``--json``: one object per line: ``{"type": "action", ...}``, ``{"type": "fix", "source",
"anomaly_kind", <status>: count..., "judged", "success_rate", "rejected_reasons"}``,
``{"type": "fingerprint", "fingerprint", ..., "breaker_open", "breaker_closes_at"}``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import asdict

from bot.cli.support import open_database_or_exit, out
from core.text import one_line
from fixes.actions.runs import ActionRuns, ActionStats
from fixes.persistence.outcomes import OutcomeStats
from fixes.persistence.state import StateStore
from fixes.persistence.store import ProposalStore
from monitoring.fix_history import BreakerState, FixHistory
from settings import Settings

EXIT_OK, EXIT_USAGE = 0, 2
_FIX_COLUMNS = ("verified", "regressed", "reverted", "rolled_back", "failed", "rejected", "applied")


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the outcomes; returns the exit code (0, or 2 when the database fails)."""
    db = open_database_or_exit(settings)
    try:
        history = FixHistory(
            store=ProposalStore(db),
            state=StateStore(db),
            failures=settings.fix_breaker_failures,
            cooldown_seconds=settings.fix_breaker_cooldown_seconds,
        )
        actions = ActionRuns(db).stats()
        fixes = history.outcomes.stats()
        fingerprints = [s for s in history.outcomes.stats_by_fingerprint() if s.failed_attempts]
        breakers = {fp: history.breaker(fp) for fp in (s.key["fingerprint"] for s in fingerprints)}
    finally:
        db.dispose()
    if args.json:
        _print_json(actions, fixes, fingerprints, breakers)
    else:
        _print_actions(actions)
        _print_fixes(fixes, fingerprints, breakers)
    return EXIT_OK


def _print_json(
    actions: Sequence[ActionStats],
    fixes: Sequence[OutcomeStats],
    fingerprints: Sequence[OutcomeStats],
    breakers: dict[str, BreakerState],
) -> None:
    for s in actions:
        rate = round(s.success_rate, 4)
        print(json.dumps({"type": "action", **asdict(s), "success_rate": rate}))
    for f in fixes:
        print(json.dumps({"type": "fix", **f.to_json()}))
    for f in fingerprints:
        breaker = breakers[f.key["fingerprint"]]
        closes = breaker.closes_at.isoformat() if breaker.closes_at else None
        row = {"type": "fingerprint", **f.to_json(), "failed_attempts": f.failed_attempts}
        print(json.dumps({**row, "breaker_open": breaker.open, "breaker_closes_at": closes}))


def _print_actions(stats: Sequence[ActionStats]) -> None:
    if not stats:
        out("no operational action has finished yet")
        return
    out(
        f"{'action':<18} {'anomaly':<18} {'success':>7} {'ran':>4} {'cleared':>7} "
        f"{'stayed':>6} {'failed':>6} {'refused':>7} {'median s':>8}"
    )
    for s in stats:
        median = (
            f"{s.median_seconds_to_clear:.1f}" if s.median_seconds_to_clear is not None else "-"
        )
        out(
            f"{s.action_kind:<18} {s.anomaly_kind:<18} {s.success_rate:>7.0%} "
            f"{s.total - s.refused:>4} {s.cleared:>7} {s.not_cleared:>6} {s.failed:>6} "
            f"{s.refused:>7} {median:>8}"
        )


def _print_fixes(
    fixes: Sequence[OutcomeStats],
    fingerprints: Sequence[OutcomeStats],
    breakers: dict[str, BreakerState],
) -> None:
    out()
    if not fixes:
        out("no code fix has an outcome yet")
        return
    out("code fixes (success = verified of judged: verified, regressed, reverted, rolled back)")
    heads = " ".join(f"{c.replace('_', ' '):>11}" for c in _FIX_COLUMNS)
    out(f"{'source':<24} {'anomaly':<16} {'success':>7} {'judged':>6} {heads}")
    for f in fixes:
        rate = f"{f.success_rate:.0%}" if f.success_rate is not None else "-"
        counts = " ".join(f"{f.counts[c]:>11}" for c in _FIX_COLUMNS)
        source = one_line(f.key["source"], 24)
        out(f"{source:<24} {f.key['anomaly_kind']:<16} {rate:>7} {f.judged:>6} {counts}")
        if f.rejected_reasons:
            reasons = "; ".join(
                f"{one_line(reason, 80) or '(no reason)'} x{n}"
                for reason, n in f.rejected_reasons.most_common(5)
            )
            out(f"{'':<24} rejected: {reasons}")
    for f in fingerprints:
        breaker = breakers[f.key["fingerprint"]]
        state = _breaker_words(breaker)
        out(
            f"fingerprint {f.key['fingerprint']}: {sum(f.counts.values())} fixes, "
            f"{f.failed_attempts} failed; {state}"
        )


def _breaker_words(breaker: BreakerState) -> str:
    if not breaker.open:
        return "fix proposals on"
    until = f" until {breaker.closes_at:%Y-%m-%d %H:%M} UTC" if breaker.closes_at else ""
    return (
        f"fix proposals stopped{until} (an approver: @mendbot resume fix proposals for "
        f"{breaker.fingerprint})"
    )
