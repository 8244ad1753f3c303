"""The offline evaluation of the bundled cases, with the floors it reaches today.

This is the CI gate of "Proposals worth approving": a change that makes the offline
playbooks fix fewer incidents, push more harmful fixes, flag fewer incidents or edit code
for an incident that needs none fails here. Raise the floors when the figures improve
(README, "Fix evaluation", shows the table).

Also checked: each bundled log is the service's own output (every traceback line that
quotes the service's code quotes it exactly), so the cases stay true when a service
changes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from monitoring.evaluation.cases import BUNDLED_CASES_DIR, find_cases

#: What the offline evaluation reaches today (28 incidents, 23 needing code, 5 not).
FLOORS = {"min_flagged": 28, "min_fixed": 18, "max_harmful": 0, "min_no_code_change_correct": 5}
#: Applied fixes whose regression test failed before and passed after, today (of 18).
MIN_PROVEN = 14
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in \S+')


def _mendbot(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_the_offline_evaluation_meets_its_floors(tmp_path: Path) -> None:
    floors = [f"--{name.replace('_', '-')}={value}" for name, value in FLOORS.items()]
    result = _mendbot("eval", "--json", *floors)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    incidents, summary = lines[:-1], lines[-1]
    assert summary["type"] == "summary" and {i["type"] for i in incidents} == {"incident"}
    assert summary["incidents"] == len(incidents) >= 15
    assert summary["no_code_change_incidents"] >= 3
    assert summary["oracles_passing_before"] == 0, "an oracle passes on the buggy code"
    assert summary["extra_anomalies"] == 0
    assert summary["lm_requests"] == 0 and summary["tokens_per_diagnosis"] == 0
    assert len(summary["cases"]) >= 3
    for incident in incidents:
        applied = incident["outcome"] == "applied"
        assert incident["proven"] in ((True, False) if applied else (None,))
    assert summary["proven"] >= MIN_PROVEN
    assert summary["proven_share"] == round(summary["proven"] / summary["applied"], 3)
    # one progress line per case and per incident on stderr
    assert result.stderr.count("\n") >= len(incidents) + 2 * len(summary["cases"])


def test_a_floor_that_is_missed_exits_1(tmp_path: Path) -> None:
    case = BUNDLED_CASES_DIR / "json_worker"
    result = _mendbot("eval", str(case), "--min-fixed=5")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "fixed 3 is below the floor 5" in result.stderr
    assert "json_worker" in result.stdout  # the table is still printed


def test_a_folder_that_holds_no_case_exits_2(tmp_path: Path) -> None:
    result = _mendbot("eval", str(tmp_path))
    assert result.returncode == 2
    assert "not a case folder" in result.stderr


def test_help_shows_an_example_that_runs_from_the_repository_root() -> None:
    result = _mendbot("eval", "--help")
    assert "mendbot eval evals/flask_shop --json" in result.stdout
    assert (BUNDLED_CASES_DIR / "flask_shop" / "case.json").is_file()


def _text_lines(log: Path) -> list[str]:
    """The log's lines, with a JSON line's ``exc_info`` traceback unfolded into its lines."""
    lines: list[str] = []
    for line in log.read_text(encoding="utf-8").splitlines():
        if line.startswith("{"):
            lines.extend(str(json.loads(line).get("exc_info", "")).splitlines())
        else:
            lines.append(line)
    return lines


@pytest.mark.parametrize("case", find_cases([BUNDLED_CASES_DIR]), ids=lambda c: c.name)
def test_each_bundled_log_quotes_its_service_exactly(case) -> None:
    lines = _text_lines(case.log)
    checked = 0
    for number, line in enumerate(lines[:-1]):
        match = _FRAME.search(line)
        if not match or "/app/" not in match.group(1):
            continue
        relative = match.group(1).split("/app/", 1)[1]
        source = (case.repo / relative).read_text(encoding="utf-8").splitlines()
        quoted = lines[number + 1].strip()
        assert source[int(match.group(2)) - 1].strip() == quoted, f"{relative}:{match.group(2)}"
        checked += 1
    assert checked >= 10


def test_every_bundled_case_is_data_the_harness_and_the_playbooks_do_not_name() -> None:
    cases = find_cases([BUNDLED_CASES_DIR])
    names = {case.name for case in cases}
    incidents = {incident.name for case in cases for incident in case.incidents}
    folders = ("monitoring/evaluation", "monitoring/diagnosis")
    code = "".join(p.read_text() for f in folders for p in Path(f).rglob("*.py"))
    assert len(names) >= 4
    assert not [name for name in names | incidents if name in code]


def test_lm_only_is_documented_and_refused_without_an_lm(tmp_path: Path) -> None:
    help_text = _mendbot("eval", "--help").stdout
    assert "--lm-only" in help_text and "mendbot eval --lm-only --json" in help_text
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MENDBOT_", "OPENAI_"))}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "eval", "--lm-only"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "--lm-only needs an LM: set MENDBOT_LM" in result.stderr
