"""A noisy log cannot flood anyone: 5,000 distinct ERROR lines in one cycle, end to end.

The real ``mendbot scan`` in a child process, posting to a fake Slack Web API that answers
one call with HTTP 429 ``Retry-After: 1`` as Slack does. Before this, such a cycle posted
1,000 proposals, then failed with "no free proposal id" (and took minutes trying ids).
Prints the figures: lines, anomalies, proposals stored, posts in the cycle, seconds.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import string
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.models import Severity
from tests.conftest import ROOT
from tests.fakes.slack import BOT_TOKEN, FakeSlack, SlackCall

LINES = 5000
CAP = 5
BURST, PER_SECOND = 3, 1.0  # bot.slack.outbox's pace, checked here from arrival times

pytestmark = pytest.mark.slow


def _flood(path: Path) -> None:
    """``LINES`` ERROR lines, each different (random words and a random token)."""
    rng = random.Random(5000)
    words = [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
    ]
    with path.open("w") as log:
        for n in range(LINES):
            noise = " ".join(rng.choice(words) for _ in range(4))
            token = "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
            log.write(
                f"2026-11-21 02:{n // 60 % 60:02d}:{n % 60:02d},000 - app.{rng.choice(words)}"
                f" - ERROR - failure {noise} {token} in handler_{n}\n"
            )


def _scan(tmp_path: Path, log: Path, slack: FakeSlack) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "MENDBOT_", "TARGET_", "DATABASE_"))
    }
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'flood.db'}",
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_CHANNEL": "#ops",
        "SLACK_API_URL": slack.server.url,
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "scan", str(log), "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=280,
        check=False,
    )


def _paced(posts: list[SlackCall]) -> bool:
    """True when no stretch of posts went faster than a bucket of BURST at PER_SECOND."""
    times = [call.at for call in posts]
    return all(
        j - i + 1 <= BURST + (times[j] - times[i]) * PER_SECOND + 0.05
        for i in range(len(times))
        for j in range(i + 1, len(times))
    )


def test_five_thousand_distinct_errors_make_at_most_cap_plus_one_posts(tmp_path: Path) -> None:
    log = tmp_path / "flood.log"
    _flood(log)
    with FakeSlack() as slack:
        slack.rate_limit("chat.postMessage", times=1, retry_after_seconds=1)
        started = time.monotonic()
        first = _scan(tmp_path, log, slack)
        seconds = time.monotonic() - started
        posts_first = [c for c in slack.received("chat.postMessage") if c.ok]

    assert first.returncode == 0 and first.stderr == "", first.stderr[-2000:]
    objects = [json.loads(line) for line in first.stdout.splitlines()]
    anomalies = [o for o in objects if o["type"] == "anomaly"]
    proposals = [o for o in objects if o["type"] == "proposal"]
    with sqlite3.connect(tmp_path / "flood.db") as db:
        stored = db.execute("SELECT count(*) FROM proposals").fetchone()[0]
        held = db.execute("SELECT count(*) FROM audit_events WHERE action = 'held'").fetchone()[0]
        posted_ids = [
            r[0] for r in db.execute("SELECT id FROM proposals WHERE thread_ref IS NOT NULL")
        ]
    print(
        f"\nflood: {LINES:,} lines -> {len(anomalies):,} anomalies, {stored:,} proposals stored, "
        f"{len(posts_first)} posts in the cycle ({CAP} proposals + 1 summary; one 429 waited "
        f"out), {held:,} held, {seconds:.1f} s"
    )
    assert len(anomalies) > 1000 and stored == len(proposals) == len(anomalies)
    assert len(posts_first) == CAP + 1 and held == stored - CAP
    assert len(posted_ids) == CAP
    summary = posts_first[-1]
    assert f"{stored - CAP:,} more new problems were stored, not posted" in summary.blocks_json()
    assert slack.received("chat.postMessage")[0].status == 429
    assert _paced(posts_first)
    # the posted ones are the most severe
    rank = {a["fingerprint"]: Severity(a["severity"]).rank for a in anomalies}
    ranks = {p["id"]: rank[p["fingerprint"]] for p in proposals}
    held_ranks = [r for pid, r in ranks.items() if pid not in posted_ids]
    assert min(ranks[pid] for pid in posted_ids) >= max(held_ranks)
    # The next cycle of the same flood posts nothing new and tells only the posted ones'
    # threads: tests/monitoring/test_pipeline.py::test_held_proposals_are_counted_but_never_posted_later
