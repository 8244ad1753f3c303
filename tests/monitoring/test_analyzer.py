"""LogAnalyzer on real logs: the incidents of the ASGI service log, Loghub BGL alerts, and the
rules' thresholds, fingerprints and baseline (in memory and in the state store)."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from core.models import MAX_SAMPLES, Anomaly, Frame, Level, LogRecord
from fixes.persistence.db import Database
from fixes.persistence.state import StateStore
from monitoring.analysis.analyzer import BASELINE_KEY, BaselineStateError, LogAnalyzer
from monitoring.analysis.rules import app_frame
from monitoring.analysis.templates import _mask_general, mask, mask_token
from monitoring.parsing.logfile import read_records
from monitoring.parsing.parser import parse_lines
from tests.conftest import ASGI_LOG, ROOT, SHARED_DATA

EXCERPT = ROOT / "tests" / "data" / "asgi_excerpt.log"
BGL = SHARED_DATA / "loghub" / "BGL" / "BGL_2k.log"
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

#: The incident table of ../shared/data/README.md: (kind, template start) -> count.
ASGI_INCIDENTS = {
    ("repeated_error", "KeyError in orders"): 19,
    ("repeated_error", "json.decoder.JSONDecodeError in report"): 3,
    ("repeated_error", "MCP Tool failed: ConnectError"): 9,
    ("truncation", "LM response truncated"): 11,
    ("duplicate_spike", "Duplicate Slack event"): 22,
    ("slow_operation", "Slow LM call"): 3,
}


def by_incident(anomalies: list[Anomaly]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for anomaly in anomalies:
        for kind, start in ASGI_INCIDENTS:
            if anomaly.kind == kind and anomaly.template.startswith(start):
                assert (kind, start) not in found, f"incident split: {anomaly.template}"
                found[(kind, start)] = anomaly.count
    return found


def assert_asgi_incidents(
    anomalies: list[Anomaly], expected: dict[tuple[str, str], int], incidents: int
) -> None:
    assert by_incident(anomalies) == expected
    zero = [a for a in anomalies if a.exception_type == "ZeroDivisionError"]
    assert [(a.kind, a.count) for a in zero] == [("new_error", 1)]
    assert len(anomalies) <= 2 * incidents
    ranks = [(a.severity.rank, a.count) for a in anomalies]
    assert ranks == sorted(ranks, reverse=True)


@pytest.mark.skipif(not ASGI_LOG.is_file(), reason="../shared/data is not checked out here")
def test_shared_asgi_log_flags_every_incident_once_with_its_count() -> None:
    anomalies = LogAnalyzer().analyze(read_records(ASGI_LOG))
    assert_asgi_incidents(anomalies, ASGI_INCIDENTS, incidents=7)
    keyerror = next(a for a in anomalies if a.exception_type == "KeyError")
    assert keyerror.frames[-1].file == "/app/app.py"
    assert keyerror.details["app_frame"] == "/app/app.py:31 in orders"
    truncation = next(a for a in anomalies if a.kind == "truncation")
    assert truncation.details["limits"]["max_tokens"] == 3000
    slow = next(a for a in anomalies if a.kind == "slow_operation")
    assert slow.details["max_seconds"] == pytest.approx(1.2)


def test_committed_excerpt_flags_every_incident_once_with_its_count() -> None:
    expected = {
        ("repeated_error", "KeyError in orders"): 4,
        ("repeated_error", "json.decoder.JSONDecodeError in report"): 3,
        ("repeated_error", "MCP Tool failed: ConnectError"): 3,
        ("truncation", "LM response truncated"): 3,
        ("duplicate_spike", "Duplicate Slack event"): 12,
        ("slow_operation", "Slow LM call"): 2,
    }
    anomalies = LogAnalyzer().analyze(read_records(EXCERPT))
    assert_asgi_incidents(anomalies, expected, incidents=7)
    for anomaly in anomalies:
        assert 1 <= len(anomaly.samples) <= MAX_SAMPLES
        assert anomaly.first_seen <= anomaly.last_seen
        assert anomaly.summary and len(anomaly.fingerprint) == 16


@pytest.mark.parametrize(
    ("message", "masked"),
    [
        (
            "LM response truncated (max_tokens=3000, needed=5790)",
            "LM response truncated (max_tokens=<NUM>, needed=<NUM>)",
        ),
        ("KeyError: 'ghost5187'", "KeyError: '<ID>'"),
        ("Slow LM call: 1.20s for request 290", "Slow LM call: <NUM>s for request <NUM>"),
        (
            "from 10.0.0.7:5432 id 6f1e2b4c-1111-2222-3333-444455556666 at 0x7fed80",
            "from <IP> id <UUID> at <HEX>",
        ),
        (
            "GET /users/123/a1.txt HTTP/1.1 took 35ms",
            "GET /users/<NUM>/<ID> HTTP/<NUM> took <NUM>ms",
        ),
        (
            "program interrupt: illegal instruction......0  CPU#3",
            "program interrupt: illegal instruction......<NUM> CPU#<NUM>",
        ),
        ("no digits here, stays", "no digits here, stays"),
    ],
)
def test_masking(message: str, masked: str) -> None:
    assert mask(message) == masked


def test_masking_fast_path_equals_general_path_and_never_fails() -> None:
    rnd = random.Random(11)
    alphabet = "ab1/\\.:=-_[]'\"~x09#+,()<>%sm"
    for _ in range(20_000):
        token = "".join(rnd.choice(alphabet) for _ in range(rnd.randint(1, 12)))
        expected = "<NUM>" if token.isdigit() else _mask_general(token)
        assert mask_token(token) == expected, token


def test_stdlib_frames_are_not_the_in_app_frame() -> None:
    frames = (
        Frame("/app/.venv/lib/python3.11/site-packages/starlette/routing.py", 1, "app"),
        Frame("/app/app.py", 75, "report"),
        Frame("/root/.pyenv/versions/3.11.7/lib/python3.11/json/__init__.py", 346, "loads"),
        Frame("<frozen importlib._bootstrap>", 1, "_load"),
    )
    assert app_frame(frames) == Frame("/app/app.py", 75, "report")
    assert app_frame(frames[:1]) == frames[0]
    assert app_frame(()) is None


def _error_lines(count: int, message: str = "payment failed for order 17") -> list[str]:
    return [f"2026-11-21 18:00:{i:02d},000 - app.pay - ERROR - {message}" for i in range(count)]


def test_two_errors_are_new_three_are_repeated() -> None:
    assert [a.kind for a in LogAnalyzer().analyze(parse_lines(_error_lines(2)))] == ["new_error"]
    assert [a.kind for a in LogAnalyzer().analyze(parse_lines(_error_lines(3)))] == [
        "repeated_error"
    ]


def test_new_error_only_the_first_time_it_is_seen() -> None:
    analyzer = LogAnalyzer()
    assert [a.kind for a in analyzer.analyze(parse_lines(_error_lines(1)))] == ["new_error"]
    assert analyzer.analyze(parse_lines(_error_lines(1, "payment failed for order 99"))) == []
    # A repeated error is still reported every cycle it repeats.
    assert [a.kind for a in analyzer.analyze(parse_lines(_error_lines(5)))] == ["repeated_error"]


def test_baseline_survives_a_restart_through_the_state_store(database_url: str) -> None:
    state = StateStore(Database(database_url))
    first = LogAnalyzer(state=state).analyze(read_records(EXCERPT))
    assert "new_error" in {a.kind for a in first}
    restarted = LogAnalyzer(state=StateStore(Database(database_url)))
    again = restarted.analyze(read_records(EXCERPT))
    assert "new_error" not in {a.kind for a in again}
    assert {a.fingerprint for a in again} <= {a.fingerprint for a in first}
    assert state.get(BASELINE_KEY)["cycles"] == 2


def test_a_broken_state_store_is_reported_as_one_error(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'state.db'}")
    (tmp_path / "state.db").unlink()
    (tmp_path / "state.db").mkdir()  # the database file is now a directory
    db.dispose()
    with pytest.raises(BaselineStateError, match="cannot load the analyzer baseline"):
        LogAnalyzer(state=StateStore(db)).analyze(parse_lines(_error_lines(1)))


def test_fingerprints_ignore_arrival_order_and_cluster_ids() -> None:
    lines = EXCERPT.read_text().splitlines()
    records = list(parse_lines(lines, fallback_time=T0))
    expected = {(a.kind, a.fingerprint, a.count) for a in LogAnalyzer().analyze(records)}
    shuffled = records[:]
    random.Random(3).shuffle(shuffled)
    warmed = LogAnalyzer()
    warmed.analyze(parse_lines(["unrelated line 1", "another thing"], fallback_time=T0))
    got = {(a.kind, a.fingerprint, a.count) for a in warmed.analyze(shuffled)}
    assert got == expected


def test_fingerprints_are_equal_across_processes_with_different_hash_seeds() -> None:
    code = (
        "import json; from monitoring.analysis.analyzer import LogAnalyzer; "
        "from monitoring.parsing.logfile import read_records; "
        f"print(json.dumps(sorted(a.fingerprint for a in "
        f"LogAnalyzer().analyze(read_records({str(EXCERPT)!r})))))"
    )
    outputs = set()
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=True,
            timeout=120,
        )
        outputs.add(done.stdout)
    assert len(outputs) == 1 and len(json.loads(outputs.pop())) == 7


def _record(message: str, level: Level = Level.INFO, second: int = 0) -> LogRecord:
    return LogRecord(
        timestamp=T0 + timedelta(seconds=second),
        level=level,
        message=message,
        raw=message,
        logger="app",
    )


def test_truncation_and_slow_operation_details() -> None:
    records = [
        _record(
            f"completion truncated: finish_reason=length max_tokens=512 used={n}", Level.WARNING, n
        )
        for n in (600, 700)
    ]
    records += [_record(f"GET /report took {s}s", Level.INFO, 10) for s in ("2.5", "0.2", "3")]
    records += [_record(f"NFS mount failed, slept {n} seconds", Level.INFO) for n in (30, 60)]
    kinds = {a.kind: a for a in LogAnalyzer(slow_threshold_seconds=1.0).analyze(records)}
    assert set(kinds) == {"truncation", "slow_operation"}
    assert kinds["truncation"].details["limits"]["max_tokens"] == 512
    assert kinds["truncation"].details["limits"]["used"] == {"min": 600, "max": 700}
    slow = kinds["slow_operation"]
    assert (slow.count, slow.details["max_seconds"]) == (2, 3.0)


def test_duplicate_spike_needs_retry_words_or_a_jump_over_the_usual_share() -> None:
    analyzer = LogAnalyzer()
    health = [_record(f"health check ok in region {i % 3}") for i in range(10)]
    other = [_record(f"user {i} logged in") for i in range(190)]
    assert analyzer.analyze(health + other) == []  # first sight defines "usual"
    assert analyzer.analyze(health + other) == []
    spike = [_record(f"health check ok in region {i % 3}") for i in range(200)]
    (anomaly,) = analyzer.analyze(spike + other)
    assert (anomaly.kind, anomaly.count) == ("duplicate_spike", 200)
    assert anomaly.details["usual_share"] == pytest.approx(0.05)
    retries = [_record(f"Retrying request {i} (attempt 2)", Level.WARNING) for i in range(10)]
    assert [a.kind for a in LogAnalyzer().analyze(retries + other)] == ["duplicate_spike"]
    assert LogAnalyzer().analyze(retries[:9] + other) == []


def test_samples_are_the_newest_five() -> None:
    records = [_record(f"db down attempt {i}", Level.ERROR, i) for i in range(8)]
    (anomaly,) = LogAnalyzer().analyze(records)
    assert anomaly.samples == [f"db down attempt {i}" for i in range(3, 8)]
    assert (anomaly.first_seen, anomaly.last_seen) == (T0, T0 + timedelta(seconds=7))


def _bgl_evaluation() -> tuple[set[str], set[str], int, int]:
    raw = BGL.read_text(encoding="utf-8").splitlines()
    label = {line: line.split(" ", 1)[0] for line in raw}
    counts = Counter(label[line] for line in raw)
    repeating = {c for c, n in counts.items() if c != "-" and n >= 2}
    anomalies = LogAnalyzer().analyze(parse_lines(raw, fallback_time=T0))
    caught: set[str] = set()
    noise = 0
    for anomaly in anomalies:
        alerts = {label.get(sample, "?") for sample in anomaly.samples} - {"-", "?"}
        caught |= alerts
        noise += not alerts
    return repeating, caught & repeating, noise, len(anomalies)


@pytest.mark.skipif(not BGL.is_file(), reason="../shared/data is not checked out here")
def test_bgl_alert_categories_that_repeat_are_flagged() -> None:
    repeating, caught, noise, total = _bgl_evaluation()
    print(
        f"\nBGL: {len(caught)}/{len(repeating)} repeating alert categories caught; "
        f"{noise} of {total} anomalies flag no alert line"
    )
    assert len(repeating) == 10
    assert len(caught) >= 9, sorted(repeating - caught)


@pytest.mark.skipif(not BGL.is_file(), reason="../shared/data is not checked out here")
def test_bgl_structured_labels_agree_with_raw_lines() -> None:
    with (BGL.parent / "BGL_2k.log_structured.csv").open(newline="") as handle:
        labels = [row["Label"] for row in csv.DictReader(handle)]
    raw = BGL.read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 1)[0] for line in raw] == labels


#: Fingerprints of the ASGI log's anomalies as stored by earlier versions (proposals,
#: baselines and Slack threads refer to them): a grouping change must not move them.
ASGI_FINGERPRINTS = {
    ("duplicate_spike", "8bf7ada88278496e"),
    ("new_error", "930af22abcafa420"),
    ("repeated_error", "4bfb07a8e3c6ac75"),
    ("repeated_error", "93e05ccb170ab629"),
    ("repeated_error", "c60208cad236d7ef"),
    ("slow_operation", "ab2753de99ae5fdf"),
    ("truncation", "8b539e94306f8065"),
}


@pytest.mark.skipif(not ASGI_LOG.is_file(), reason="../shared/data is not checked out here")
def test_fingerprints_of_the_asgi_incidents_stay_those_stored_before() -> None:
    anomalies = LogAnalyzer().analyze(read_records(ASGI_LOG))
    assert {(a.kind, a.fingerprint) for a in anomalies} == ASGI_FINGERPRINTS
