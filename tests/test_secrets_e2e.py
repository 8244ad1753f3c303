"""End to end: no secret of the corpus reaches any sink, from a log to a pushed fix.

A log holds every format of ``tests/fakes/secrets_corpus.py``, each repeated at ERROR so
that it becomes an anomaly of its own, plus a KeyError traceback (with a Stripe key as the
missing key) that the fake LM fixes. The real command line runs it all in child processes:
``mendbot scan --json`` (one full cycle: analyze, diagnose through the fake OpenAI server,
store in SQLite, post to the fake Slack), ``mendbot scan --json --no-diagnose``,
``mendbot fixes implement`` (commit and push to a bare remote, thread replies in Slack),
``mendbot fixes list`` (text and JSON: every proposal whole) and ``show`` (the diff and the
audit trail) of four proposals. Then every needle of every format is
counted in every sink: the LM request bodies, the Slack payloads, a dump of every table
of the database, the terminal (stdout and stderr of every command) and ``git log -p`` of
the checkout and the remote. The counts are printed per sink, and must all be 0.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.redact import PLACEHOLDER
from tests.conftest import ROOT
from tests.fakes.git import SERVICE_DIR, git, make_repo
from tests.fakes.openai import FakeOpenAI, chat_fields, is_fix_request
from tests.fakes.secrets_corpus import CORPUS, Planted, random_token
from tests.fakes.slack import FakeSlack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

REPEATS = 3
KEY_LINE = 'user = STATS["users"][body["user_id"]]'
KEYERROR_SECRET = "sk_live_" + random_token("keyerror", 40)
START = datetime(2026, 11, 21, 18, 0, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d}"


def write_log(path: Path) -> None:
    """Each corpus entry REPEATS times (its own logger), then the KeyError traceback."""
    lines: list[str] = []
    moment = START
    for repeat in range(REPEATS):
        for number, entry in enumerate(CORPUS):
            moment += timedelta(milliseconds=250)
            logger = f"app.source{number:02d}"
            if entry.multiline:
                lines.append(f"{_stamp(moment)} - {logger} - ERROR - unhandled error in job")
                lines.extend(entry.message.splitlines())
            else:
                lines.append(f"{_stamp(moment)} - {logger} - ERROR - {entry.message}")
        lines.extend(
            [
                f'INFO:     10.0.0.{repeat}:40312 - "POST /orders HTTP/1.1" 500',
                "ERROR:    Exception in ASGI application",
                "Traceback (most recent call last):",
                '  File "/app/app.py", line 31, in orders',
                f"    {KEY_LINE}   # bug: unknown users raise KeyError",
                f"KeyError: '{KEYERROR_SECRET}'",
            ]
        )
    path.write_text("\n".join(lines) + "\n")


def lm_answer(body: dict[str, Any]) -> str:
    """The fake LM repeats what it was shown (a model may quote its input), and for the
    KeyError proposes a guard whose old text it copies from the prompt."""
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if not is_fix_request(body):
        excerpt = prompt.split('<log_excerpt n="1">', 1)[-1][:400]
        return chat_fields(
            root_cause=f"The log says: {excerpt}",
            severity_assessment="HIGH",
            affected_components=["app.py:orders"],
            confidence=0.8,
        )
    line = next((x for x in prompt.splitlines() if KEY_LINE in x), None)
    edits = []
    if line is not None:
        guard = '    if body["user_id"] not in STATS["users"]:\n        raise KeyError("unknown")\n'
        edits = [{"path": "app.py", "old_text": line, "new_text": guard + line}]
    return chat_fields(
        edits=edits,
        reasoning=f"Quoted from the prompt: {prompt[-300:]}",
        risk_assessment={"level": "LOW", "notes": "none"},
        regression_test="",
    )


def mendbot(env: dict[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *argv],
        capture_output=True,
        cwd=ROOT,
        env=env,
        text=True,
        timeout=300,
        check=False,
    )


def database_dump(path: Path) -> str:
    """Every row of every table, as text, JSON columns decoded as well as raw."""
    parts = []
    with sqlite3.connect(path) as connection:
        tables = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    parts.append(str(value))
                    parts.extend(_decoded_json(value))
    return "\n".join(parts)


def _decoded_json(value: object) -> list[str]:
    if not isinstance(value, str | bytes):
        return []
    try:
        return [_strings(json.loads(value))]
    except (ValueError, TypeError):
        return []


def _strings(value: Any) -> str:
    """Every string in a JSON value, unescaped, one per line."""
    if isinstance(value, dict):
        return "\n".join(_strings(k) + "\n" + _strings(v) for k, v in value.items())
    if isinstance(value, list):
        return "\n".join(_strings(v) for v in value)
    return str(value)


def count_leaks(sink: str, entry: Planted) -> int:
    return sum(sink.count(needle) for needle in entry.forms())


def test_no_corpus_secret_reaches_any_sink(tmp_path: Path) -> None:
    (tmp_path / "git").mkdir()
    repo = make_repo(tmp_path / "git", copy_from=SERVICE_DIR)
    log = tmp_path / "service.log"
    write_log(log)
    text = log.read_text()
    for entry in CORPUS:  # the test can fail: every needle is in the input
        assert any(needle in text for needle in entry.forms()), entry.name
    db_path = tmp_path / "mendbot.db"

    with FakeOpenAI() as llm, FakeSlack() as slack:
        llm.respond_with(lm_answer)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "MENDBOT_", "OPENAI_"))
        }
        env.update(
            {
                "DATABASE_URL": f"sqlite:///{db_path}",
                "MENDBOT_LM": "openai/fake-model",
                "OPENAI_BASE_URL": llm.base_url,
                "OPENAI_API_KEY": "sk-test",
                "MENDBOT_LM_TIMEOUT_SECONDS": "20",
                "MENDBOT_LM_MAX_RETRIES": "0",
                "MENDBOT_MAX_DIAGNOSES_PER_CYCLE": "1000",
                # every proposal is posted, so every one is searched in Slack's payloads
                "MENDBOT_MAX_PROPOSALS_PER_CYCLE": "1000",
                "SLACK_BOT_TOKEN": slack.bot_token,
                "SLACK_CHANNEL": "#ops",
                "SLACK_API_URL": slack.api_url,
                "MENDBOT_SLACK_POSTS_PER_SECOND": "100",  # pacing is tested on its own
                "TARGET_REPO_PATH": str(repo.work),
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            }
        )
        runs = [mendbot(env, "scan", str(log), "--json")]
        assert runs[0].returncode == 0, runs[0].stderr[-3000:]
        objects = [json.loads(line) for line in runs[0].stdout.splitlines()]
        anomalies = [o for o in objects if o["type"] == "anomaly"]
        proposals = [o for o in objects if o["type"] == "proposal"]
        with_edits = [p for p in proposals if p["edits"]]
        assert with_edits, "the fake LM's KeyError fix is among the proposals"
        runs.append(mendbot(env, "scan", str(log), "--json", "--no-diagnose"))
        runs.append(mendbot(env, "fixes", "implement", with_edits[0]["id"], "--as", "tester"))
        assert runs[-1].returncode == 0, runs[-1].stdout + runs[-1].stderr
        runs.append(mendbot(env, "fixes", "list"))
        runs.append(mendbot(env, "fixes", "list", "--json"))
        # ``list --json`` prints every proposal whole; ``show`` adds the diff and the trail.
        for proposal in [with_edits[0], *proposals[:3]]:
            runs.append(mendbot(env, "fixes", "show", proposal["id"]))
        runs.append(mendbot(env, "fixes", "show", with_edits[0]["id"], "--json"))
        lm_sink = llm.all_text()
        slack_sink = "\n".join(
            f"{call.method} {json.dumps(call.args)} {call.headers}" for call in slack.received()
        )
        lm_requests, slack_calls = len(llm.requests), len(slack.received())

    sinks = {
        "LM request bodies": lm_sink,
        "Slack payloads": slack_sink,
        "database dump": database_dump(db_path),
        "terminal": "\n".join(run.stdout + "\n" + run.stderr for run in runs),
        "git log -p": git(repo.work, "log", "-p", "--all") + git(repo.bare, "log", "-p", "--all"),
    }
    extra = Planted("KeyError key", "gitleaks stripe-access-token", KEYERROR_SECRET, "")
    counts = {
        name: {e.name: count_leaks(sink, e) for e in [*CORPUS, extra]}
        for name, sink in sinks.items()
    }
    print(
        f"\n{len(CORPUS) + 1} secret formats, {len(anomalies)} anomalies, {len(proposals)} proposals, "
        f"{lm_requests} LM requests, {slack_calls} Slack calls"
    )
    for name, per_entry in counts.items():
        print(
            f"  {name:18s} {sum(per_entry.values())} leaks ({len(sinks[name]):,} characters searched)"
        )

    # Every format reached the pipeline: its anomaly exists and was masked.
    assert len(anomalies) >= len(CORPUS)
    assert all(PLACEHOLDER.search(" ".join(a["samples"])) for a in anomalies)
    assert "Fix-Id:" in sinks["git log -p"] and "<SECRET_" in sinks["git log -p"]
    assert lm_requests >= len(CORPUS) and slack_calls >= len(proposals)
    leaks = {sink: {k: v for k, v in per_entry.items() if v} for sink, per_entry in counts.items()}
    assert leaks == {name: {} for name in sinks}
