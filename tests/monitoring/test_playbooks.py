"""Offline playbooks: root causes from the evidence, and edits only where one is clearly safe."""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

from core.edits import check_edits
from core.models import FrameModel
from core.proposals import Edit
from monitoring.diagnosis import messages as msg
from monitoring.diagnosis.context import CodeContext, build_context
from monitoring.diagnosis.playbooks import run_playbook
from monitoring.diagnosis.remedies.limits import proposed_limit
from monitoring.diagnosis.repo import RepoIndex
from tests.conftest import ROOT
from tests.fakes import anomalies as A
from tests.fakes.git import make_repo

SERVICE = ROOT / "examples" / "service"


@pytest.fixture
def service(tmp_path: Path) -> RepoIndex:
    return RepoIndex(root=make_repo(tmp_path, copy_from=SERVICE).work)


def playbook(anomaly, index):
    return run_playbook(anomaly, build_context(anomaly, index), index)


def applied(index: RepoIndex, edits: list[Edit]) -> str:
    """The edited file's text after checking that the edits apply; it must parse."""
    check_edits(index.root, edits)
    [path] = {e.path for e in edits}
    text = (index.root / path).read_text()
    for edit in edits:
        text = text.replace(edit.old_text, edit.new_text, 1)
    ast.parse(text)
    return text


def repo_with(tmp_path: Path, files: dict[str, str]) -> RepoIndex:
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip())
    return RepoIndex(root=tmp_path)


# --- truncation ---------------------------------------------------------------------------


def test_truncation_raises_the_limit_where_it_is_defined(service):
    draft = playbook(A.truncation(), service)

    [edit] = draft.edits
    assert edit.path == "app.py"
    assert edit.old_text == 'MAX_TOKENS = int(os.environ.get("MAX_TOKENS", "3000"))'
    assert edit.new_text == 'MAX_TOKENS = int(os.environ.get("MAX_TOKENS", "10000"))'
    applied(service, draft.edits)
    assert "MAX_TOKENS, app.py:13" in draft.diagnosis.root_cause
    assert "8292" in draft.diagnosis.root_cause
    assert "read from the environment" in draft.risk_notes
    assert draft.risk == "LOW" and draft.diagnosis.source == "playbook"


def test_truncation_reads_the_analyzers_window_figures(service):
    details = {"limits": {"max_tokens": 3000, "needed": {"min": 3450, "max": 12_500}}}
    draft = playbook(A.truncation(details=details), service)
    assert draft.edits[0].new_text.endswith('"MAX_TOKENS", "14000"))')
    assert "up to 12500" in draft.diagnosis.root_cause


def test_truncation_finds_the_limit_whatever_it_is_called(tmp_path):
    index = repo_with(
        tmp_path,
        {
            "worker.py": """
        import logging
        log = logging.getLogger("app.llm")
        RESPONSE_BUDGET = 3_000

        def run(prompt):
            want = len(prompt) * 3
            if want > RESPONSE_BUDGET:
                log.warning("LM response truncated (max_tokens=%d, needed=%d)",
                            RESPONSE_BUDGET, want)
    """
        },
    )
    [edit] = playbook(A.truncation(), index).edits
    assert (edit.old_text, edit.new_text) == ("RESPONSE_BUDGET = 3_000", "RESPONSE_BUDGET = 10000")
    applied(index, [edit])


def test_a_limit_that_is_not_a_literal_needs_investigation(tmp_path):
    index = repo_with(
        tmp_path,
        {
            "worker.py": """
        import logging
        log = logging.getLogger("app.llm")
        LIMIT = compute_limit()

        def run(n):
            log.warning("LM response truncated (max_tokens=%d, needed=%d)", LIMIT, n)
    """
        },
    )
    draft = playbook(A.truncation(), index)
    assert draft.edits == []
    assert "LIMIT is set at worker.py:3 from `compute_limit()`" in draft.diagnosis.root_cause
    assert draft.reasoning == msg.NEEDS_INVESTIGATION


@pytest.mark.parametrize(
    ("current", "needed", "expected"),
    [
        (3000, 8292, 10000),
        (4096, None, 8192),
        (3000, 2000, 6000),
        (250, 300, 400),
        (8, 9, 10),
    ],
)
def test_proposed_limit(current, needed, expected):
    assert proposed_limit(current, needed) == expected


# --- exceptions ---------------------------------------------------------------------------


def test_keyerror_in_a_handler_gets_a_guard_with_a_clear_client_error(service):
    draft = playbook(A.keyerror(), service)

    [edit] = draft.edits
    assert edit.new_text == (
        '    if body["user_id"] not in STATS["users"]:\n'
        '        raise HTTPException(status_code=404, detail="unknown user_id")\n' + edit.old_text
    )
    applied(service, draft.edits)
    cause = draft.diagnosis.root_cause
    assert "orders() in app.py" in cause and "'ghost5187'" in cause and "19 times" in cause
    assert draft.diagnosis.affected_components == ["app.py:orders"]
    assert "404 instead of 500" in draft.risk_notes


def test_keyerror_guard_speaks_flask_when_the_file_does(tmp_path):
    index = repo_with(
        tmp_path,
        {
            "app.py": """
        from flask import Flask, abort, request
        app = Flask(__name__)
        USERS = {}

        @app.route("/orders", methods=["POST"])
        def orders():
            user = USERS[request.json["user_id"]]
            return {"user": user}
    """
        },
    )
    line = next(n for n, text in enumerate(index.lines("app.py"), 1) if "USERS[" in text)
    frames = [FrameModel(file="/srv/app.py", line=line, function="orders")]
    [edit] = playbook(A.keyerror(frames=frames), index).edits
    assert 'abort(404, description="unknown user_id")' in edit.new_text
    applied(index, [edit])


@pytest.mark.parametrize(
    "source",
    [
        # not a request handler: a 404 would be wrong there
        """
    from fastapi import HTTPException
    USERS = {}

    def helper(user_id):
        return USERS[user_id]
    """,
        # a handler, but the file has no way to raise a client error
        """
    from fastapi import FastAPI
    app = FastAPI()
    USERS = {}

    @app.get("/u/{user_id}")
    def helper(user_id):
        return USERS[user_id]
    """,
    ],
)
def test_keyerror_without_a_clearly_safe_guard_needs_investigation(tmp_path, source):
    index = repo_with(tmp_path, {"svc.py": source})
    line = next(n for n, text in enumerate(index.lines("svc.py"), 1) if "USERS[user_id]" in text)
    frames = [FrameModel(file="/app/svc.py", line=line, function="helper")]
    draft = playbook(A.keyerror(frames=frames), index)
    assert draft.edits == [] and draft.reasoning == msg.NEEDS_INVESTIGATION
    assert "svc.py" in draft.diagnosis.root_cause


def test_json_decode_error_in_a_handler_answers_422(service):
    draft = playbook(A.json_error(), service)

    assert len(draft.edits) == 1
    text = applied(service, draft.edits)
    assert "    try:\n        return json.loads(rid)" in text
    assert (
        "    except json.JSONDecodeError:\n        raise HTTPException(status_code=422, "
        'detail="rid is not valid JSON") from None'
    ) in text
    assert "report() in app.py" in draft.diagnosis.root_cause


def test_zero_division_by_a_count_answers_zero_and_names_the_divisor(service):
    draft = playbook(A.zero_division(), service)
    text = applied(service, draft.edits)
    assert (
        'return {"avg": sum(STATS["orders"]) / len(STATS["orders"]) '
        'if len(STATS["orders"]) else 0.0}'
    ) in text
    assert 'divides by `len(STATS["orders"])`' in draft.diagnosis.root_cause
    assert "(once)" in draft.diagnosis.root_cause
    assert draft.title == "Return 0.0 instead of dividing by zero in average()"


# --- log messages without a safe edit ------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (A.slow, "up to 1.20 s"),
        (A.duplicates, "retry when an event is not acknowledged"),
        (A.mcp_error, "a dependency the service calls is down or misconfigured"),
    ],
)
def test_operational_anomalies_need_investigation_and_say_where(service, make, expected):
    draft = playbook(make(), service)
    assert draft.edits == [] and draft.reasoning == msg.NEEDS_INVESTIGATION
    assert expected in draft.diagnosis.root_cause
    assert "it is written at app.py:" in draft.diagnosis.root_cause
    assert draft.diagnosis.evidence[0].startswith(f"{make().count} events of")


def test_without_a_repository_there_is_a_root_cause_but_no_edit():
    for make in (A.keyerror, A.truncation, A.slow, A.duplicates, A.mcp_error, A.zero_division):
        draft = run_playbook(make(), CodeContext(), None)
        assert draft.edits == [] and draft.diagnosis.root_cause
        assert draft.reasoning == msg.NO_REPOSITORY
