"""Process entry point: ``mendbot stats``: what each operational action achieved (the
remediation library), from the outcomes in the database.

One line per action kind and anomaly kind: success rate (the signal cleared in time, of
the actions that ran), then cleared, not cleared, failed, refused, and the median seconds
from the action to the signal clearing. ``--json``: one object per line.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from sqlalchemy.exc import SQLAlchemyError

from bot.cli.support import fail
from fixes.actions.runs import ActionRuns
from fixes.persistence.db import Database
from settings import Settings

EXIT_OK, EXIT_USAGE = 0, 2


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the outcomes; returns the exit code (0, or 2 when the database fails)."""
    try:
        db = Database(settings.database_url)
    except SQLAlchemyError as error:
        raise fail(f"cannot open the database: {error.__class__.__name__}") from error
    try:
        stats = ActionRuns(db).stats()
    finally:
        db.dispose()
    if args.json:
        for s in stats:
            print(json.dumps({**asdict(s), "success_rate": round(s.success_rate, 4)}))
        return EXIT_OK
    if not stats:
        print("no operational action has finished yet")
        return EXIT_OK
    print(
        f"{'action':<18} {'anomaly':<18} {'success':>7} {'ran':>4} {'cleared':>7} "
        f"{'stayed':>6} {'failed':>6} {'refused':>7} {'median s':>8}"
    )
    for s in stats:
        median = (
            f"{s.median_seconds_to_clear:.1f}" if s.median_seconds_to_clear is not None else "-"
        )
        print(
            f"{s.action_kind:<18} {s.anomaly_kind:<18} {s.success_rate:>7.0%} "
            f"{s.total - s.refused:>4} {s.cleared:>7} {s.not_cleared:>6} {s.failed:>6} "
            f"{s.refused:>7} {median:>8}"
        )
    return EXIT_OK
