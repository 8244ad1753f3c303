"""The evaluation harness on a tiny synthetic case: a real git repository with a bare
remote, a real virtualenv (the cached one for ``pytest``), real oracle runs.

The service cuts replies at ``MAX_REPLY_CHARS = 100``; the offline truncation playbook
raises that literal to 200. Whether that is a fix depends on the oracle: one that needs
the 180 characters the log shows passes (fixed), one that needs 1,000 still fails
(harmful: applied and pushed, yet the incident is not fixed).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from monitoring.evaluation.cases import CaseError, find_cases, load_case
from monitoring.evaluation.harness import match_incidents, run_case
from monitoring.evaluation.venvs import DEFAULT_VENV_CACHE
from tests.fakes.anomalies import anomaly

SERVICE = """import logging

log = logging.getLogger("bot.replies")
MAX_REPLY_CHARS = 100


def reply(text):
    if len(text) > MAX_REPLY_CHARS:
        log.warning("Reply truncated (max_chars=%d, needed=%d)", MAX_REPLY_CHARS, len(text))
        return text[:MAX_REPLY_CHARS]
    return text
"""
SERVICE_TEST = """from replies import reply


def test_a_short_reply_is_kept():
    assert reply("hello") == "hello"
"""
ORACLE = """import os
import sys

sys.path.insert(0, os.environ["MENDBOT_EVAL_REPO"])


def test_a_long_reply_is_whole():
    from replies import reply

    assert reply("x" * {length}) == "x" * {length}
"""
LOG = (
    [
        f"2025-01-01 10:00:0{n},000 - bot.replies - WARNING - Reply truncated "
        f"(max_chars=100, needed={150 + 15 * n})"
        for n in range(3)
    ]
    + [
        f"2025-01-01 10:01:0{n},000 - app.upstream - ERROR - Upstream unreachable: "
        "[Errno 111] Connection refused"
        for n in range(3)
    ]
    + [
        f"2025-01-01 10:02:0{n},000 - app.jobs - ERROR - Nightly export failed: quota exceeded"
        for n in range(3)
    ]
)


def make_case(root: Path, *, oracle_length: int) -> Path:
    (root / "service" / "tests").mkdir(parents=True)
    (root / "oracle").mkdir()
    (root / "service" / "replies.py").write_text(SERVICE)
    (root / "service" / "tests" / "test_replies.py").write_text(SERVICE_TEST)
    (root / "oracle" / "test_long_reply.py").write_text(ORACLE.format(length=oracle_length))
    (root / "requirements.txt").write_text("pytest\n")
    (root / "service.log").write_text("\n".join(LOG) + "\n")
    case = {
        "log": "service.log",
        "repo": "service",
        "validate_command": "python -m pytest -q tests",
        "requirements": "requirements.txt",
        "incidents": [
            {
                "name": "reply_cut",
                "key": "Reply truncated",
                "kind": "truncation",
                "count": 3,
                "code_fix": True,
                "oracle": "oracle/test_long_reply.py",
            },
            {
                "name": "upstream_down",
                "key": "Upstream unreachable",
                "kind": "repeated_error",
                "count": 3,
                "code_fix": False,
                "oracle": None,
            },
        ],
    }
    (root / "case.json").write_text(json.dumps(case))
    return root


@pytest.mark.parametrize(("oracle_length", "fixed"), [(180, True), (1000, False)])
def test_a_raised_limit_is_fixed_or_harmful_as_its_oracle_says(
    tmp_path: Path, make_settings, oracle_length: int, fixed: bool
) -> None:
    case = load_case(make_case(tmp_path / "replies", oracle_length=oracle_length))
    result = run_case(
        case, settings=make_settings(), venv_cache=DEFAULT_VENV_CACHE, keep_dir=tmp_path / "run"
    )
    cut, upstream = result.rows
    assert (cut.flagged, cut.flagged_kind, cut.flagged_count) == (True, "truncation", 3)
    assert cut.edits == 1 and cut.files == ["replies.py"] and cut.outcome == "applied"
    assert cut.oracle_before is False and cut.oracle_after is fixed
    assert cut.service_tests_after is True
    assert (cut.fixed, cut.harmful) == (fixed, not fixed)
    assert (cut.lm_requests, cut.input_tokens, cut.output_tokens) == (0, 0, 0)
    assert cut.diagnosis_source == "playbook" and cut.proven is False  # no test: no proof
    assert upstream.no_code_change_correct is True and upstream.edits == 0
    assert [e.template for e in result.extras] == ["Nightly export failed: quota exceeded"]
    # The fix went where a person's approval sends it: a commit on the bare remote's main.
    bare = tmp_path / "run" / "remote.git"
    pushed = subprocess.run(
        ["git", "show", "main:replies.py"], cwd=bare, capture_output=True, text=True, check=True
    ).stdout
    assert "MAX_REPLY_CHARS = 200" in pushed
    # and nothing was written into the case folder itself
    assert (tmp_path / "replies" / "service" / "replies.py").read_text() == SERVICE


def test_an_incident_matches_by_key_and_prefers_its_own_kind(tmp_path: Path) -> None:
    case = load_case(make_case(tmp_path / "replies", oracle_length=180))
    spike = anomaly(
        fingerprint="s" * 16, kind="duplicate_spike", template="Reply truncated again", count=50
    )
    cut = anomaly(
        fingerprint="c" * 16,
        kind="truncation",
        template="Reply truncated (max_chars=<NUM>)",
        count=3,
    )
    found = match_incidents(case.incidents, [spike, cut])
    assert found["reply_cut"] is cut and "upstream_down" not in found


def test_bad_case_folders_are_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="not a case folder"):
        find_cases([tmp_path])
    root = make_case(tmp_path / "replies", oracle_length=180)
    data = json.loads((root / "case.json").read_text())
    data["incidents"][0]["oracle"] = "oracle/missing.py"
    (root / "case.json").write_text(json.dumps(data))
    with pytest.raises(CaseError, match=r"oracle/missing\.py does not exist"):
        load_case(root)
    data["incidents"][0]["kind"] = "explosion"
    (root / "case.json").write_text(json.dumps(data))
    with pytest.raises(CaseError, match=r"incidents\.0\.kind"):
        load_case(root)


def test_the_lm_only_evaluation_counts_the_lms_own_fix_and_its_cost(
    tmp_path: Path, make_settings
) -> None:
    """The LM path through the whole harness (scripted server): its near-miss edit (path
    with a line number, old_text unindented) is located, applied, pushed and judged; the
    upstream outage gets no edit; requests and tokens are counted per incident."""
    from tests.fakes.openai import FakeOpenAI, chat_fields, is_fix_request

    analysis = chat_fields(
        root_cause="Replies are cut at MAX_REPLY_CHARS.",
        severity_assessment="MEDIUM",
        affected_components=["replies.py"],
        confidence=0.7,
    )

    def respond(body: dict) -> str:
        if not is_fix_request(body):
            return analysis
        user = json.dumps(body["messages"])
        edits = (
            [
                {
                    "path": "replies.py:4",
                    "old_text": "MAX_REPLY_CHARS = 100  ",
                    "new_text": "MAX_REPLY_CHARS = 400",
                }
            ]
            if "MAX_REPLY_CHARS = 100" in user
            else []
        )
        return chat_fields(
            edits=edits, reasoning="r", risk_assessment="**low**", regression_test=""
        )

    case = load_case(make_case(tmp_path / "replies", oracle_length=180))
    with FakeOpenAI() as llm:
        llm.respond_with(respond)
        settings = make_settings(
            lm="openai/fake-model",
            openai_base_url=llm.base_url,
            openai_api_key="sk-test",
            lm_max_retries=0,
            lm_only=True,
        )
        result = run_case(case, settings=settings, venv_cache=DEFAULT_VENV_CACHE)

    cut, upstream = result.rows
    assert cut.diagnosis_source == "lm" and cut.outcome == "applied" and cut.fixed is True
    assert cut.lm_requests == 2 and cut.input_tokens > 0 and cut.output_tokens > 0
    assert upstream.diagnosis_source == "lm" and upstream.edits == 0
    assert upstream.no_code_change_correct is True
